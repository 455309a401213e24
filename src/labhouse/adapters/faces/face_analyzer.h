// FaceAnalyzer: finds faces in a photo and their 68 landmarks (iBUG 300-W numbering: 0-16 jaw,
// 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth). Detection is dlib's HOG + linear SVM frontal
// detector (model compiled into dlib, no file); landmarks are dlib's shape predictor (Kazemi and
// Sullivan 2014) with the model Debian ships in libdlib-data. Faces that are too small or too
// rotated for a clean swap are reported as skipped, with a reason, instead of being returned.
//
// Thread-safety: Analyze may be called from several threads; the detector is guarded by a mutex.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"

namespace labhouse::faces {

inline constexpr int kLandmarkCount = 68;
inline constexpr const char* kDefaultPredictorPath = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

struct FaceAnalyzerConfig {
    std::string predictor_path = kDefaultPredictorPath;
    int min_face_px = 48;              // faces whose detector box is narrower than this are skipped
    double max_roll_degrees = 35;      // in-plane rotation of the eye line
    double max_yaw_ratio = 3.0;        // nose-to-jaw distance ratio; a profile view is far above 1
    double min_detection_score = 0.3;  // dlib SVM margin; real faces score about 1 to 2
    int upsample_below_px = 800;       // photos smaller than this (longer side) are upsampled once
    int max_detect_px = 1280;          // larger photos are scaled down for detection only
};

struct FaceLandmarks {
    cv::Rect box;                                    // detector box, photo pixels
    std::array<cv::Point2f, kLandmarkCount> points;  // photo pixels
    double roll_degrees = 0;                         // eye line angle, positive = clockwise in the image
    double eye_distance = 0;                         // between the eye centres, pixels

    cv::Point2f LeftEyeCenter() const;   // the subject's right eye, on the image's left (points 36-41)
    cv::Point2f RightEyeCenter() const;  // points 42-47
    cv::Point2f MouthCenter() const;     // mean of the outer lip corners 48 and 54
};

struct SkippedFace {
    cv::Rect box;
    std::string reason;  // "too_small", "too_rotated" or "profile", with numbers in detail
    std::string detail;
};

struct FaceAnalysis {
    std::vector<FaceLandmarks> faces;  // sorted by size, largest first
    std::vector<SkippedFace> skipped;
};

class FaceAnalyzer {
public:
    // Loads the shape predictor (about 100 MB; cached per path for the process, so a second
    // analyzer costs nothing). kUnavailable when the model file is missing or unreadable.
    static Result<std::shared_ptr<FaceAnalyzer>> Create(const FaceAnalyzerConfig& config);
    ~FaceAnalyzer();

    // Detects faces in an 8-bit RGB photo (CV_8UC3). Never fails on a photo without faces: the
    // analysis is simply empty. kInvalidArgument for an empty or non-RGB matrix.
    Result<FaceAnalysis> Analyze(const cv::Mat& rgb) const;

    const FaceAnalyzerConfig& config() const { return config_; }

private:
    struct Models;
    FaceAnalyzer(const FaceAnalyzerConfig& config, std::shared_ptr<Models> models);

    FaceAnalyzerConfig config_;
    std::shared_ptr<Models> models_;
    mutable std::mutex detector_mutex_;  // dlib's object_detector keeps scratch state
};

// The job failure for a photo without a usable face: reason "NO_FACE", and a message that lists the
// faces that were found but skipped, if any.
Error NoFaceError(const FaceAnalysis& analysis);

// Views a labhouse Image as an RGB cv::Mat without copying (the Image must outlive the Mat).
cv::Mat MatView(const Image& image);
// Deep copy of a CV_8UC3 RGB matrix into an Image.
Image ToImage(const cv::Mat& rgb);
// Reads an image file as RGB. kNotFound / kInvalidArgument when missing or undecodable.
Result<cv::Mat> ReadRgb(const std::string& path);

}  // namespace labhouse::faces
