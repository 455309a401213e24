// VAE tiling benchmark (issue 5; not a test): the SDXL VAE alone on the full-size random-weight
// checkpoint, encode then decode of one SIZE x SIZE image, tiled or not, and per stage: wall and
// CPU seconds (user + system), the stage's peak RSS and what it added to the RSS before it, and
// minor page faults. The peak is the kernel's VmHWM, reset before each stage (/proc/self/clear_refs
// "5"), so encode and decode are measured apart in one process; the allocator cache is emptied
// between them. Run tiled and untiled in separate processes (bench/sdxl/run.sh --vae-tiling) so
// neither inherits the other's pages.
//
//   sdxl_vae_bench CHECKPOINT [--size 1024] [--vae-tile N] [--threads N] [--fast]
//
// --vae-tile as SdxlLoadOptions::vae_tile: 0 = auto, -1 = off, N = tiles of at most N px.

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "bench/sdxl/process_stats.h"
#include "labhouse/engine/internal/cpu_allocator.h"
#include "labhouse/engine/internal/tiling.h"
#include "labhouse/engine/internal/torch_common.h"

namespace {

using namespace labhouse::engine;
using Clock = std::chrono::steady_clock;
using labhouse::bench::CpuSeconds;
using labhouse::bench::MinorFaults;
using labhouse::bench::StatusGb;

// Resets VmHWM to the current RSS (Linux >= 4.0), so the next reading is this stage's peak.
bool ResetPeakRss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return static_cast<bool>(clear.flush());
}

int Usage() {
    std::fprintf(stderr, "usage: sdxl_vae_bench CHECKPOINT [--size PX] [--vae-tile N] [--threads N] [--fast]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') return Usage();
    const std::string checkpoint = argv[1];
    int size = 1024, vae_tile = kVaeTileAuto, threads = 0;
    bool fast = false;
    try {
        for (int i = 2; i < argc; ++i) {
            const std::string arg = argv[i];
            const bool has_value = i + 1 < argc;
            if (arg == "--size" && has_value)
                size = std::stoi(argv[++i]);
            else if (arg == "--vae-tile" && has_value)
                vae_tile = std::stoi(argv[++i]);
            else if (arg == "--threads" && has_value)
                threads = std::stoi(argv[++i]);
            else if (arg == "--fast")
                fast = true;
            else
                return Usage();
        }
    } catch (const std::exception&) {
        return Usage();
    }
    if (auto valid = ValidateVaeTile(vae_tile); !valid) {
        std::fprintf(stderr, "error: %s\n", valid.error().message.c_str());
        return 2;
    }
    if (size < 64 || size > 4096 || size % 64 != 0) {
        std::fprintf(stderr, "error: --size must be a multiple of 64 from 64 to 4096\n");
        return 2;
    }
    auto source = CheckpointSource::Open(checkpoint);
    if (!source) {
        std::fprintf(stderr, "error: %s (write it with sdxl_bench first)\n", source.error().message.c_str());
        return 1;
    }
    std::shared_ptr<const CheckpointSource> file(std::move(*source));
    auto config = DetectSdxlConfig(file->tensors());
    if (!config) {
        std::fprintf(stderr, "error: %s\n", config.error().message.c_str());
        return 1;
    }
    // As SdxlPipeline::Load sets up the CPU: threads, the caching allocator and its bound per mode.
    const int threads_used = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads_used);
    InstallCachingCpuAllocator(fast ? (2ull << 30) : (1ull << 30));
    c10::InferenceMode guard;
    const WeightStore weights(file, at::kCPU, at::kFloat, fast);
    const VaeTiling tiling = ResolveVaeTiling(vae_tile, size, size);
    const int f = config->vae.downscale();
    std::printf("VAE %dx%d, %d threads, weights %s, vae_tile %d -> %s (grid %s), RSS at start %.2f GB\n", size, size,
                threads_used, fast ? "fast" : "low_memory", vae_tile, tiling.Describe().c_str(),
                VaeTileGrid(tiling, size, size, f).c_str(), StatusGb("VmRSS"));

    // A smooth image in [-1, 1]: the values do not change the arithmetic.
    at::Tensor ramp = at::linspace(-1.0, 1.0, size, at::TensorOptions().dtype(at::kFloat));
    at::Tensor image = at::stack({ramp.view({1, size}).expand({size, size}), ramp.view({size, 1}).expand({size, size}),
                                  at::zeros({size, size})})
                           .unsqueeze(0)
                           .contiguous();
    struct Row {
        const char* stage;
        double wall, cpu, peak, before;
        long faults;
    };
    auto measure = [&](const char* stage, const std::function<at::Tensor()>& fn, at::Tensor* out) {
        ReleaseCachedCpuMemory();
        const double before = StatusGb("VmRSS");
        const bool reset = ResetPeakRss();
        const double cpu = CpuSeconds();
        const long faults = MinorFaults();
        const auto start = Clock::now();
        *out = fn();
        const double wall = std::chrono::duration<double>(Clock::now() - start).count();
        const Row row{stage, wall, CpuSeconds() - cpu, reset ? StatusGb("VmHWM") : -1.0, before, MinorFaults() - faults};
        std::printf("  [%s] %.2f s (CPU %.1f s)\n", stage, row.wall, row.cpu);
        std::fflush(stdout);
        return row;
    };
    at::Tensor moments, decoded;
    const Row enc = measure(
        "vae_encode", [&] { return RunVaeEncoderTiled(weights, config->vae, image, tiling); }, &moments);
    const at::Tensor z = moments.narrow(1, 0, config->vae.z_channels).contiguous();  // the posterior mean
    const Row dec = measure(
        "vae_decode", [&] { return RunVaeDecoderTiled(weights, config->vae, z, tiling); }, &decoded);
    if (!at::isfinite(decoded).all().item<bool>()) {
        std::fprintf(stderr, "error: the decoded image is not finite\n");
        return 1;
    }
    std::printf("| stage | vae_tile | grid | wall s | CPU s | peak RSS GB | RSS before GB | peak - before GB | minor faults |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const Row& r : {enc, dec}) {
        std::printf("| %s | %s | %s | %.1f | %.1f | %.2f | %.2f | %.2f | %ld |\n", r.stage, tiling.Describe().c_str(),
                    VaeTileGrid(tiling, size, size, f).c_str(), r.wall, r.cpu, r.peak, r.before, r.peak - r.before,
                    r.faults);
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("  process peak RSS %.2f GB\n", usage.ru_maxrss / 1024.0 / 1024.0);
    return 0;
}
