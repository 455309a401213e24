// SdxlTransformer ("sdxl"): SDXL / SDXL-Turbo image-to-image and text-to-image on the native
// engine (engine/). The model is loaded once per process (at start or at the first job) and kept;
// one inference runs at a time. Sizes, per-model defaults and style prompts are decided here, so the engine stays a pure
// "request in, image out" library.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "labhouse/core/ports/transformer.h"

namespace labhouse::engine {
class SdxlPipeline;
}

namespace labhouse::sdxl {

struct SdxlConfig {
    std::string model_path;      // a single-file checkpoint; empty = search models_dir
    std::string models_dir;      // where `labhouse models pull` puts models
    std::string tokenizer_dir;   // empty = beside the model, then models_dir
    std::string device = "cpu";
    std::string weight_mode = "low-memory";  // low-memory | fast
    bool load_at_start = false;
    int threads = 0;
    int vae_tile = 0;  // engine::SdxlLoadOptions::vae_tile (validated by the app config)
    std::string taesd_path;  // TAESDXL decoder; empty = search models_dir (optional either way)
    int preview_every = 1;   // with TAESDXL loaded: a preview after every N-th step; 0 = none
};

// Per-model defaults (sdxl-reference.md section 6.5 for Turbo; the SDXL base model card for base).
struct SdxlDefaults {
    int native_side = 1024;  // 512 for Turbo
    int steps = 25;
    double guidance = 6.0;
    double strength = 0.5;
    std::string sampler = "dpmpp_2m";
};

class SdxlTransformer final : public Transformer {
public:
    explicit SdxlTransformer(SdxlConfig config);
    ~SdxlTransformer() override;

    std::string_view Name() const override { return "sdxl"; }
    BackendStatus Status() const override;
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    bool SupportsTextToImage() const override { return true; }
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;

    // Loads the model now (used with load_at_start). Thread-safe; loads once.
    labhouse::Status EnsureLoaded();
    // The checkpoint that would be used, or an error saying how to install one.
    Result<std::string> ResolveModelPath() const;
    // The TAESDXL decoder that would be loaded: "" when none is configured or installed, an error
    // when the configured file is missing.
    Result<std::string> ResolveTaesdPath() const;

private:
    SdxlConfig config_;
    SdxlDefaults defaults_;
    std::mutex mutex_;  // one inference at a time; guards the fields below
    std::unique_ptr<engine::SdxlPipeline> pipeline_;
    std::string model_sha256_;
    std::string load_error_;
};

// The generation size for an upload: the model's native area at the upload's aspect, in multiples
// of 64 (e.g. 1536x1024 -> 640x448 for Turbo's 512-class).
std::pair<int, int> NativeSize(int width, int height, int native_side);
SdxlDefaults DefaultsForModel(const std::string& model_path);

}  // namespace labhouse::sdxl
