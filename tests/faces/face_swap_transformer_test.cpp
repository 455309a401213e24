// The "face-swap" backend end to end on the Debian photos: it changes the face, leaves the rest
// of the photo alone, and fails the job cleanly when there is no face.
#include "labhouse/adapters/faces/face_swap_transformer.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_geometry.h"
#include "tests/faces/face_test_support.h"

namespace labhouse::faces {
namespace {

using testing::kAstronautPath;
using testing::kHopperPath;
using testing::kIceBlockPath;
using testing::LoadImage;
using testing::RecordingReporter;

Result<TransformOutput> RunSwap(FaceSwapTransformer& transformer, const Image& photo,
                                const std::map<std::string, Image>& extra, RecordingReporter& reporter,
                                JobParams params = {}) {
    params.backend = "face-swap";
    for (const auto& [key, image] : extra) params.options[key] = "blob-" + key;
    return transformer.Transform({photo, params, nullptr, extra}, reporter);
}

TEST(FaceSwapTransformerTest, SwapsTheAstronautOntoHopperAndLeavesTheRestUntouched) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    const Image hopper = LoadImage(kHopperPath);
    FaceSwapTransformer transformer({});
    RecordingReporter reporter;
    auto out = RunSwap(transformer, hopper, {{"reference_image", LoadImage(kAstronautPath)}}, reporter);
    ASSERT_TRUE(out) << out.error().message;
    ASSERT_EQ(out->image.width, hopper.width);
    ASSERT_EQ(out->image.height, hopper.height);
    EXPECT_EQ(out->meta.at("faces"), "1");
    EXPECT_EQ(out->meta.at("reference"), "upload");

    auto analyzer = FaceAnalyzer::Create({});
    ASSERT_TRUE(analyzer);
    auto analysis = (*analyzer)->Analyze(MatView(hopper));
    ASSERT_TRUE(analysis);
    ASSERT_EQ(analysis->faces.size(), 1u);
    const FaceLandmarks& face = analysis->faces[0];
    const cv::Mat before = MatView(hopper);
    const cv::Mat after = MatView(out->image);

    // The middle of the face (eyes to mouth) has changed noticeably.
    const cv::Rect inner = cv::boundingRect(std::vector<cv::Point2f>(face.points.begin() + 36, face.points.end()));
    EXPECT_GT(testing::MeanAbsDiff(before, after, inner), 8.0);

    // Pixels outside the landmark region (grown by 8 px) are bit-identical.
    const cv::Rect region = FaceRegion(face, 8, before.size());
    cv::Mat diff;
    cv::absdiff(before, after, diff);
    cv::Mat changed;
    cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
    changed(region).setTo(0);
    EXPECT_EQ(cv::countNonZero(changed), 0) << "pixels changed outside " << region;

    EXPECT_TRUE(reporter.SawStage("detect"));
    EXPECT_TRUE(reporter.SawStage("warp"));
    EXPECT_TRUE(reporter.SawStage("blend"));
    EXPECT_EQ(reporter.reports.back().step, 1);
    EXPECT_EQ(reporter.reports.back().total, 1);
}

TEST(FaceSwapTransformerTest, UsesTheConfiguredReferenceWhenTheJobHasNone) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    FaceSwapConfig config;
    config.reference_face_path = kHopperPath;
    FaceSwapTransformer transformer(config);
    ASSERT_TRUE(transformer.Validate({}, nullptr));
    RecordingReporter reporter;
    const Image astronaut = LoadImage(kAstronautPath);
    auto out = RunSwap(transformer, astronaut, {}, reporter);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->meta.at("reference"), kHopperPath);
    EXPECT_NE(out->image.rgb, astronaut.rgb);
}

TEST(FaceSwapTransformerTest, PhotoWithoutFaceFailsWithNoFace) {
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    FaceSwapTransformer transformer({});
    std::vector<Image> landscapes = {testing::SyntheticLandscape(640, 427)};
    if (std::filesystem::is_regular_file(kIceBlockPath)) landscapes.push_back(LoadImage(kIceBlockPath));
    for (const Image& landscape : landscapes) {
        RecordingReporter reporter;
        auto out = RunSwap(transformer, landscape, {{"reference_image", LoadImage(kAstronautPath)}}, reporter);
        ASSERT_FALSE(out);
        EXPECT_EQ(out.error().reason, "NO_FACE");
        EXPECT_EQ(out.error().Name(), "NO_FACE");
    }
}

TEST(FaceSwapTransformerTest, ReferenceWithoutFaceIsInvalidArgument) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    FaceSwapTransformer transformer({});
    RecordingReporter reporter;
    auto out = RunSwap(transformer, LoadImage(kHopperPath),
                       {{"reference_image", testing::SyntheticLandscape(300, 300)}}, reporter);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(out.error().reason.empty());
    EXPECT_NE(out.error().message.find("reference"), std::string::npos) << out.error().message;
}

TEST(FaceSwapTransformerTest, ValidateRequiresAReference) {
    FaceSwapTransformer none({});
    JobParams params;
    auto missing = none.Validate(params, nullptr);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(missing.error().message.find("reference_image"), std::string::npos);

    params.options["reference_image"] = "blob-1";
    EXPECT_TRUE(none.Validate(params, nullptr));

    FaceSwapConfig config;
    config.reference_face_path = "/nonexistent/face.jpg";
    FaceSwapTransformer broken(config);
    auto gone = broken.Validate({}, nullptr);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(broken.Validate(params, nullptr)) << "an upload overrides the missing default";
}

TEST(FaceSwapTransformerTest, CancelBetweenFacesStopsTheJob) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
    FaceSwapTransformer transformer({});
    RecordingReporter reporter;
    reporter.cancel_after_reports = 2;  // after the two "detect" reports, before the first face
    auto out = RunSwap(transformer, LoadImage(kHopperPath), {{"reference_image", LoadImage(kAstronautPath)}}, reporter);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kCancelled);
    EXPECT_FALSE(reporter.SawStage("blend"));
}

TEST(FaceSwapTransformerTest, StatusNamesTheMissingLandmarkModel) {
    FaceSwapConfig config;
    config.analyzer.predictor_path = "/nonexistent/landmarks.dat";
    FaceSwapTransformer transformer(config);
    const BackendStatus status = transformer.Status();
    EXPECT_FALSE(status.available);
    EXPECT_NE(status.reason.find("/nonexistent/landmarks.dat"), std::string::npos);
    EXPECT_EQ(transformer.Name(), "face-swap");
    EXPECT_TRUE(FaceSwapTransformer({}).Status().available);
}

}  // namespace
}  // namespace labhouse::faces
