// Public API of the native SDXL / SDXL-Turbo engine (libtorch inside, no torch in this header).
//
//   auto pipeline = SdxlPipeline::Load("sd_xl_turbo_1.0_fp16.safetensors", "tokenizer_dir", {});
//   SdxlRequest request;  request.init_image = &photo;  request.prompt = "...";
//   auto result = (*pipeline)->Generate(request, on_progress, &cancel_flag);
//
// Errors never escape as exceptions: every torch/c10 failure becomes a labhouse::Error.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"

namespace labhouse::engine {

// 0.2: prompts over 75 tokens are encoded in chunks (0.1 truncated them).
// 0.3: A1111 emphasis syntax, `(words:1.2)`, `[words]`, BREAK (0.2 read brackets as text).
inline constexpr const char* kEngineVersion = "labhouse-sdxl-0.3";
inline constexpr const char* kTinyModelFileName = "tiny-sdxl.safetensors";

enum class WeightMode {
    kLowMemory,  // weights stay in the file's dtype (f16/bf16, memory-mapped); converted to fp32 per layer
    kFast,       // all weights converted to the compute dtype once at load (fp32 on CPU: 2x the file size)
};

struct SdxlLoadOptions {
    std::string device = "cpu";  // "cpu" or "cuda" / "cuda:N" (needs a CUDA-enabled libtorch)
    WeightMode weight_mode = WeightMode::kLowMemory;
    int threads = 0;  // intra-op threads; 0 = all cores
    // VAE tiling (vae_tiling.h): 0 = auto (tiles of 512 px above 1024x1024 pixels), -1 = never,
    // N = tiles of at most N px (a multiple of 64, 256..4096). Load refuses other values.
    int vae_tile = 0;
    // SHA-256 of the checkpoint file(s) into every result's meta ("model_sha256"); reads the whole
    // file once at load (~20 s for 7 GB), so it is opt-in.
    bool hash_model = false;
    // A TAESD(XL) decoder file (diffusers `diffusion_pytorch_model.safetensors` of madebyollin/taesdxl
    // or `taesdxl_decoder.safetensors`); empty = none. Enables SdxlRequest::decoder = "taesd" and
    // previews. Its weights are converted to fp32 at load (~10 MB).
    std::string taesd_path;
};

// A preview of the image being made, after a sampling step (TAESD decode of that step's
// prediction of the clean image, at the request's size).
using SdxlPreviewFn = std::function<void(int step, int total, const Image& preview)>;

struct SdxlRequest {
    const Image* init_image = nullptr;  // null = txt2img
    std::string prompt;
    std::string negative_prompt;
    double strength = 0.5;  // img2img: the last int(steps * strength) steps of the schedule run
    int steps = 2;
    double guidance = 0.0;  // classifier-free guidance scale; <= 1 disables CFG (Turbo)
    std::uint64_t seed = 0;
    std::string sampler = "euler_a";  // euler, euler_a, dpmpp_2m
    std::string spacing = "";         // trailing, leading, normal, karras; "" = sampler default
    std::string rng = "cuda";         // cuda (Philox, as A1111/sd.cpp) or cpu (torch CPU generator)
    int width = 0;                    // 0 = the init image's size (txt2img: 512)
    int height = 0;
    // The final decode: "vae" (the SDXL VAE, the reference quality) or "taesd" (the tiny decoder:
    // ~1/18 of the VAE's arithmetic, softer detail; needs SdxlLoadOptions::taesd_path).
    std::string decoder = "vae";
    // With a TAESD decoder loaded: `on_preview` gets a preview after every `preview_every`-th step
    // but the last (0 = none).
    int preview_every = 0;
    SdxlPreviewFn on_preview;
};

// stage: "text_encoders", "vae_encode", "unet", "vae_decode"; step counts from 1.
using SdxlProgressFn = std::function<void(const std::string& stage, int step, int total, double seconds_per_step)>;

struct SdxlGenerationResult {
    Image image;
    // Reproducibility record and timings: sampler, spacing, steps, steps_run, strength, guidance, seed,
    // rng, width, height, model, weight_mode, decoder, engine_version, seconds_<stage>, seconds_total,
    // vae_tile ("off" or "tile/overlap" px) and, when tiled, vae_tiles ("rows x columns").
    std::map<std::string, std::string> meta;
    // The final latent (NCHW, batch 1), for previews and regression tests.
    std::vector<float> latent;
    std::vector<std::int64_t> latent_shape;
};

class SdxlPipeline {
public:
    // `checkpoint_path`: a single-file .safetensors checkpoint or a diffusers folder.
    static Result<std::unique_ptr<SdxlPipeline>> Load(const std::string& checkpoint_path,
                                                      const std::string& tokenizer_dir, const SdxlLoadOptions& options);
    ~SdxlPipeline();
    SdxlPipeline(const SdxlPipeline&) = delete;
    SdxlPipeline& operator=(const SdxlPipeline&) = delete;

    // Runs one request. `cancel` (may be null) is polled between steps and stages; a cancelled run
    // returns ErrorCode::kCancelled. Thread-safe: concurrent calls run one after the other.
    Result<SdxlGenerationResult> Generate(const SdxlRequest& request, const SdxlProgressFn& progress,
                                          const std::atomic<bool>* cancel);

    // Pixel sizes must be multiples of this (8 x 4 for SDXL).
    int size_multiple() const;
    std::string Describe() const;  // detected sizes, one line
    bool has_taesd() const;        // SdxlLoadOptions::taesd_path was given and loaded

    struct Impl;

private:
    explicit SdxlPipeline(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Writes the tiny random-weight model (kTinyModelFileName) and its tokenizer (vocab.json,
// merges.txt) into `dir`, deterministically. Returns the checkpoint path.
Result<std::string> WriteTinySdxlModel(const std::string& dir);
// The same tiny model with its weights stored as F32 or BF16 (`file_name` inside `dir`, which must
// already hold the tokenizer written by WriteTinySdxlModel). For dtype tests.
Status WriteTinySdxlModelAs(const std::string& dir, const std::string& file_name, const std::string& dtype);

// Finds tokenizer files for a model: `explicit_dir` if given, else beside the model, else in
// $LABHOUSE_MODELS_DIR (and its tokenizer/ subfolder).
Result<std::string> FindTokenizerDir(const std::string& model_path, const std::string& explicit_dir);

}  // namespace labhouse::engine
