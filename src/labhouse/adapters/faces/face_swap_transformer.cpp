#include "labhouse/adapters/faces/face_swap_transformer.h"

#include <chrono>
#include <filesystem>

#include "labhouse/adapters/faces/face_geometry.h"
#include "labhouse/core/base/log.h"

namespace labhouse::faces {

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Result<ReferenceFace> FindReferenceFace(const FaceAnalyzer& analyzer, const cv::Mat& photo) {
    LABHOUSE_ASSIGN_OR_RETURN(FaceAnalysis analysis, analyzer.Analyze(photo));
    if (analysis.faces.empty()) {
        std::string message = "the reference image has no usable face";
        if (!analysis.skipped.empty()) message += " (" + analysis.skipped.front().detail + ")";
        return InvalidArgument(message);
    }
    return ReferenceFace{photo, analysis.faces.front()};  // faces are sorted largest first
}

FaceSwapTransformer::FaceSwapTransformer(FaceSwapConfig config) : config_(std::move(config)) {}

BackendStatus FaceSwapTransformer::Status() const {
    BackendStatus status;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config_.analyzer.predictor_path, ec)) {
        status.reason = "face landmark model not found: " + config_.analyzer.predictor_path + " (install libdlib-data)";
        return status;
    }
    status.available = true;
    status.details["landmarks"] = config_.analyzer.predictor_path;
    if (config_.reference_face_path.empty()) {
        status.details["reference"] = "per job (upload reference_image)";
    } else if (!std::filesystem::is_regular_file(config_.reference_face_path, ec)) {
        status.details["reference"] = "missing: " + config_.reference_face_path + " (jobs must upload reference_image)";
    } else {
        status.details["reference"] = config_.reference_face_path;
    }
    return status;
}

labhouse::Status FaceSwapTransformer::Validate(const JobParams& params, const Style* /*style*/) const {
    if (params.options.count(kReferenceImageKey)) return OkStatus();
    if (config_.reference_face_path.empty()) {
        return InvalidArgument(
            "face-swap needs a reference face: upload one as reference_image, or configure LABHOUSE_REFERENCE_FACE");
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config_.reference_face_path, ec)) {
        return FailedPrecondition("the configured reference face " + config_.reference_face_path +
                                  " does not exist; upload one as reference_image");
    }
    return OkStatus();
}

Result<std::shared_ptr<FaceAnalyzer>> FaceSwapTransformer::Analyzer() {
    std::lock_guard lock(mutex_);
    if (!analyzer_) {
        LABHOUSE_ASSIGN_OR_RETURN(analyzer_, FaceAnalyzer::Create(config_.analyzer));
    }
    return analyzer_;
}

Result<ReferenceFace> FaceSwapTransformer::ConfiguredReference() {
    LABHOUSE_ASSIGN_OR_RETURN(std::shared_ptr<FaceAnalyzer> analyzer, Analyzer());
    std::lock_guard lock(mutex_);
    if (!configured_reference_) {
        if (config_.reference_face_path.empty()) {
            return InvalidArgument(
                "no reference face: upload one as reference_image or configure LABHOUSE_REFERENCE_FACE");
        }
        auto photo = ReadRgb(config_.reference_face_path);
        if (!photo) return FailedPrecondition("configured reference face: " + photo.error().message);
        auto reference = FindReferenceFace(*analyzer, *photo);
        if (!reference)
            return InvalidArgument("configured reference face " + config_.reference_face_path + ": " +
                                   reference.error().message);
        configured_reference_ = std::move(reference).value();
    }
    return *configured_reference_;
}

Result<TransformOutput> FaceSwapTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    if (input.image.Empty() || input.image.rgb.size() != input.image.ByteSize()) {
        return InvalidArgument("face-swap: empty or malformed image");
    }
    if (progress.CancelRequested()) return Cancelled("face-swap canceled");
    const auto start = std::chrono::steady_clock::now();
    progress.Report({"detect", 0, 1, 0});
    LABHOUSE_ASSIGN_OR_RETURN(std::shared_ptr<FaceAnalyzer> analyzer, Analyzer());

    ReferenceFace reference;
    std::string reference_source;
    if (auto uploaded = input.extra_images.find(kReferenceImageKey); uploaded != input.extra_images.end()) {
        if (uploaded->second.Empty()) return InvalidArgument("the reference_image upload is empty");
        LABHOUSE_ASSIGN_OR_RETURN(reference, FindReferenceFace(*analyzer, MatView(uploaded->second).clone()));
        reference_source = "upload";
    } else {
        LABHOUSE_ASSIGN_OR_RETURN(reference, ConfiguredReference());
        reference_source = config_.reference_face_path;
    }

    cv::Mat photo = MatView(input.image).clone();
    LABHOUSE_ASSIGN_OR_RETURN(FaceAnalysis analysis, analyzer->Analyze(photo));
    if (analysis.faces.empty()) return NoFaceError(analysis);
    if (static_cast<int>(analysis.faces.size()) > config_.max_faces) analysis.faces.resize(config_.max_faces);
    const int total = static_cast<int>(analysis.faces.size());
    progress.Report({"detect", 1, 1, SecondsSince(start)});

    for (int i = 0; i < total; ++i) {
        if (progress.CancelRequested()) return Cancelled("face-swap canceled after " + std::to_string(i) + " faces");
        const auto face_start = std::chrono::steady_clock::now();
        const FaceLandmarks& target = analysis.faces[i];
        progress.Report({"warp", i, total, 0});
        LABHOUSE_ASSIGN_OR_RETURN(SwapPatch swap, PrepareSwap(photo, target, reference.photo, reference.face));
        progress.Report({"blend", i, total, 0});
        LABHOUSE_RETURN_IF_ERROR(SeamlessBlend(photo, swap.patch, swap.mask, swap.region));
        progress.Report({"blend", i + 1, total, SecondsSince(face_start)});
    }

    TransformOutput output{ToImage(photo), {}};
    output.meta["backend"] = "face-swap";
    output.meta["faces"] = std::to_string(total);
    output.meta["faces_skipped"] = std::to_string(analysis.skipped.size());
    output.meta["reference"] = reference_source;
    output.meta["seconds"] = std::to_string(SecondsSince(start));
    Log(LogLevel::kInfo, "faces.swapped",
        {{"faces", std::to_string(total)},
         {"skipped", std::to_string(analysis.skipped.size())},
         {"seconds", output.meta["seconds"]}});
    return output;
}

}  // namespace labhouse::faces
