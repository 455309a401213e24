// FaceAnalyzer on real photos: where the faces and their landmarks are, and which faces are
// skipped and why. Reference boxes come from pix2pix-faces.md B2 (dlib HOG on these files).
#include "labhouse/adapters/faces/face_analyzer.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "tests/faces/face_test_support.h"

namespace labhouse::faces {
namespace {

using testing::kAstronautPath;
using testing::kHopperPath;
using testing::LoadRgb;

std::shared_ptr<FaceAnalyzer> MakeAnalyzer(FaceAnalyzerConfig config = {}) {
    auto analyzer = FaceAnalyzer::Create(config);
    EXPECT_TRUE(analyzer) << analyzer.error().message;
    return analyzer ? *analyzer : nullptr;
}

double IntersectionOverUnion(cv::Rect a, cv::Rect b) {
    const double inter = (a & b).area();
    return inter / (a.area() + b.area() - inter);
}

TEST(FaceAnalyzerTest, FindsHopperWithLandmarksInTheExpectedRegion) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    auto analyzer = MakeAnalyzer();
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(LoadRgb(kHopperPath));
    ASSERT_TRUE(analysis) << analysis.error().message;
    ASSERT_EQ(analysis->faces.size(), 1u);
    EXPECT_TRUE(analysis->skipped.empty());
    const FaceLandmarks& face = analysis->faces[0];
    const cv::Rect expected(cv::Point(161, 113), cv::Point(376, 328));
    EXPECT_GT(IntersectionOverUnion(face.box, expected), 0.6) << face.box;

    // Every landmark lies in the detector box grown by a quarter; the anatomy is in order.
    const cv::Rect grown(face.box.x - face.box.width / 4, face.box.y - face.box.height / 4, face.box.width * 3 / 2,
                         face.box.height * 3 / 2);
    for (int i = 0; i < kLandmarkCount; ++i) EXPECT_TRUE(grown.contains(face.points[i])) << "point " << i;
    const cv::Point2f nose = face.points[30];
    EXPECT_GT(nose.x, face.box.x + face.box.width / 3.0);
    EXPECT_LT(nose.x, face.box.x + face.box.width * 2 / 3.0);
    EXPECT_LT(face.LeftEyeCenter().y, nose.y);
    EXPECT_LT(face.RightEyeCenter().y, nose.y);
    EXPECT_LT(face.LeftEyeCenter().x, face.RightEyeCenter().x);
    EXPECT_GT(face.MouthCenter().y, nose.y);
    EXPECT_LT(std::abs(face.roll_degrees), 10.0);
    EXPECT_GT(face.eye_distance, 50.0);
}

TEST(FaceAnalyzerTest, FindsTheAstronautNoseTip) {
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    auto analyzer = MakeAnalyzer();
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(LoadRgb(kAstronautPath));
    ASSERT_TRUE(analysis) << analysis.error().message;
    ASSERT_EQ(analysis->faces.size(), 1u);
    const FaceLandmarks& face = analysis->faces[0];
    EXPECT_GT(IntersectionOverUnion(face.box, cv::Rect(cv::Point(179, 83), cv::Point(266, 170))), 0.5) << face.box;
    EXPECT_LT(cv::norm(face.points[30] - cv::Point2f(225, 127)), 12.0) << face.points[30];
}

TEST(FaceAnalyzerTest, FindsSeveralFacesLargestFirst) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    cv::Mat both;
    cv::hconcat(LoadRgb(kAstronautPath), LoadRgb(kHopperPath), both);
    auto analyzer = MakeAnalyzer();
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(both);
    ASSERT_TRUE(analysis) << analysis.error().message;
    ASSERT_EQ(analysis->faces.size(), 2u);
    EXPECT_GT(analysis->faces[0].box.x, 512) << "Hopper's face (on the right) is the larger one";
    EXPECT_LT(analysis->faces[1].box.x, 512);
}

TEST(FaceAnalyzerTest, SkipsFacesBelowTheMinimumSize) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    FaceAnalyzerConfig config;
    config.min_face_px = 300;
    auto analyzer = MakeAnalyzer(config);
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(LoadRgb(kHopperPath));
    ASSERT_TRUE(analysis);
    EXPECT_TRUE(analysis->faces.empty());
    ASSERT_EQ(analysis->skipped.size(), 1u);
    EXPECT_EQ(analysis->skipped[0].reason, "too_small");
    EXPECT_NE(analysis->skipped[0].detail.find("minimum 300"), std::string::npos) << analysis->skipped[0].detail;
}

TEST(FaceAnalyzerTest, SkipsFacesRotatedBeyondTheLimit) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    const cv::Mat photo = LoadRgb(kHopperPath);
    cv::Mat rotated;
    cv::warpAffine(photo, rotated, cv::getRotationMatrix2D(cv::Point2f(256, 256), 20, 1.0), photo.size(),
                   cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
    FaceAnalyzerConfig strict;
    strict.max_roll_degrees = 10;
    auto analyzer = MakeAnalyzer(strict);
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(rotated);
    ASSERT_TRUE(analysis);
    EXPECT_TRUE(analysis->faces.empty());
    ASSERT_EQ(analysis->skipped.size(), 1u);
    EXPECT_EQ(analysis->skipped[0].reason, "too_rotated") << analysis->skipped[0].detail;

    // With the default limit the same face is accepted, rotated by about the 20 degrees applied.
    auto lenient = MakeAnalyzer();
    auto accepted = lenient->Analyze(rotated);
    ASSERT_TRUE(accepted);
    ASSERT_EQ(accepted->faces.size(), 1u);
    EXPECT_NEAR(std::abs(accepted->faces[0].roll_degrees), 20.0, 6.0);
}

TEST(FaceAnalyzerTest, LandscapeHasNoFace) {
    const Image landscape = testing::SyntheticLandscape(640, 427);
    auto analyzer = MakeAnalyzer();
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(MatView(landscape));
    ASSERT_TRUE(analysis);
    EXPECT_TRUE(analysis->faces.empty());
    EXPECT_TRUE(analysis->skipped.empty());
    const Error error = NoFaceError(*analysis);
    EXPECT_EQ(error.Name(), "NO_FACE");
}

TEST(FaceAnalyzerTest, RejectsNonRgbInput) {
    auto analyzer = MakeAnalyzer();
    ASSERT_TRUE(analyzer);
    auto analysis = analyzer->Analyze(cv::Mat::zeros(64, 64, CV_8UC1));
    ASSERT_FALSE(analysis);
    EXPECT_EQ(analysis.error().code, ErrorCode::kInvalidArgument);
}

TEST(FaceAnalyzerTest, MissingLandmarkModelIsUnavailable) {
    FaceAnalyzerConfig config;
    config.predictor_path = "/nonexistent/shape_predictor.dat";
    auto analyzer = FaceAnalyzer::Create(config);
    ASSERT_FALSE(analyzer);
    EXPECT_EQ(analyzer.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(analyzer.error().message.find("libdlib-data"), std::string::npos);
}

}  // namespace
}  // namespace labhouse::faces
