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
    const cv::Rect src_box =
        cv::boundingRect(std::vector<cv::Point2f>(s.begin(), s.end())) & cv::Rect(0, 0, src.cols, src.rows);
    const cv::Rect dst_box =
        cv::boundingRect(std::vector<cv::Point2f>(d.begin(), d.end())) & cv::Rect(0, 0, dst.cols, dst.rows);
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

namespace {

// cv::seamlessClone of `patch` into `dst` (same size) through `mask`, in place of dst's pixels.
// OpenCV places the mask's bounding box centred on `center` with integer halves
// (roi_d.x = center.x - box.width / 2), so this centre keeps the patch exactly where it was cut.
void CloneInPlace(const cv::Mat& patch, cv::Mat& dst, const cv::Mat& mask) {
    const cv::Rect box = cv::boundingRect(mask);
    const cv::Point center(box.x + box.width / 2, box.y + box.height / 2);
    cv::Mat blended;
    cv::seamlessClone(patch, dst, mask, center, blended, cv::NORMAL_CLONE);
    blended.copyTo(dst);
}

// Large faces: the Poisson result is the patch plus a harmonic correction, the membrane that
// interpolates the boundary difference (Farbman et al. 2009, "Coordinates for Instant Image
// Cloning"). The membrane is smooth, so it is solved on a copy scaled down to max_side and
// upsampled, while the patch keeps its full-resolution detail. seamlessClone's solver grows
// faster than the pixel count: a 1000 px face takes seconds at full size, ~0.1 s this way.
void CloneMultiscale(const cv::Mat& patch, cv::Mat& dst, const cv::Mat& mask, int max_side) {
    const double scale = static_cast<double>(max_side) / std::max(dst.cols, dst.rows);
    const cv::Size small(std::max(8, cvRound(dst.cols * scale)), std::max(8, cvRound(dst.rows * scale)));
    cv::Mat patch_s, dst_s, mask_s;
    cv::resize(patch, patch_s, small, 0, 0, cv::INTER_AREA);
    cv::resize(dst, dst_s, small, 0, 0, cv::INTER_AREA);
    cv::resize(mask, mask_s, small, 0, 0, cv::INTER_NEAREST);
    cv::rectangle(mask_s, cv::Rect(0, 0, small.width, small.height), cv::Scalar(0), 2);
    cv::Mat blended_s = dst_s.clone();
    CloneInPlace(patch_s, blended_s, mask_s);

    cv::Mat correction_s, patch_f, blended_f;
    blended_s.convertTo(blended_f, CV_32FC3);
    patch_s.convertTo(patch_f, CV_32FC3);
    correction_s = blended_f - patch_f;
    // Outside the small mask the patch is undefined; extend the correction a few pixels outwards
    // (normalised convolution) so that upsampling near the edge mixes only valid values.
    cv::Mat weight;
    mask_s.convertTo(weight, CV_32F, 1.0 / 255);
    cv::Mat weighted, weight_blur;
    cv::Mat weight3;
    cv::merge(std::vector<cv::Mat>{weight, weight, weight}, weight3);
    cv::GaussianBlur(correction_s.mul(weight3), weighted, cv::Size(7, 7), 0);
    cv::GaussianBlur(weight3, weight_blur, cv::Size(7, 7), 0);
    cv::Mat filled = weighted / cv::max(weight_blur, 1e-4);
    filled.copyTo(correction_s, 255 - mask_s);

    cv::Mat correction, result_f;
    cv::resize(correction_s, correction, dst.size(), 0, 0, cv::INTER_LINEAR);
    patch.convertTo(result_f, CV_32FC3);
    result_f += correction;
    // Feather the last pixels of the edge, where the patch's fine detail meets the photo's;
    // multiplied by the mask so nothing outside it changes.
    cv::Mat alpha;
    mask.convertTo(alpha, CV_32F, 1.0 / 255);
    const int k = 2 * std::max(1, cvRound(0.5 / scale)) + 1;
    cv::GaussianBlur(alpha, alpha, cv::Size(k, k), 0);
    cv::Mat inside;
    cv::Mat(mask > 0).convertTo(inside, CV_32F, 1.0 / 255);
    alpha = alpha.mul(inside);
    cv::Mat alpha3, dst_f;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, alpha3);
    dst.convertTo(dst_f, CV_32FC3);
    cv::Mat out_f = result_f.mul(alpha3) + dst_f.mul(cv::Scalar::all(1.0) - alpha3);
    out_f.convertTo(dst, CV_8UC3);  // rounds and saturates
}

}  // namespace

Status SeamlessBlend(cv::Mat& photo, const cv::Mat& patch, const cv::Mat& mask, cv::Rect region, int max_poisson_side) {
    // seamlessClone clears the mask's one-pixel frame and needs the cloned rectangle inside the
    // image; keep the mask two pixels clear of the photo's and the region's edges.
    cv::Mat clipped = mask.clone();
    const cv::Rect inner(2, 2, photo.cols - 4, photo.rows - 4);
    for (int y = 0; y < clipped.rows; ++y) {
        for (int x = 0; x < clipped.cols; ++x) {
            if (!inner.contains(cv::Point(x + region.x, y + region.y))) clipped.at<std::uint8_t>(y, x) = 0;
        }
    }
    cv::rectangle(clipped, cv::Rect(0, 0, clipped.cols, clipped.rows), cv::Scalar(0), 2);
    const cv::Rect box = cv::boundingRect(clipped);
    if (box.width < 3 || box.height < 3) return InvalidArgument("face region is empty after clipping to the photo");
    try {
        cv::Mat dst = photo(region);  // a view: the blend writes straight into the photo
        if (std::max(region.width, region.height) <= max_poisson_side) {
            CloneInPlace(patch, dst, clipped);
        } else {
            CloneMultiscale(patch, dst, clipped, max_poisson_side);
        }
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
