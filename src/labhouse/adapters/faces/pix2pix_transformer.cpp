#include "labhouse/adapters/faces/pix2pix_transformer.h"

#include <chrono>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_geometry.h"
#include "labhouse/pix2pix/pix2pix.h"

namespace labhouse::faces {

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The photo -> crop map of AlignFace, re-based so that it starts from `region`'s top-left corner.
cv::Mat RegionToCrop(const cv::Mat& photo_to_crop, cv::Point region_tl) {
    cv::Mat m = photo_to_crop.clone();
    m.at<double>(0, 2) += m.at<double>(0, 0) * region_tl.x + m.at<double>(0, 1) * region_tl.y;
    m.at<double>(1, 2) += m.at<double>(1, 0) * region_tl.x + m.at<double>(1, 1) * region_tl.y;
    return m;
}

}  // namespace

Pix2PixTransformer::Pix2PixTransformer(Pix2PixTransformerConfig config) : config_(std::move(config)) {}
Pix2PixTransformer::~Pix2PixTransformer() = default;

BackendStatus Pix2PixTransformer::Status() const {
    BackendStatus status;
    std::error_code ec;
    if (config_.model_path.empty()) {
        status.reason =
            "no pix2pix model configured (set LABHOUSE_PIX2PIX_MODEL to a file from 'labhouse pix2pix train')";
    } else if (!std::filesystem::is_regular_file(config_.model_path, ec)) {
        status.reason = "pix2pix model not found: " + config_.model_path;
    } else if (!std::filesystem::is_regular_file(config_.analyzer.predictor_path, ec)) {
        status.reason = "face landmark model not found: " + config_.analyzer.predictor_path + " (install libdlib-data)";
    } else {
        std::lock_guard lock(mutex_);
        status.reason = load_error_;
    }
    status.available = status.reason.empty();
    status.details["model"] = config_.model_path;
    return status;
}

labhouse::Status Pix2PixTransformer::Validate(const JobParams& /*params*/, const Style* /*style*/) const {
    // The generator takes no per-job options; availability is the registry's check (Status).
    return OkStatus();
}

labhouse::Status Pix2PixTransformer::EnsureLoaded() {
    if (model_ && analyzer_) return OkStatus();
    auto analyzer = FaceAnalyzer::Create(config_.analyzer);
    if (!analyzer) return analyzer.error();
    auto model = pix2pix::Pix2PixModel::Load(config_.model_path);
    if (!model) {
        load_error_ = "pix2pix model " + config_.model_path + " failed to load: " + model.error().message;
        return Unavailable(load_error_);
    }
    analyzer_ = *analyzer;
    model_ = std::make_unique<pix2pix::Pix2PixModel>(std::move(model).value());
    load_error_.clear();
    return OkStatus();
}

Result<TransformOutput> Pix2PixTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    if (input.image.Empty() || input.image.rgb.size() != input.image.ByteSize()) {
        return InvalidArgument("pix2pix: empty or malformed image");
    }
    if (progress.CancelRequested()) return Cancelled("pix2pix canceled");
    const auto start = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    progress.Report({"load", 0, 1, 0});
    LABHOUSE_RETURN_IF_ERROR(EnsureLoaded());
    progress.Report({"detect", 0, 1, 0});
    cv::Mat photo = MatView(input.image).clone();
    LABHOUSE_ASSIGN_OR_RETURN(FaceAnalysis analysis, analyzer_->Analyze(photo));
    if (analysis.faces.empty()) return NoFaceError(analysis);
    if (static_cast<int>(analysis.faces.size()) > config_.max_faces) analysis.faces.resize(config_.max_faces);
    const int total = static_cast<int>(analysis.faces.size());
    const int size = model_->config().image_size;

    for (int i = 0; i < total; ++i) {
        if (progress.CancelRequested()) return Cancelled("pix2pix canceled after " + std::to_string(i) + " faces");
        const auto face_start = std::chrono::steady_clock::now();
        const FaceLandmarks& face = analysis.faces[i];
        progress.Report({"generate", i, total, 0});
        const AlignedFace aligned = AlignFace(photo, face, size);
        LABHOUSE_ASSIGN_OR_RETURN(Image generated, model_->Generate(ToImage(aligned.crop)));

        progress.Report({"blend", i, total, 0});
        const cv::Rect region = FaceRegion(face, 4, photo.size());
        cv::Mat patch;
        cv::warpAffine(MatView(generated), patch, RegionToCrop(aligned.photo_to_crop, region.tl()), region.size(),
                       cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
        cv::Mat mask = FaceBlendMask(face, region);
        MatchColour(patch, photo(region), mask);
        LABHOUSE_RETURN_IF_ERROR(SeamlessBlend(photo, patch, mask, region));
        progress.Report({"blend", i + 1, total, SecondsSince(face_start)});
    }

    TransformOutput output{ToImage(photo), {}};
    output.meta["backend"] = "pix2pix";
    output.meta["model"] = config_.model_path;
    output.meta["model_size"] = std::to_string(size);
    output.meta["faces"] = std::to_string(total);
    output.meta["faces_skipped"] = std::to_string(analysis.skipped.size());
    output.meta["seconds"] = std::to_string(SecondsSince(start));
    return output;
}

}  // namespace labhouse::faces
