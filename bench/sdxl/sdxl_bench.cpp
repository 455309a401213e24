// SDXL engine benchmark (issue 4; not a test): writes a full-size random-weight SDXL checkpoint in
// the single-file layout (f16, ~7 GB; the arithmetic does not depend on the values) if it is not
// there yet, then runs one 512x512 SDXL-Turbo img2img end to end (2 steps x strength 0.5 = one
// UNet pass, no CFG) and prints per-stage seconds, GFLOP/s against the reference FLOP counts
// (sdxl-reference.md section 8.2) and peak RSS.
//
//   sdxl_bench /data/sdxl-random-f16.safetensors [--steps 2] [--strength 0.5] [--size 512]
//              [--threads N] [--fast] [--runs 1]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/tiny_model.h"

namespace {

using labhouse::engine::SdxlPipeline;
using Clock = std::chrono::steady_clock;

double PeakRssGb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024.0 / 1024.0;  // ru_maxrss is in KiB on Linux
}

// User + system CPU seconds of this process: on a shared machine the wall time of a stage depends
// on the other load, its CPU time much less.
double CpuSeconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

double CurrentRssGb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0 / 1024.0;
    }
    return 0;
}

int Usage() {
    std::fprintf(
        stderr,
        "usage: sdxl_bench CHECKPOINT [--steps N] [--strength S] [--size PX] [--threads N] [--fast] [--runs N]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') return Usage();
    const std::string checkpoint = argv[1];
    int steps = 2, size = 512, threads = 0, runs = 1;
    double strength = 0.5;
    bool fast = false;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (arg == "--steps")
            steps = std::stoi(next());
        else if (arg == "--strength")
            strength = std::stod(next());
        else if (arg == "--size")
            size = std::stoi(next());
        else if (arg == "--threads")
            threads = std::stoi(next());
        else if (arg == "--runs")
            runs = std::stoi(next());
        else if (arg == "--fast")
            fast = true;
        else
            return Usage();
    }
    namespace fs = std::filesystem;
    const std::string dir =
        fs::path(checkpoint).parent_path().empty() ? "." : fs::path(checkpoint).parent_path().string();
    if (!fs::exists(checkpoint)) {
        std::printf("writing full-size random-weight SDXL checkpoint (f16) to %s ...\n", checkpoint.c_str());
        std::fflush(stdout);
        const auto start = Clock::now();
        fs::create_directories(dir);
        auto status = labhouse::engine::WriteRandomCheckpoint(checkpoint, labhouse::engine::SdxlBaseConfig(),
                                                              labhouse::engine::DType::kF16, 1);
        if (!status) {
            std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
            return 1;
        }
        std::printf("  written in %.1f s, %.2f GB\n", std::chrono::duration<double>(Clock::now() - start).count(),
                    fs::file_size(checkpoint) / 1e9);
    }
    if (!fs::exists(fs::path(dir) / "vocab.json")) {
        // The tiny vocabulary's ids all fit the full 49,408-row embeddings; token values do not change the cost.
        auto vocab = labhouse::engine::WriteTinyTokenizer(dir);
        if (!vocab) {
            std::fprintf(stderr, "error: %s\n", vocab.error().message.c_str());
            return 1;
        }
    }

    const int threads_used = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    labhouse::engine::SdxlLoadOptions options;
    options.threads = threads;
    options.weight_mode = fast ? labhouse::engine::WeightMode::kFast : labhouse::engine::WeightMode::kLowMemory;
    auto load_start = Clock::now();
    auto pipeline = SdxlPipeline::Load(checkpoint, dir, options);
    if (!pipeline) {
        std::fprintf(stderr, "error: %s\n", pipeline.error().message.c_str());
        return 1;
    }
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
    std::printf("model: %s\nload: %.2f s (mode %s), RSS after load %.2f GB\n", (*pipeline)->Describe().c_str(), load_s,
                fast ? "fast" : "low_memory", CurrentRssGb());

    labhouse::Image image = labhouse::Image::Filled(size, size, 0, 0, 0);
    for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
            std::uint8_t* p = image.Pixel(x, y);
            p[0] = static_cast<std::uint8_t>(x * 255 / size);
            p[1] = static_cast<std::uint8_t>(y * 255 / size);
            p[2] = 128;
        }
    }
    labhouse::engine::SdxlRequest request;
    request.init_image = &image;
    request.prompt = "a photo of a cat in the style of van gogh";
    request.steps = steps;
    request.strength = strength;
    request.guidance = 0.0;  // Turbo: no CFG
    request.sampler = "euler_a";
    request.seed = 0;
    // Reference FLOPs at 512x512, batch 1 (sdxl-reference.md 8.2): TFLOP per stage.
    const bool at_512 = size == 512;
    const std::map<std::string, double> tflop = {{"seconds_text_encoders", 0.111},
                                                 {"seconds_vae_encode", 1.12},
                                                 {"seconds_unet_step_1", 1.59},
                                                 {"seconds_vae_decode", 2.51}};
    for (int run = 1; run <= runs; ++run) {
        double cpu_mark = CpuSeconds();
        auto wall_mark = Clock::now();
        double cpu_total = 0, wall_total = 0;
        auto result = (*pipeline)->Generate(
            request,
            [&](const std::string& stage, int step, int total, double secs) {
                // Each report ends a stage (or a UNet step): CPU and wall time since the previous one.
                const double cpu = CpuSeconds() - cpu_mark;
                const double wall = std::chrono::duration<double>(Clock::now() - wall_mark).count();
                cpu_total += cpu;
                wall_total += wall;
                std::printf("  [%s] %d/%d %.2f s (CPU %.1f s, %.0f%% of the %d thread(s)' share)\n", stage.c_str(), step,
                            total, secs, cpu, wall > 0 ? 100.0 * cpu / (wall * threads_used) : 0.0, threads_used);
                std::fflush(stdout);
                cpu_mark = CpuSeconds();
                wall_mark = Clock::now();
            },
            nullptr);
        if (!result) {
            std::fprintf(stderr, "error: %s\n", result.error().message.c_str());
            return 1;
        }
        std::printf("run %d: %dx%d img2img, steps %d, strength %.2f -> %s UNet pass(es)\n", run, size, size, steps,
                    strength, result->meta.at("steps_run").c_str());
        for (const auto& [key, value] : result->meta) {
            if (key.rfind("seconds_", 0) != 0) continue;
            const double secs = std::stod(value);
            auto it = tflop.find(key);
            if (at_512 && it != tflop.end() && secs > 0) {
                std::printf("  %-24s %8.2f s  %6.1f GFLOP/s\n", key.c_str() + 8, secs, it->second * 1000 / secs);
            } else {
                std::printf("  %-24s %8.2f s\n", key.c_str() + 8, secs);
            }
        }
        std::printf("  CPU %.1f s over %.1f s wall (%.0f%% of %d threads)\n", cpu_total, wall_total,
                    wall_total > 0 ? 100.0 * cpu_total / (wall_total * threads_used) : 0.0, threads_used);
        std::printf("  peak RSS %.2f GB\n", PeakRssGb());
    }
    return 0;
}
