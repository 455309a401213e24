#include "labhouse/adapters/faces/face_geometry.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

namespace labhouse::faces {

namespace {

cv::Point2f Perpendicular(cv::Point2f v) { return {-v.y, v.x}; }

// Warps one source triangle onto one destination triangle of `dst` (learnopencv's warpTriangle,
// also in opencv_contrib's sample_face_swapping.cpp): an affine map between the triangles'
// bounding boxes, then a copy through the destination triangle's mask.
void WarpTriangle(const cv::Mat& src, cv::Mat& dst, const std::array<cv::Point2f, 3>& s,
                  const std::array<cv::Point2f, 3>& d) {
    const cv::Rect src_box = cv::boundingRect(std::vector<cv::Point2f>(s.begin(), s.end())) &
                             cv::Rect(0, 0, src.cols, src.rows);
    const cv::Rect dst_box = cv::boundingRect(std::vector<cv::Point2f>(d.begin(), d.end())) &
                             cv::Rect(0, 0, dst.cols, dst.rows);
    if (src_box.empty() || dst_box.empty()) return;
    cv::Point2f s_local[3], d_local[3];
    std::vector<cv::Point> d_fixed(3);
    for (int i = 0; i < 3; ++i) {
        s_local[i] = s[i] - cv::Point2f(src_box.tl());
        d_local[i] = d[i] - cv::Point2f(dst_box.tl());
        // 4 fractional bits so neighbouring triangles meet without a one-pixel seam.
        d_fixed[i] = cv::Point(cvRound(d_local[i].x * 16), cvRound(d_local[i].y * 16));
    }
    const cv::Mat transform = cv::getAffineTransform(s_local, d_local);
    cv::Mat warped;
    cv::warpAffine(src(src_box), warped, transform, dst_box.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
    cv::Mat mask = cv::Mat::zeros(dst_box.size(), CV_8U);
    cv::fillConvexPoly(mask, d_fixed, cv::Scalar(255), cv::LINE_8, 4);
    warped.copyTo(dst(dst_box), mask);
}

}  // namespace

AlignedFace AlignFace(const cv::Mat& photo, const FaceLandmarks& face, int size) {
    const cv::Point2f eye_left = face.LeftEyeCenter();
    const cv::Point2f eye_right = face.RightEyeCenter();
    const cv::Point2f eye_avg = (eye_left + eye_right) * 0.5f;
    const cv::Point2f eye_to_eye = eye_right - eye_left;
    const cv::Point2f eye_to_mouth = face.MouthCenter() - eye_avg;
    // ffhq-dataset: x = eye_to_eye - flipud(eye_to_mouth) * [-1, 1]; y = flipud(x) * [-1, 1].
    cv::Point2f x = eye_to_eye - Perpendicular(eye_to_mouth);
    x *= 1.0f / std::max(1e-3f, std::hypot(x.x, x.y));
    x *= std::max(std::hypot(eye_to_eye.x, eye_to_eye.y) * 2.0f, std::hypot(eye_to_mouth.x, eye_to_mouth.y) * 1.8f);
    const cv::Point2f y = Perpendicular(x);
    const cv::Point2f c = eye_avg + eye_to_mouth * 0.1f;
    const cv::Point2f quad[3] = {c - x - y, c - x + y, c + x + y};  // top-left, bottom-left, bottom-right
    const float s = static_cast<float>(size);
    const cv::Point2f square[3] = {{0, 0}, {0, s}, {s, s}};
    AlignedFace aligned;
    aligned.photo_to_crop = cv::getAffineTransform(quad, square);
    cv::warpAffine(photo, aligned.crop, aligned.photo_to_crop, cv::Size(size, size), cv::INTER_AREA,
                   cv::BORDER_REFLECT_101);
    return aligned;
}

std::vector<std::array<int, 3>> TriangulateLandmarks(const std::array<cv::Point2f, kLandmarkCount>& points) {
    cv::Rect2f bounds = cv::boundingRect(std::vector<cv::Point2f>(points.begin(), points.end()));
    cv::Subdiv2D subdiv(cv::Rect(static_cast<int>(std::floor(bounds.x)) - 2, static_cast<int>(std::floor(bounds.y)) - 2,
                                 static_cast<int>(std::ceil(bounds.width)) + 5,
                                 static_cast<int>(std::ceil(bounds.height)) + 5));
    for (const cv::Point2f& p : points) subdiv.insert(p);
    std::vector<cv::Vec6f> list;
    subdiv.getTriangleList(list);
    auto index_of = [&](float px, float py) {
        for (int i = 0; i < kLandmarkCount; ++i) {
            if (std::abs(points[i].x - px) < 0.5f && std::abs(points[i].y - py) < 0.5f) return i;
        }
        return -1;  // one of Subdiv2D's virtual outer vertices
    };
    std::vector<std::array<int, 3>> triangles;
    for (const cv::Vec6f& t : list) {
        const std::array<int, 3> tri = {index_of(t[0], t[1]), index_of(t[2], t[3]), index_of(t[4], t[5])};
        if (tri[0] >= 0 && tri[1] >= 0 && tri[2] >= 0) triangles.push_back(tri);
    }
    return triangles;
}

cv::Mat FaceHullMask(const FaceLandmarks& face, cv::Size size, cv::Point origin) {
    std::vector<cv::Point> fixed;
    for (const cv::Point2f& p : face.points) {
        fixed.emplace_back(cvRound((p.x - origin.x) * 16), cvRound((p.y - origin.y) * 16));
    }
    std::vector<cv::Point> hull;
    cv::convexHull(fixed, hull);
    cv::Mat mask = cv::Mat::zeros(size, CV_8U);
    cv::fillConvexPoly(mask, hull, cv::Scalar(255), cv::LINE_8, 4);
    return mask;
}

cv::Mat FaceBlendMask(const FaceLandmarks& face, cv::Rect region) {
    cv::Mat mask = FaceHullMask(face, region.size(), region.tl());
    // A few pixels in from the hull the warped triangles are fully defined (no interpolation with
    // the black outside); the Poisson solve takes its boundary from the photo there.
    const int shrink = std::max(1, static_cast<int>(face.eye_distance / 20));
    cv::erode(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * shrink + 1, 2 * shrink + 1)));
    return mask;
}

