// The image operations behind face swapping and the pix2pix face backend: alignment of a face
// crop, piecewise-affine warping over a Delaunay triangulation of the 68 landmarks, colour
// matching and Poisson (seamless) blending back into the photo. All images are 8-bit RGB cv::Mat.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "labhouse/adapters/faces/face_analyzer.h"
#include "labhouse/core/base/result.h"

namespace labhouse::faces {

// An axis-aligned square crop of one face, rotated upright, and the affine map that made it.
struct AlignedFace {
    cv::Mat crop;           // size x size, RGB
    cv::Mat photo_to_crop;  // 2x3 CV_64F: crop = warpAffine(photo, photo_to_crop)
};

// Cuts an upright square crop around the face with the FFHQ recipe (NVlabs/ffhq-dataset,
// recreate_aligned_images: the eye line sets the rotation, max(2 x eye distance, 1.8 x eye-to-mouth)
// the half width, centre a tenth of the way from the eyes to the mouth). Pixels outside the photo
// are mirrored so the network never sees black borders.
AlignedFace AlignFace(const cv::Mat& photo, const FaceLandmarks& face, int size);

// Delaunay triangles over the landmarks, as index triples into points (cv::Subdiv2D, the
// triangulation sample_face_swapping.cpp in opencv_contrib uses).
std::vector<std::array<int, 3>> TriangulateLandmarks(const std::array<cv::Point2f, kLandmarkCount>& points);

// The face region of `face` as a filled convex hull of its landmarks, 255 inside, in a mask of
// `size` whose origin is `origin` in photo coordinates.
cv::Mat FaceHullMask(const FaceLandmarks& face, cv::Size size, cv::Point origin);

// The mask a pasted face is blended through: the hull mask for `region`, shrunk by a twentieth of
// the eye distance so its edge lies where warped pixels are fully defined.
cv::Mat FaceBlendMask(const FaceLandmarks& face, cv::Rect region);

// The rectangle around the landmarks, grown by `margin` pixels and clipped to `bounds`.
cv::Rect FaceRegion(const FaceLandmarks& face, int margin, cv::Size bounds);

// Warps the `source` face (in `source_photo`) onto the geometry of `target`, triangle by triangle.
// Returns a patch covering `region` (photo coordinates of the target) that holds the warped face
// inside the target's landmark hull; outside it the patch is undefined.
cv::Mat WarpFaceOnto(const cv::Mat& source_photo, const FaceLandmarks& source, const FaceLandmarks& target,
                     cv::Rect region);

// Reinhard et al. 2001 colour transfer in CIELAB: shifts and scales each channel of `patch` inside
// `mask` so its mean and standard deviation match `reference` inside the same mask. In place.
void MatchColour(cv::Mat& patch, const cv::Mat& reference, const cv::Mat& mask);

// Blends `patch` (whose top-left corner lies at region.tl() in the photo) into `photo` inside
// `mask` with cv::seamlessClone (Perez et al. 2003, NORMAL_CLONE). Regions larger than
// max_poisson_side are solved at that size and the smooth correction upsampled (see the .cpp).
// Pixels outside `region` are never touched. kInvalidArgument when the mask is empty; OpenCV
// failures become kInternal.
inline constexpr int kMaxPoissonSide = 384;
Status SeamlessBlend(cv::Mat& photo, const cv::Mat& patch, const cv::Mat& mask, cv::Rect region,
                     int max_poisson_side = kMaxPoissonSide);

// The warped, colour-matched reference face for one target face, ready for SeamlessBlend.
struct SwapPatch {
    cv::Rect region;  // photo coordinates the patch and mask cover
    cv::Mat patch;    // RGB
    cv::Mat mask;     // 8-bit, 255 where the face goes
};
Result<SwapPatch> PrepareSwap(const cv::Mat& photo, const FaceLandmarks& target, const cv::Mat& reference_photo,
                              const FaceLandmarks& reference_face);

// The complete classic swap of one face: PrepareSwap then SeamlessBlend. In place on `photo`.
Status SwapFace(cv::Mat& photo, const FaceLandmarks& target, const cv::Mat& reference_photo,
                const FaceLandmarks& reference_face);

}  // namespace labhouse::faces
