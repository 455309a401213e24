// `labhouse transform` and `labhouse models make-tiny` (issue 4). Images are read and written with
// OpenCV here; the engine itself only sees labhouse::Image (8-bit RGB).
#include "labhouse/engine/cli/engine_commands.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/vae_tiling.h"

namespace labhouse::engine {
namespace {

std::atomic<bool> g_cancel_requested{false};

void OnInterrupt(int) {
    g_cancel_requested.store(true);
}

[[noreturn]] void Fail(const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

struct TransformArgs {
    std::string model;
    std::string input;
    std::string prompt;
    std::string negative_prompt;
    double strength = 0.5;
    int steps = 2;
    double guidance = 0.0;
    std::uint64_t seed = 0;
    std::string sampler = "euler_a";
    std::string spacing;
    std::string rng = "cuda";
    std::string size;
    std::string tokenizer;
    std::string out;
    std::string device = "cpu";
    int threads = 0;
    int vae_tile = kVaeTileAuto;
    std::string taesd;
    std::string decoder = "vae";
    bool fast = false;
    bool hash_model = false;
    bool quiet = false;
};

bool ParseSize(const std::string& text, int* width, int* height) {
    const auto x = text.find_first_of("xX");
    if (x == std::string::npos) return false;
    try {
        std::size_t used = 0;
        *width = std::stoi(text.substr(0, x), &used);
        if (used != x) return false;
        *height = std::stoi(text.substr(x + 1), &used);
        return used == text.size() - x - 1 && *width > 0 && *height > 0;
    } catch (const std::exception&) {
        return false;
    }
}

// One line, rewritten in place: "[unet] step 2/4 [##########----------] 31.2 s/step, ETA 62 s".
void PrintProgress(const std::string& stage, int step, int total, double seconds) {
    constexpr int kBar = 20;
    const int filled = total > 0 ? step * kBar / total : kBar;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kBar - filled), '-');
    std::fprintf(stderr, "\r[%-13s] step %d/%d [%s] %.2f s/step, ETA %.0f s   ", stage.c_str(), step, total,
                 bar.c_str(), seconds, seconds * (total - step));
    if (step == total) std::fputc('\n', stderr);
    std::fflush(stderr);
}

void RunTransform(const TransformArgs& a) {
    namespace fs = std::filesystem;
    if (!fs::exists(a.model))
        Fail("model '" + a.model + "' does not exist (a .safetensors file or a diffusers folder)");
    if (!fs::is_regular_file(a.input)) Fail("input image '" + a.input + "' does not exist");
    if (a.out.empty()) Fail("--out is required");
    const std::string ext = fs::path(a.out).extension().string();
    if (!cv::haveImageWriter(a.out)) Fail("cannot write images with extension '" + ext + "' (use .png or .jpg)");
    int width = 0, height = 0;
    if (!a.size.empty() && !ParseSize(a.size, &width, &height))
        Fail("--size must look like 512x512, got '" + a.size + "'");
    if (auto tile = ValidateVaeTile(a.vae_tile); !tile) Fail("--vae-tile: " + tile.error().message);  // before loading
    if (a.decoder != "vae" && a.decoder != "taesd") Fail("--decoder must be vae or taesd, got '" + a.decoder + "'");
    if (a.decoder == "taesd" && a.taesd.empty()) Fail("--decoder taesd needs --taesd FILE (labhouse models pull taesdxl)");
    if (!a.taesd.empty() && !fs::is_regular_file(a.taesd)) Fail("TAESD file '" + a.taesd + "' does not exist");
    auto tokenizer_dir = FindTokenizerDir(a.model, a.tokenizer);
    if (!tokenizer_dir) Fail(tokenizer_dir.error().message);

    cv::Mat bgr = cv::imread(a.input, cv::IMREAD_COLOR);
    if (bgr.empty()) Fail("cannot decode image '" + a.input + "'");

    SdxlLoadOptions options;
    options.device = a.device;
    options.threads = a.threads;
    options.weight_mode = a.fast ? WeightMode::kFast : WeightMode::kLowMemory;
    options.hash_model = a.hash_model;
    options.vae_tile = a.vae_tile;
    options.taesd_path = a.taesd;
    if (!a.quiet) std::fprintf(stderr, "loading %s ...\n", a.model.c_str());
    auto pipeline = SdxlPipeline::Load(a.model, *tokenizer_dir, options);
    if (!pipeline) Fail(pipeline.error().message);
    const int multiple = (*pipeline)->size_multiple();
    if (width == 0) {
        // Default: the input's size rounded down to the model's size multiple.
        width = std::max(multiple, bgr.cols / multiple * multiple);
        height = std::max(multiple, bgr.rows / multiple * multiple);
    }
    if (bgr.cols != width || bgr.rows != height) {
        cv::resize(bgr, bgr, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    Image image;
    image.width = rgb.cols;
    image.height = rgb.rows;
    image.rgb.assign(rgb.data, rgb.data + image.ByteSize());

    SdxlRequest request;
    request.init_image = &image;
    request.prompt = a.prompt;
    request.negative_prompt = a.negative_prompt;
    request.strength = a.strength;
    request.steps = a.steps;
    request.guidance = a.guidance;
    request.seed = a.seed;
    request.sampler = a.sampler;
    request.spacing = a.spacing;
    request.rng = a.rng;
    request.width = width;
    request.height = height;
    request.decoder = a.decoder;
    g_cancel_requested.store(false);
    auto previous = std::signal(SIGINT, OnInterrupt);  // Ctrl-C cancels between steps
    auto result =
        (*pipeline)->Generate(request, a.quiet ? SdxlProgressFn() : SdxlProgressFn(PrintProgress), &g_cancel_requested);
    std::signal(SIGINT, previous);
    if (!result) Fail(result.error().message);

    cv::Mat out_rgb(result->image.height, result->image.width, CV_8UC3, result->image.rgb.data());
    cv::Mat out_bgr;
    cv::cvtColor(out_rgb, out_bgr, cv::COLOR_RGB2BGR);
    bool written = false;
    try {
        written = cv::imwrite(a.out, out_bgr);
    } catch (const cv::Exception& e) {
        Fail("cannot write '" + a.out + "': " + e.what());
    }
    if (!written) Fail("cannot write '" + a.out + "'");
    if (!a.quiet) {
        for (const auto& [key, value] : result->meta) std::fprintf(stderr, "%s: %s\n", key.c_str(), value.c_str());
        std::fprintf(stderr, "wrote %s\n", a.out.c_str());
    }
}

}  // namespace

void AddTransformCommand(CLI::App& app) {
    auto args = std::make_shared<TransformArgs>();
    CLI::App* cmd = app.add_subcommand("transform", "Run SDXL / SDXL-Turbo img2img on a photo with the native engine");
    cmd->add_option("--model", args->model, "SDXL single-file checkpoint (.safetensors) or diffusers folder")
        ->required();
    cmd->add_option("--input", args->input, "Input image (jpg, png, ...)")->required();
    cmd->add_option("--prompt", args->prompt, "Prompt")->required();
    cmd->add_option("--negative-prompt", args->negative_prompt, "Negative prompt (used when --guidance > 1)");
    cmd->add_option("--strength", args->strength, "img2img strength in (0, 1]: the last int(steps*strength) steps run")
        ->capture_default_str();
    cmd->add_option("--steps", args->steps, "Sampling steps of the full schedule")->capture_default_str();
    cmd->add_option("--guidance", args->guidance, "CFG scale; <= 1 disables CFG (Turbo)")->capture_default_str();
    cmd->add_option("--seed", args->seed, "Seed")->capture_default_str();
    cmd->add_option("--sampler", args->sampler, "euler, euler_a, dpmpp_2m")->capture_default_str();
    cmd->add_option("--spacing", args->spacing, "trailing, leading, normal, karras (default: per sampler)");
    cmd->add_option("--rng", args->rng, "cuda (Philox, as A1111/sd.cpp) or cpu (torch CPU generator)")
        ->capture_default_str();
    cmd->add_option("--size", args->size, "Output size WxH (multiples of 32); default: the input's size");
    cmd->add_option("--tokenizer", args->tokenizer,
                    "Directory with vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz");
    cmd->add_option("--out", args->out, "Output image (.png or .jpg)")->required();
    cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
    cmd->add_option("--threads", args->threads, "Intra-op threads (0 = all cores)");
    cmd->add_option("--vae-tile", args->vae_tile,
                    "VAE tiles of at most N px (multiple of 64, 256..4096); 0 = auto (512 px above 1024x1024), "
                    "-1 = off")
        ->capture_default_str();
    cmd->add_option("--taesd", args->taesd, "TAESDXL decoder (.safetensors; labhouse models pull taesdxl)");
    cmd->add_option("--decoder", args->decoder, "vae (the SDXL VAE) or taesd (TAESDXL: fast, softer detail)")
        ->capture_default_str();
    cmd->add_flag("--fast", args->fast, "Convert all weights to fp32 at load (2x the memory of the f16 file)");
    cmd->add_flag("--hash-model", args->hash_model,
                  "Put the checkpoint's SHA-256 in the printed record (reads it once)");
    cmd->add_flag("--quiet", args->quiet, "No progress output");
    cmd->callback([args] { RunTransform(*args); });
}

void AddMakeTinyCommand(CLI::App& models_subcommand) {
    auto out = std::make_shared<std::string>();
    CLI::App* cmd = models_subcommand.add_subcommand(
        "make-tiny", "Write a tiny random-weight SDXL checkpoint (single-file layout) and its tokenizer files");
    cmd->add_option("--out", *out, "Output directory")->required();
    cmd->callback([out] {
        auto path = WriteTinySdxlModel(*out);
        if (!path) Fail(path.error().message);
        std::printf("%s\n", path->c_str());
    });
}

}  // namespace labhouse::engine
