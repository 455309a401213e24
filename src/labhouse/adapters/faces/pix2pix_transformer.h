// Pix2PixTransformer, backend "pix2pix": runs a trained pix2pix generator (labhouse pix2pix
// train) on every usable face of the photo. Each face is cut out as an aligned square crop (the
// same FFHQ-style alignment make-pairs trains on), translated by the generator, warped back and
// Poisson-blended into the photo. Built only with LABHOUSE_WITH_TORCH.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "labhouse/adapters/faces/face_analyzer.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse::pix2pix {
class Pix2PixModel;
}

namespace labhouse::faces {

struct Pix2PixTransformerConfig {
    std::string model_path;  // LABHOUSE_PIX2PIX_MODEL; empty = backend unavailable
    FaceAnalyzerConfig analyzer;
    int max_faces = 16;
};

class Pix2PixTransformer : public Transformer {
public:
    explicit Pix2PixTransformer(Pix2PixTransformerConfig config);
    ~Pix2PixTransformer() override;

    std::string_view Name() const override { return "pix2pix"; }
    // Unavailable, with the reason, when no model is configured, the model or landmark file is
    // missing, or the model failed to load on an earlier job.
    BackendStatus Status() const override;
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    // Errors: reason NO_FACE when the photo has no usable face; kUnavailable when the model cannot
    // be loaded; kCancelled between faces.
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;

private:
    labhouse::Status EnsureLoaded();

    Pix2PixTransformerConfig config_;
    mutable std::mutex mutex_;  // guards everything below; also serialises inference on the model
    std::shared_ptr<FaceAnalyzer> analyzer_;
    std::unique_ptr<pix2pix::Pix2PixModel> model_;
    std::string load_error_;  // set when loading failed, reported by Status()
};

}  // namespace labhouse::faces
