// SDXL engine benchmark (issues 4 and 5; not a test): writes a full-size random-weight SDXL
// checkpoint in the single-file layout (f16, ~7 GB; the arithmetic does not depend on the values)
// if it is not there yet, then runs one 512x512 SDXL-Turbo img2img end to end (2 steps x strength
// 0.5 = one UNet pass, no CFG) and prints per stage: wall and CPU seconds (user + system), GFLOP/s
// against the reference FLOP counts (sdxl-reference.md section 8.2) per wall second and per CPU
// second x threads (what an unloaded machine would show), each as a fraction of a 2048^3 sgemm
// measured the same way in the same run, and minor page faults; then end to end and peak RSS.
//
//   sdxl_bench /data/sdxl-random-f16.safetensors [--steps 2] [--strength 0.5] [--size 512]
//              [--threads N] [--fast] [--runs 1] [--decoder vae|taesd] [--vae-tile N]
//
// --decoder taesd decodes with TAESDXL instead of the SDXL VAE (random weights of its architecture,
// written beside the checkpoint as taesdxl-random-f16.safetensors); its GFLOP/s use the FLOPs of
// its own convolutions. --vae-tile sets SdxlLoadOptions::vae_tile (0 auto, -1 off, N px); the VAE
// stages alone, tiled against untiled, are timed by sdxl_vae_bench (run.sh --vae-tiling).

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/sdxl/process_stats.h"
#include "bench/sdxl/sgemm_probe.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/taesd_architecture.h"
#include "labhouse/engine/tiny_model.h"

