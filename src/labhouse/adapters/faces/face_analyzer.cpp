#include "labhouse/adapters/faces/face_analyzer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numbers>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/core/base/log.h"

namespace labhouse::faces {

namespace {

// get_frontal_face_detector() decodes the compiled-in HOG model (about half a second); decode it
// once and copy it into each analyzer.
dlib::frontal_face_detector NewDetector() {
    static const dlib::frontal_face_detector prototype = dlib::get_frontal_face_detector();
    return prototype;
}

}  // namespace

struct FaceAnalyzer::Models {
    dlib::frontal_face_detector detector = NewDetector();
    std::shared_ptr<const dlib::shape_predictor> predictor;
};

namespace {

// The 100 MB predictor takes about a second to deserialise; every analyzer in the process that
// names the same file shares one copy (shape_predictor::operator() is const and thread-safe), kept
// for the life of the process so that backends created and dropped per job do not reload it.
Result<std::shared_ptr<dlib::shape_predictor>> LoadPredictor(const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<dlib::shape_predictor>> cache;
    std::lock_guard lock(mutex);
    if (auto cached = cache[path]) return cached;
    if (!std::filesystem::is_regular_file(path)) {
        return Unavailable("face landmark model not found: " + path + " (install libdlib-data)");
    }
    auto predictor = std::make_shared<dlib::shape_predictor>();
    try {
        dlib::deserialize(path) >> *predictor;
    } catch (const std::exception& e) {
        return Unavailable("cannot read face landmark model " + path + ": " + e.what());
    }
    if (predictor->num_parts() != kLandmarkCount) {
        return Unavailable("face landmark model " + path + " has " + std::to_string(predictor->num_parts()) +
                           " points, expected 68");
    }
    cache[path] = predictor;
    return predictor;
}

cv::Point2f MeanPoint(const std::array<cv::Point2f, kLandmarkCount>& points, int first, int last) {
    cv::Point2f sum(0, 0);
    for (int i = first; i <= last; ++i) sum += points[i];
    return sum * (1.0f / static_cast<float>(last - first + 1));
}

std::string Format(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.1f", value);
    return buffer;
}

}  // namespace

cv::Point2f FaceLandmarks::LeftEyeCenter() const { return MeanPoint(points, 36, 41); }
cv::Point2f FaceLandmarks::RightEyeCenter() const { return MeanPoint(points, 42, 47); }
cv::Point2f FaceLandmarks::MouthCenter() const { return (points[48] + points[54]) * 0.5f; }

Result<std::shared_ptr<FaceAnalyzer>> FaceAnalyzer::Create(const FaceAnalyzerConfig& config) {
    LABHOUSE_ASSIGN_OR_RETURN(std::shared_ptr<dlib::shape_predictor> predictor, LoadPredictor(config.predictor_path));
    // The detector object is small (its HOG filters are compiled in) and not shareable across
    // threads, so each analyzer owns one; only the predictor is shared.
    auto models = std::make_shared<Models>();
    models->predictor = std::move(predictor);
    return std::shared_ptr<FaceAnalyzer>(new FaceAnalyzer(config, std::move(models)));
}

FaceAnalyzer::FaceAnalyzer(const FaceAnalyzerConfig& config, std::shared_ptr<Models> models)
    : config_(config), models_(std::move(models)) {}

FaceAnalyzer::~FaceAnalyzer() = default;

Result<FaceAnalysis> FaceAnalyzer::Analyze(const cv::Mat& rgb) const {
    if (rgb.empty() || rgb.type() != CV_8UC3) return InvalidArgument("face analysis needs an 8-bit RGB image");

    // Detection runs on a copy scaled so that small photos are upsampled once (dlib's HOG window is
    // 80x80, so a 512 px portrait's faces are often below it) and huge ones are scaled down (the
    // cost grows with the pixel count; landmarks are still fitted at full resolution).
    const int longer = std::max(rgb.cols, rgb.rows);
    double scale = 1.0;
    if (longer < config_.upsample_below_px) {
        scale = 2.0;
    } else if (longer > config_.max_detect_px) {
        scale = static_cast<double>(config_.max_detect_px) / longer;
    }
    cv::Mat detect_image = rgb;
    if (scale != 1.0) {
        cv::resize(rgb, detect_image, cv::Size(), scale, scale, scale > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
    }
    if (!detect_image.isContinuous()) detect_image = detect_image.clone();

    std::vector<dlib::rect_detection> detections;
    {
        std::lock_guard lock(detector_mutex_);
        dlib::cv_image<dlib::rgb_pixel> view(detect_image);
        models_->detector(view, detections, 0.0);
    }

    cv::Mat full = rgb.isContinuous() ? rgb : rgb.clone();
    dlib::cv_image<dlib::rgb_pixel> full_view(full);
    FaceAnalysis analysis;
    for (const dlib::rect_detection& detection : detections) {
        // Upsampled photos produce weak false positives (the astronaut's suit patch scores 0.06;
        // real faces score above 1).
        if (detection.detection_confidence < config_.min_detection_score) continue;
        const dlib::rectangle& box = detection.rect;
        const dlib::rectangle scaled(std::lround(box.left() / scale), std::lround(box.top() / scale),
                                     std::lround(box.right() / scale), std::lround(box.bottom() / scale));
        const cv::Rect cv_box(static_cast<int>(scaled.left()), static_cast<int>(scaled.top()),
                              static_cast<int>(scaled.width()), static_cast<int>(scaled.height()));
        if (std::min(cv_box.width, cv_box.height) < config_.min_face_px) {
            analysis.skipped.push_back({cv_box, "too_small",
                                        "face is " + std::to_string(cv_box.width) + " px wide, minimum " +
                                            std::to_string(config_.min_face_px)});
            continue;
        }
        const dlib::full_object_detection shape = (*models_->predictor)(full_view, scaled);
        FaceLandmarks face;
        face.box = cv_box;
        for (int i = 0; i < kLandmarkCount; ++i) {
            face.points[i] = cv::Point2f(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
        }
        const cv::Point2f eye_line = face.RightEyeCenter() - face.LeftEyeCenter();
        face.eye_distance = std::hypot(eye_line.x, eye_line.y);
        face.roll_degrees = std::atan2(eye_line.y, eye_line.x) * 180.0 / std::numbers::pi;
        if (std::abs(face.roll_degrees) > config_.max_roll_degrees) {
            analysis.skipped.push_back(
                {cv_box, "too_rotated",
                 "eye line at " + Format(face.roll_degrees) + " degrees, maximum " + Format(config_.max_roll_degrees)});
            continue;
        }
        // Yaw proxy: the nose tip (30) sits midway between the jaw ends (0, 16) in a frontal view
        // and close to one of them in a profile, where half the face cannot be warped.
        const double to_left = cv::norm(face.points[30] - face.points[0]);
        const double to_right = cv::norm(face.points[30] - face.points[16]);
        const double yaw_ratio = std::max(to_left, to_right) / std::max(1e-3, std::min(to_left, to_right));
        if (yaw_ratio > config_.max_yaw_ratio) {
            analysis.skipped.push_back({cv_box, "profile",
                                        "face turned sideways (nose-to-jaw ratio " + Format(yaw_ratio) + ", maximum " +
                                            Format(config_.max_yaw_ratio) + ")"});
            continue;
        }
        analysis.faces.push_back(face);
    }
    std::sort(analysis.faces.begin(), analysis.faces.end(),
              [](const FaceLandmarks& a, const FaceLandmarks& b) { return a.box.area() > b.box.area(); });
    Log(LogLevel::kDebug, "faces.analyzed",
        {{"faces", std::to_string(analysis.faces.size())}, {"skipped", std::to_string(analysis.skipped.size())}});
    return analysis;
}

Error NoFaceError(const FaceAnalysis& analysis) {
    std::string message = "no face found in the photo";
    if (!analysis.skipped.empty()) {
        message = "no usable face in the photo; skipped:";
        for (const SkippedFace& skipped : analysis.skipped)
            message += " " + skipped.reason + " (" + skipped.detail + ")";
    }
    Error error = InvalidArgument(message);
    error.reason = "NO_FACE";
    return error;
}

cv::Mat MatView(const Image& image) {
    return cv::Mat(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
}

Image ToImage(const cv::Mat& rgb) {
    Image image{rgb.cols, rgb.rows, {}};
    image.rgb.resize(image.ByteSize());
    cv::Mat view(rgb.rows, rgb.cols, CV_8UC3, image.rgb.data());
    rgb.copyTo(view);
    return image;
}

Result<cv::Mat> ReadRgb(const std::string& path) {
    if (!std::filesystem::is_regular_file(path)) return NotFound("image file not found: " + path);
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    if (bgr.empty()) return InvalidArgument("cannot decode image: " + path);
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace labhouse::faces
