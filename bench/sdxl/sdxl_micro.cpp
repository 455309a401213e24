// Micro benchmark of single full-size SDXL modules at 512x512 shapes against a same-run sgemm
// (issue 5; not a test). Uses the random-weight checkpoint of bench/sdxl/run.sh in low-memory
// mode, so each module's time includes converting its f16 weights (reported on its own too).
// Per item: median wall and CPU (user + system, CLOCK_PROCESS_CPUTIME_ID) of --reps runs, GFLOP/s
// per wall second and per CPU second x threads (the rate an unloaded machine would show), and the
// minor page faults per run.
//
//   sdxl_micro CHECKPOINT [--threads N] [--reps 3] [--only NAME]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/sdxl/process_stats.h"
#include "labhouse/engine/internal/cpu_allocator.h"
#include "labhouse/engine/internal/torch_common.h"

namespace {

using namespace labhouse::engine;
using Clock = std::chrono::steady_clock;
using labhouse::bench::CpuSeconds;
using labhouse::bench::MinorFaults;

struct Timing {
    double wall = 0, cpu = 0;
    long faults = 0;
};

Timing Measure(int reps, const std::function<void()>& fn) {
    fn();  // warm-up (first touch of the mapped weights, allocator cache)
    std::vector<double> walls, cpus;
    const long faults = MinorFaults();
    for (int i = 0; i < reps; ++i) {
        const double cpu = CpuSeconds();
        const auto start = Clock::now();
        fn();
        walls.push_back(std::chrono::duration<double>(Clock::now() - start).count());
        cpus.push_back(CpuSeconds() - cpu);
    }
    std::sort(walls.begin(), walls.end());
    std::sort(cpus.begin(), cpus.end());
    return {walls[walls.size() / 2], cpus[cpus.size() / 2], (MinorFaults() - faults) / reps};
}

}  // namespace

using Report = std::function<void(const std::string&, double, const std::function<void()>&)>;