namespace {

using labhouse::engine::SdxlPipeline;
using Clock = std::chrono::steady_clock;
using labhouse::bench::CpuSeconds;
using labhouse::bench::MinorFaults;
using labhouse::bench::PeakRssGb;

int Usage() {
    std::fprintf(
        stderr,
        "usage: sdxl_bench CHECKPOINT [--steps N] [--strength S] [--size PX] [--threads N] [--fast] [--runs N] "
        "[--decoder vae|taesd] [--vae-tile N]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') return Usage();
    const std::string checkpoint = argv[1];
    int steps = 2, size = 512, threads = 0, runs = 1;
    double strength = 0.5;
    bool fast = false;
    std::string decoder = "vae";
    int vae_tile = 0;
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
        else if (arg == "--decoder" && i + 1 < argc)
            decoder = next();
        else if (arg == "--vae-tile" && i + 1 < argc)
            vae_tile = std::stoi(next());  // Load validates it
        else
            return Usage();
    }
    if (decoder != "vae" && decoder != "taesd") return Usage();
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

    const std::string taesd_path = (fs::path(dir) / "taesdxl-random-f16.safetensors").string();
    if (decoder == "taesd" && !fs::exists(taesd_path)) {
        auto status = labhouse::engine::WriteRandomTaesdDecoder(taesd_path, labhouse::engine::DType::kF16, 1);
        if (!status) {
            std::fprintf(stderr, "error: %s\n", status.error().message.c_str());
            return 1;
        }
    }

    const int threads_used = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    labhouse::engine::SdxlLoadOptions options;
    options.threads = threads;
    options.weight_mode = fast ? labhouse::engine::WeightMode::kFast : labhouse::engine::WeightMode::kLowMemory;
    if (decoder == "taesd") options.taesd_path = taesd_path;
    options.vae_tile = vae_tile;
    auto load_start = Clock::now();
    auto pipeline = SdxlPipeline::Load(checkpoint, dir, options);
    if (!pipeline) {
        std::fprintf(stderr, "error: %s\n", pipeline.error().message.c_str());
        return 1;
    }
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
    std::printf("model: %s\nload: %.2f s (mode %s), RSS after load %.2f GB\n", (*pipeline)->Describe().c_str(), load_s,
                fast ? "fast" : "low_memory", labhouse::bench::StatusGb("VmRSS"));

    const labhouse::bench::SgemmRate sgemm = labhouse::bench::MeasureSgemm(threads_used);
    std::printf("sgemm 2048^3 (median of 3): %.1f GFLOP/s wall, %.1f GFLOP/s per CPU second x %d threads\n",
                sgemm.per_wall, sgemm.per_cpu, threads_used);

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
    request.decoder = decoder;
    // Reference FLOPs at 512x512, batch 1 (sdxl-reference.md 8.2): TFLOP per stage.
    const bool at_512 = size == 512;
    // TAESD: counted from its layer list (0.141 TFLOP at 512x512).
    labhouse::engine::TaesdDecoderLayout taesd_layout;
    const double decode_tflop =
        decoder == "taesd" ? labhouse::engine::TaesdDecoderFlops(taesd_layout, size / 8, size / 8) / 1e12 : 2.51;
    const std::map<std::string, double> tflop = {{"seconds_text_encoders", 0.111},
                                                 {"seconds_vae_encode", 1.12},
                                                 {"seconds_unet_step_1", 1.59},
                                                 {"seconds_vae_decode", decode_tflop}};
    for (int run = 1; run <= runs; ++run) {
        struct Stage {
            std::string name;
            double wall, cpu;
            long faults;
        };
        std::vector<Stage> stages;
        double cpu_mark = CpuSeconds();
        long fault_mark = MinorFaults();
        auto wall_mark = Clock::now();
        auto result = (*pipeline)->Generate(
            request,
            [&](const std::string& stage, int step, int total, double) {
                // Each report ends a stage (or a UNet step): CPU and wall time since the previous one.
                const double wall = std::chrono::duration<double>(Clock::now() - wall_mark).count();
                const std::string name = stage == "unet" ? "unet_step_" + std::to_string(step) : stage;
                stages.push_back({name, wall, CpuSeconds() - cpu_mark, MinorFaults() - fault_mark});
                std::printf("  [%s] %d/%d %.2f s (CPU %.1f s)\n", stage.c_str(), step, total, wall, stages.back().cpu);
                std::fflush(stdout);
                cpu_mark = CpuSeconds();
                fault_mark = MinorFaults();
                wall_mark = Clock::now();
            },
            nullptr);
        if (!result) {
            std::fprintf(stderr, "error: %s\n", result.error().message.c_str());
            return 1;
        }
        std::printf("run %d: %dx%d img2img, steps %d, strength %.2f -> %s UNet pass(es), mode %s, decoder %s, "
                    "vae_tile %s\n",
                    run, size, size, steps, strength, result->meta.at("steps_run").c_str(),
                    fast ? "fast" : "low_memory", decoder.c_str(), result->meta.at("vae_tile").c_str());
        std::printf("| stage | wall s | CPU s | GFLOP/s (wall) | of sgemm | GFLOP/s (CPU x %d) | of sgemm | minor faults |\n",
                    threads_used);
        std::printf("|---|---|---|---|---|---|---|---|\n");
        double wall_total = 0, cpu_total = 0;
        long faults_total = 0;
        for (const Stage& st : stages) {
            wall_total += st.wall;
            cpu_total += st.cpu;
            faults_total += st.faults;
            const std::string key = st.name.rfind("unet_step_", 0) == 0 ? "seconds_unet_step_1" : "seconds_" + st.name;
            auto it = tflop.find(key);
            if (at_512 && it != tflop.end() && st.wall > 0 && st.cpu > 0) {
                const double gw = it->second * 1000 / st.wall, gc = it->second * 1000 * threads_used / st.cpu;
                std::printf("| %s | %.1f | %.1f | %.1f | %.0f%% | %.1f | %.0f%% | %ld |\n", st.name.c_str(), st.wall,
                            st.cpu, gw, 100 * gw / sgemm.per_wall, gc, 100 * gc / sgemm.per_cpu, st.faults);
            } else {
                std::printf("| %s | %.1f | %.1f | | | | | %ld |\n", st.name.c_str(), st.wall, st.cpu, st.faults);
            }
        }
        std::printf("| end to end | %.1f | %.1f | | | | | %ld |\n", wall_total, cpu_total, faults_total);
        std::printf("  CPU %.1f s over %.1f s wall (%.0f%% of %d threads); peak RSS %.2f GB\n", cpu_total, wall_total,
                    wall_total > 0 ? 100.0 * cpu_total / (wall_total * threads_used) : 0.0, threads_used, PeakRssGb());
        std::fflush(stdout);
    }
    return 0;
}
