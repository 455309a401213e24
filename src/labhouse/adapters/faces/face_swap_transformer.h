// FaceSwapTransformer, backend "face-swap": puts a reference face onto every usable face of the
// photo. Classic pipeline, no trained network: dlib landmarks, piecewise-affine warp over the
// Delaunay triangulation of the 68 points, Reinhard colour transfer, Poisson blending
// (see docs/faces.md). The reference is the job's uploaded "reference_image" or, failing that,
// the configured default (LABHOUSE_REFERENCE_FACE).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "labhouse/adapters/faces/face_analyzer.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse::faces {

inline constexpr const char* kReferenceImageKey = "reference_image";

struct FaceSwapConfig {
    std::string reference_face_path;  // default reference photo; empty = every job must upload one
    FaceAnalyzerConfig analyzer;
    int max_faces = 16;  // faces beyond this many (smallest first) are left alone
};

// A reference photo and the face in it that will be pasted.
struct ReferenceFace {
    cv::Mat photo;  // RGB
    FaceLandmarks face;
};

// Picks the largest usable face of `photo`. kInvalidArgument (no reason code: this is the
// request's fault, not the photo's) when the reference has none.
Result<ReferenceFace> FindReferenceFace(const FaceAnalyzer& analyzer, const cv::Mat& photo);

class FaceSwapTransformer : public Transformer {
public:
    explicit FaceSwapTransformer(FaceSwapConfig config);

    std::string_view Name() const override { return "face-swap"; }
    // Available when the landmark model exists. Cheap: loads nothing.
    BackendStatus Status() const override;
    // kInvalidArgument when neither the job ("reference_image" option) nor the config names a
    // reference; kFailedPrecondition when only the config does and its file is missing.
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    // Errors: reason NO_FACE when the photo has no usable face; kInvalidArgument when the
    // reference has no face; kCancelled between faces; kUnavailable when the model cannot load.
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;

private:
    Result<std::shared_ptr<FaceAnalyzer>> Analyzer();
    Result<ReferenceFace> ConfiguredReference();

    FaceSwapConfig config_;
    std::mutex mutex_;  // guards the lazily loaded members below
    std::shared_ptr<FaceAnalyzer> analyzer_;
    std::optional<ReferenceFace> configured_reference_;
};

}  // namespace labhouse::faces