// One fp32 Linear four ways: ATen's (the BLAS sgemm), the engine's (blocked oneDNN), one whole
// oneDNN call, and oneDNN on a weight pre-packed once (what fast mode could keep instead).
void LinearVariants(const Report& report, const std::string& name, const at::Tensor& x, const at::Tensor& w,
                    const at::Tensor& b) {
    const at::Tensor x2 = x.reshape({-1, x.size(-1)});
    const double gflop = 2.0 * x2.size(0) * w.size(0) * w.size(1) / 1e9;
    report(name + " aten", gflop, [&] { at::linear(x, w, b); });
    report(name + " blocked", gflop, [&] { LinearFromStored(x, w, b); });
    report(name + " onednn whole", gflop, [&] { OnednnLinear(x2, w, b); });
    const at::Tensor packed = at::mkldnn_reorder_conv2d_weight(w.view({w.size(0), w.size(1), 1, 1}).to_mkldnn(),
                                                               {0, 0}, {1, 1}, {1, 1}, 1);
    const at::Tensor image = x2.view({1, 1, x2.size(0), x2.size(1)}).permute({0, 3, 1, 2});
    report(name + " onednn prepacked", gflop,
           [&] { at::mkldnn_convolution(image, packed, b, {0, 0}, {1, 1}, {1, 1}, 1); });
}

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') {
        std::fprintf(stderr, "usage: sdxl_micro CHECKPOINT [--threads N] [--reps 3] [--only NAME]\n");
        return 2;
    }
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), reps = 3;
    std::string only;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--threads") {
            threads = std::stoi(argv[i + 1]);
        } else if (arg == "--reps") {
            reps = std::max(1, std::stoi(argv[i + 1]));
        } else if (arg == "--only") {
            only = argv[i + 1];
        } else {
            std::fprintf(stderr, "unknown option %s\n", arg.c_str());
            return 2;
        }
    }
    at::set_num_threads(threads);
    if (std::getenv("LABHOUSE_NO_CACHING_ALLOCATOR") == nullptr) InstallCachingCpuAllocator(1ull << 30);
    auto source = CheckpointSource::Open(argv[1]);
    if (!source) {
        std::fprintf(stderr, "error: %s\n", source.error().message.c_str());
        return 1;
    }
    std::shared_ptr<const CheckpointSource> shared(std::move(*source));
    const WeightStore store(shared, at::kCPU, at::kFloat, false);
    c10::InferenceMode guard;
    at::manual_seed(0);
    std::printf("threads %d, reps %d (median), low-memory weights\n", threads, reps);
    std::printf("%-42s %9s %9s %9s %11s %9s\n", "item", "wall ms", "CPU ms", "GFLOP/s", "GFLOP/s/CPU", "faults");
    double sgemm_rate = 0;
    auto report = [&](const std::string& name, double gflop, const std::function<void()>& fn) {
        if (!only.empty() && name.find(only) == std::string::npos && name != "sgemm 2048^3") return;
        const Timing t = Measure(reps, fn);
        const double per_cpu = gflop > 0 ? gflop * threads / t.cpu : 0;
        if (name == "sgemm 2048^3") sgemm_rate = per_cpu;
        std::printf("%-42s %9.1f %9.1f %9.1f %11.1f %9ld", name.c_str(), t.wall * 1e3, t.cpu * 1e3,
                    gflop > 0 ? gflop / t.wall : 0.0, per_cpu, t.faults);
        if (gflop > 0 && sgemm_rate > 0) std::printf("  %3.0f%% of sgemm", 100 * per_cpu / sgemm_rate);
        std::printf("\n");
        std::fflush(stdout);
    };
    const at::Tensor a = at::randn({2048, 2048}), b = at::randn({2048, 2048});
    report("sgemm 2048^3", 2.0 * 2048 * 2048 * 2048 / 1e9, [&] { at::mm(a, b); });

    // Text encoders (77 tokens, batch 1) and what low-memory mode adds around them: mapping their
    // 1.6 GB of f16 pages in bulk before the stage and handing them back after it.
    {
        const SdxlConfig config = SdxlBaseConfig();
        const at::Tensor ids = at::randint(1, 49000, {1, 77}, at::TensorOptions().dtype(at::kLong));
        auto clip_gflop = [](const ClipTextConfig& c, int layers) {
            const double n = 77, w = c.width, mlp = c.mlp;
            return layers * 2 * (n * w * w * 4 + n * w * mlp * 2 + 2 * n * n * w) / 1e9;
        };
        // The pipeline's case: both encoders once in a fresh process (cold allocator cache, pages
        // mapped just before), as the bench's text-encoder stage runs them.
        if (only.empty() || std::string("text encoders first run").find(only) != std::string::npos) {
            const double cpu = CpuSeconds();
            const auto start = Clock::now();
            store.PopulateMapped(kClipLPrefix);
            store.PopulateMapped(kClipGPrefix);
            RunClipText(store, config.clip_l, ids);
            RunClipText(store, config.clip_g, ids);
            store.DropMapped(kClipLPrefix);
            store.DropMapped(kClipGPrefix);
            const double wall = std::chrono::duration<double>(Clock::now() - start).count();
            std::printf("%-42s %9.1f %9.1f\n", "text encoders first run", wall * 1e3, (CpuSeconds() - cpu) * 1e3);
        }
        report("populate+drop text encoder pages", 0, [&] {
            store.PopulateMapped(kClipLPrefix);
            store.PopulateMapped(kClipGPrefix);
            store.DropMapped(kClipLPrefix);
            store.DropMapped(kClipGPrefix);
        });
        store.PopulateMapped(kClipLPrefix);
        store.PopulateMapped(kClipGPrefix);
        report("clip-L text encoder 77 tokens", clip_gflop(config.clip_l, config.clip_l.layers - 1),
               [&] { RunClipText(store, config.clip_l, ids); });
        report("clip-bigG text encoder 77 tokens", clip_gflop(config.clip_g, config.clip_g.layers),
               [&] { RunClipText(store, config.clip_g, ids); });
        const W g = store.Under(kClipGPrefix).Sub("transformer.resblocks.0");
        const at::Tensor x = at::randn({1, 77, 1280}), x4 = at::randn({1, 77, 5120});
        report("linear f16 77x1280 -> 5120", 2.0 * 77 * 1280 * 5120 / 1e9, [&] { Linear(g, "mlp.c_fc", x); });
        report("linear f16 77x5120 -> 1280", 2.0 * 77 * 1280 * 5120 / 1e9, [&] { Linear(g, "mlp.c_proj", x4); });
        report("f16->f32 5120x1280 weight", 0, [&] { g("mlp.c_fc.weight"); });
        // Fast mode's case (fp32 weights): ATen's linear (its sgemm) against the blocked oneDNN
        // calls, one whole oneDNN call and one on weights pre-packed for oneDNN.
        const at::Tensor w32 = g("mlp.c_fc.weight"), b32 = g("mlp.c_fc.bias");
        LinearVariants(report, "linear f32 77x1280 -> 5120", x, w32, b32);
    }

    const W unet = store.Under(kUnetPrefix);
    const char* ff = "input_blocks.4.1.transformer_blocks.0.ff.net.0.proj.weight";
    report("f16->f32 5120x640 weight", 0, [&] { unet(ff); });
    {
        const at::Tensor x = at::randn({1, 1024, 640});
        const W block = unet.Sub("input_blocks.4.1.transformer_blocks.0");
        report("linear f16 1024x640 -> 5120", 2.0 * 1024 * 640 * 5120 / 1e9,
               [&] { Linear(block, "ff.net.0.proj", x); });
        const at::Tensor w32 = block("ff.net.0.proj.weight"), b32 = block("ff.net.0.proj.bias");
        LinearVariants(report, "linear f32 1024x640 -> 5120", x, w32, b32);
    }

    // Level-1 transformer block: 1024 tokens x 640, 10 heads, context 77 x 2048.
    {
        const double n = 1024, c = 640, ctx = 77, cd = 2048;
        const double gflop = 2 * (n * c * c * 4 + n * c * c * 2 + ctx * cd * c * 2 + n * c * 5120 + n * 2560 * c +
                                  2 * n * n * c + 2 * n * ctx * c) / 1e9;
        const at::Tensor x = at::randn({1, 1024, 640}), context = at::randn({1, 77, 2048});
        const W w = unet.Sub("input_blocks.4.1.transformer_blocks.0");
        report("unet transformer block 1024x640", gflop, [&] { RunUnetTransformerBlock(w, x, context, 10); });
    }
    {
        const double n = 256, c = 1280, ctx = 77, cd = 2048;
        const double gflop = 2 * (n * c * c * 4 + n * c * c * 2 + ctx * cd * c * 2 + n * c * 10240 + n * 5120 * c +
                                  2 * n * n * c + 2 * n * ctx * c) / 1e9;
        const at::Tensor x = at::randn({1, 256, 1280}), context = at::randn({1, 77, 2048});
        const W w = unet.Sub("input_blocks.7.1.transformer_blocks.0");
        report("unet transformer block 256x1280", gflop, [&] { RunUnetTransformerBlock(w, x, context, 20); });
    }
    {
        const double hw = 32 * 32;
        const double gflop = 2 * hw * (320.0 * 640 * 9 + 640.0 * 640 * 9 + 320.0 * 640) / 1e9;
        const at::Tensor x = at::randn({1, 320, 32, 32}).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor emb = at::randn({1, 1280});
        report("unet resblock 320->640 @32x32", gflop,
               [&] { RunUnetResBlock(unet.Sub("input_blocks.4.0"), x, emb); });
    }
    // Fast mode's question: does ATen's conv2d re-pack fp32 weights on every call, and would weights
    // pre-packed once for oneDNN (mkldnn_reorder_conv2d_weight) pay off at the UNet's sizes?
    for (auto [ch, size] : std::vector<std::pair<int, int>>{{640, 32}, {1280, 16}, {320, 64}}) {
        const double gflop = 2.0 * ch * ch * 9 * size * size / 1e9;
        const at::Tensor x = at::randn({1, ch, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor w = at::randn({ch, ch, 3, 3}) * 0.01, b = at::randn({ch});
        const std::string tag = std::to_string(ch) + "ch @" + std::to_string(size);
        report("conv3x3 " + tag + " aten", gflop, [&] { at::conv2d(x, w, b, {1, 1}, {1, 1}); });
        const at::Tensor packed = at::mkldnn_reorder_conv2d_weight(w.to_mkldnn(), {1, 1}, {1, 1}, {1, 1}, 1);
        report("conv3x3 " + tag + " prepacked", gflop,
               [&] { at::mkldnn_convolution(x, packed, b, {1, 1}, {1, 1}, {1, 1}, 1); });
        if (!only.empty() && ("conv3x3 " + tag + " prepacked").find(only) == std::string::npos) continue;
        const at::Tensor diff =
            at::mkldnn_convolution(x, packed, b, {1, 1}, {1, 1}, {1, 1}, 1) - at::conv2d(x, w, b, {1, 1}, {1, 1});
        std::printf("  prepacked vs aten max |diff| %.2e\n", diff.abs().max().item<double>());
    }

    const W vae = store.Under(kVaePrefix);
    for (auto [name, prefix, ch, size] : std::vector<std::tuple<std::string, std::string, int, int>>{
             {"vae resnet 512ch @64x64", "decoder.mid.block_1", 512, 64},
             {"vae resnet 256ch @256x256", "decoder.up.1.block.1", 256, 256},
             {"vae resnet 128ch @512x512", "decoder.up.0.block.1", 128, 512}}) {
        const double gflop = 2.0 * 2 * ch * ch * 9 * size * size / 1e9;
        const at::Tensor x =
            at::randn({1, ch, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
        report(name, gflop, [&, prefix = prefix] { RunVaeResnetBlock(vae.Sub(prefix), x); });
    }
    {
        const at::Tensor x = at::randn({1, 128, 512, 512}).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor g = at::ones({128}), be = at::zeros({128});
        report("groupnorm+silu 128ch @512x512", 0, [&] { GroupNormAct(x, g, be, 1e-6, true); });
        report("aten group_norm+silu 128 @512", 0, [&] { at::silu(at::group_norm(x, 32, g, be, 1e-6)); });
    }
    for (auto [heads, n, d] : std::vector<std::tuple<int, int, int>>{{10, 1024, 64}, {1, 4096, 512}}) {
        const at::Tensor q = at::randn({1, heads, n, d}), k = at::randn({1, heads, n, d}), v = at::randn({1, heads, n, d});
        report("attention " + std::to_string(heads) + "x" + std::to_string(n) + "x" + std::to_string(d),
               4.0 * heads * n * n * d / 1e9, [&] { Attention(q, k, v); });
    }
    const CpuAllocatorStats stats = GetCpuAllocatorStats();
    std::printf("allocator: %llu hits, %llu misses, %.2f GB cached\n", static_cast<unsigned long long>(stats.hits),
                static_cast<unsigned long long>(stats.misses), stats.cached_bytes / 1e9);
    return 0;
}
