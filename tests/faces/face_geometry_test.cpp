// Face geometry: alignment and the multiscale Poisson blend used for large faces.
#include "labhouse/adapters/faces/face_geometry.h"

#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_swap_transformer.h"
#include "tests/faces/face_test_support.h"

namespace labhouse::faces {
namespace {

using testing::kAstronautPath;
using testing::kHopperPath;
using testing::LoadRgb;

TEST(FaceGeometryTest, AlignedCropPutsTheEyesLevelAndCentred) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    const cv::Mat photo = LoadRgb(kHopperPath);
    cv::Mat rotated;
    cv::warpAffine(photo, rotated, cv::getRotationMatrix2D(cv::Point2f(256, 256), 15, 1.0), photo.size(),
                   cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
    auto analyzer = FaceAnalyzer::Create({});
    ASSERT_TRUE(analyzer);
    auto analysis = (*analyzer)->Analyze(rotated);
    ASSERT_TRUE(analysis);
    ASSERT_EQ(analysis->faces.size(), 1u);
    const FaceLandmarks& face = analysis->faces[0];
    const AlignedFace aligned = AlignFace(rotated, face, 128);
    ASSERT_EQ(aligned.crop.size(), cv::Size(128, 128));
    std::vector<cv::Point2f> eyes = {face.LeftEyeCenter(), face.RightEyeCenter()}, mapped;
    cv::transform(eyes, mapped, aligned.photo_to_crop);
    EXPECT_NEAR(mapped[0].y, mapped[1].y, 1.0) << "eye line is level in the crop";
    EXPECT_NEAR((mapped[0].x + mapped[1].x) / 2, 64.0, 3.0) << "eyes centred horizontally";
    // FFHQ proportions: the eye distance is about a quarter of the crop.
    EXPECT_NEAR(mapped[1].x - mapped[0].x, 32.0, 6.0);
}

TEST(FaceGeometryTest, MultiscaleBlendOfALargeFaceMatchesTheExactPoissonBlend) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    cv::Mat photo;
    cv::resize(LoadRgb(kHopperPath), photo, cv::Size(1536, 1536), 0, 0, cv::INTER_CUBIC);
    auto analyzer = FaceAnalyzer::Create({});
    ASSERT_TRUE(analyzer);
    auto reference = FindReferenceFace(**analyzer, LoadRgb(kAstronautPath));
    ASSERT_TRUE(reference);
    auto analysis = (*analyzer)->Analyze(photo);
    ASSERT_TRUE(analysis);
    ASSERT_EQ(analysis->faces.size(), 1u);
    auto swap = PrepareSwap(photo, analysis->faces[0], reference->photo, reference->face);
    ASSERT_TRUE(swap);
    ASSERT_GT(std::max(swap->region.width, swap->region.height), kMaxPoissonSide) << "the large-face path runs";

    cv::Mat exact = photo.clone(), fast = photo.clone();
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(SeamlessBlend(exact, swap->patch, swap->mask, swap->region, 100000));
    const double exact_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    ASSERT_TRUE(SeamlessBlend(fast, swap->patch, swap->mask, swap->region));
    const double fast_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double difference = testing::MeanAbsDiff(exact, fast, swap->region);
    std::printf("blend of a %dx%d face region: exact %.3f s, multiscale %.3f s, mean difference %.2f\n",
                swap->region.width, swap->region.height, exact_s, fast_s, difference);
    EXPECT_LT(difference, 3.0);
    EXPECT_GT(testing::MeanAbsDiff(photo, fast, swap->region), 3 * difference) << "the face did change";

    cv::Mat outside = cv::Mat::ones(photo.size(), CV_8U) * 255;
    outside(swap->region).setTo(0);
    cv::Mat diff, changed;
    cv::absdiff(photo, fast, diff);
    cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
    EXPECT_EQ(cv::countNonZero(changed & outside), 0);
}

}  // namespace
}  // namespace labhouse::faces