cv::Rect FaceRegion(const FaceLandmarks& face, int margin, cv::Size bounds) {
    const cv::Rect tight = cv::boundingRect(std::vector<cv::Point2f>(face.points.begin(), face.points.end()));
    const cv::Rect grown(tight.x - margin, tight.y - margin, tight.width + 2 * margin, tight.height + 2 * margin);
    return grown & cv::Rect(cv::Point(0, 0), bounds);
}

cv::Mat WarpFaceOnto(const cv::Mat& source_photo, const FaceLandmarks& source, const FaceLandmarks& target,
                     cv::Rect region) {
    cv::Mat patch = cv::Mat::zeros(region.size(), CV_8UC3);
    const cv::Point2f origin(region.tl());
    for (const std::array<int, 3>& tri : TriangulateLandmarks(target.points)) {
        const std::array<cv::Point2f, 3> s = {source.points[tri[0]], source.points[tri[1]], source.points[tri[2]]};
        const std::array<cv::Point2f, 3> d = {target.points[tri[0]] - origin, target.points[tri[1]] - origin,
                                              target.points[tri[2]] - origin};
        WarpTriangle(source_photo, patch, s, d);
    }
    return patch;
}

void MatchColour(cv::Mat& patch, const cv::Mat& reference, const cv::Mat& mask) {
    if (cv::countNonZero(mask) < 16) return;
    cv::Mat patch_lab, reference_lab;
    cv::cvtColor(patch, patch_lab, cv::COLOR_RGB2Lab);
    cv::cvtColor(reference, reference_lab, cv::COLOR_RGB2Lab);
    cv::Scalar patch_mean, patch_std, reference_mean, reference_std;
    cv::meanStdDev(patch_lab, patch_mean, patch_std, mask);
    cv::meanStdDev(reference_lab, reference_mean, reference_std, mask);
    cv::Mat lab_float;
    patch_lab.convertTo(lab_float, CV_32FC3);
    std::vector<cv::Mat> channels;
    cv::split(lab_float, channels);
    for (int c = 0; c < 3; ++c) {
        // Clamp the gain: a flat patch (tiny std) must not blow noise up.
        const double gain = std::clamp(reference_std[c] / std::max(patch_std[c], 1.0), 0.5, 2.0);
        channels[c] = (channels[c] - patch_mean[c]) * gain + reference_mean[c];
    }
    cv::merge(channels, lab_float);
    lab_float.convertTo(patch_lab, CV_8UC3);  // saturates
    cv::Mat matched;
    cv::cvtColor(patch_lab, matched, cv::COLOR_Lab2RGB);
    matched.copyTo(patch, mask);
}

Status SeamlessBlend(cv::Mat& photo, const cv::Mat& patch, const cv::Mat& mask, cv::Rect region) {
    // seamlessClone clears the mask's one-pixel frame and needs the cloned rectangle inside the
    // photo; keep the mask two pixels clear of the photo's edges.
    cv::Mat clipped = mask.clone();
    const cv::Rect inner(2, 2, photo.cols - 4, photo.rows - 4);
    for (int y = 0; y < clipped.rows; ++y) {
        for (int x = 0; x < clipped.cols; ++x) {
            if (!inner.contains(cv::Point(x + region.x, y + region.y))) clipped.at<std::uint8_t>(y, x) = 0;
        }
    }
    const cv::Rect box = cv::boundingRect(clipped);
    if (box.width < 3 || box.height < 3) return InvalidArgument("face region is empty after clipping to the photo");
    // OpenCV places the mask's bounding box centred on `center` with integer halves
    // (roi_d.x = center.x - box.width / 2), so this centre keeps the patch exactly where it was cut.
    const cv::Point center(region.x + box.x + box.width / 2, region.y + box.y + box.height / 2);
    try {
        cv::Mat blended;
        cv::seamlessClone(patch, photo, clipped, center, blended, cv::NORMAL_CLONE);
        photo = blended;
    } catch (const cv::Exception& e) {
        return Internal(std::string("seamless clone failed: ") + e.what());
    }
    return OkStatus();
}

Result<SwapPatch> PrepareSwap(const cv::Mat& photo, const FaceLandmarks& target, const cv::Mat& reference_photo,
                              const FaceLandmarks& reference_face) {
    SwapPatch swap;
    swap.region = FaceRegion(target, 4, photo.size());
    if (swap.region.width < 8 || swap.region.height < 8) return InvalidArgument("target face lies outside the photo");
    swap.patch = WarpFaceOnto(reference_photo, reference_face, target, swap.region);
    swap.mask = FaceBlendMask(target, swap.region);
    MatchColour(swap.patch, photo(swap.region), swap.mask);
    return swap;
}

Status SwapFace(cv::Mat& photo, const FaceLandmarks& target, const cv::Mat& reference_photo,
                const FaceLandmarks& reference_face) {
    LABHOUSE_ASSIGN_OR_RETURN(SwapPatch swap, PrepareSwap(photo, target, reference_photo, reference_face));
    return SeamlessBlend(photo, swap.patch, swap.mask, swap.region);
}

}  // namespace labhouse::faces
