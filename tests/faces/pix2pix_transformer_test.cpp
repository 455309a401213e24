// The "pix2pix" backend end to end: a tiny generator distilled from the face-swap of the
// astronaut onto Grace Hopper, then run as a backend on the Hopper photo.
#include "labhouse/adapters/faces/pix2pix_transformer.h"

#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_geometry.h"
#include "labhouse/adapters/faces/face_swap_transformer.h"
#include "labhouse/pix2pix/pix2pix.h"
#include "tests/faces/face_test_support.h"

namespace labhouse::faces {
namespace {

using testing::kAstronautPath;
using testing::kHopperPath;
using testing::LoadImage;
using testing::LoadRgb;
using testing::RecordingReporter;

constexpr int kCropSize = 64;

class Pix2PixTransformerTest : public ::testing::Test {
protected:
    // Trains once for the suite: A = Hopper's aligned face, B = the same crop after the classic
    // swap (what make-pairs writes). A generator that memorises this one pair is enough to show
    // the backend's plumbing: alignment in, generation, warp back, blend.
    static void SetUpTestSuite() {
        if (!std::filesystem::is_regular_file(kHopperPath) || !std::filesystem::is_regular_file(kAstronautPath)) return;
        scratch_ = new testing::ScratchDir();
        auto analyzer = FaceAnalyzer::Create({});
        ASSERT_TRUE(analyzer);
        const cv::Mat hopper = LoadRgb(kHopperPath);
        auto reference = FindReferenceFace(**analyzer, LoadRgb(kAstronautPath));
        ASSERT_TRUE(reference);
        auto analysis = (*analyzer)->Analyze(hopper);
        ASSERT_TRUE(analysis);
        ASSERT_EQ(analysis->faces.size(), 1u);
        swapped_ = new cv::Mat(hopper.clone());
        ASSERT_TRUE(SwapFace(*swapped_, analysis->faces[0], reference->photo, reference->face));
        const AlignedFace a = AlignFace(hopper, analysis->faces[0], kCropSize);
        cv::Mat b;
        cv::warpAffine(*swapped_, b, a.photo_to_crop, a.crop.size(), cv::INTER_AREA, cv::BORDER_REFLECT_101);

        pix2pix::Pix2PixConfig config;
        config.image_size = kCropSize;
        config.base_filters = 16;
        config.depth = 6;
        auto model = pix2pix::Pix2PixModel::Create(config, 1);
        ASSERT_TRUE(model);
        pix2pix::TrainOptions options;
        options.epochs = 150;
        options.flip = false;
        auto summary = model->Train({{ToImage(a.crop), ToImage(b)}}, options);
        ASSERT_TRUE(summary) << summary.error().message;
        model_path_ = (scratch_->path() / "tiny.pt").string();
        ASSERT_TRUE(model->Save(model_path_, /*training_state=*/false));
    }
    static void TearDownTestSuite() {
        delete scratch_;
        delete swapped_;
    }
    void SetUp() override {
        LABHOUSE_REQUIRE_PHOTO(kHopperPath);
        LABHOUSE_REQUIRE_PHOTO(kAstronautPath);
        ASSERT_FALSE(model_path_.empty()) << "training the tiny model failed";
    }

    static inline testing::ScratchDir* scratch_ = nullptr;
    static inline cv::Mat* swapped_ = nullptr;
    static inline std::string model_path_;
};

TEST_F(Pix2PixTransformerTest, ReproducesTheDistilledSwapAndLeavesTheRestUntouched) {
    Pix2PixTransformer transformer({model_path_, {}, 16});
    ASSERT_TRUE(transformer.Status().available) << transformer.Status().reason;
    const Image hopper = LoadImage(kHopperPath);
    JobParams params;
    params.backend = "pix2pix";
    ASSERT_TRUE(transformer.Validate(params, nullptr));
    RecordingReporter reporter;
    const std::map<std::string, Image> none;
    auto out = transformer.Transform({hopper, params, nullptr, none}, reporter);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->meta.at("faces"), "1");
    EXPECT_EQ(out->meta.at("model_size"), std::to_string(kCropSize));
    EXPECT_TRUE(reporter.SawStage("generate"));
    EXPECT_TRUE(reporter.SawStage("blend"));

    auto analyzer = FaceAnalyzer::Create({});
    auto analysis = (*analyzer)->Analyze(MatView(hopper));
    ASSERT_TRUE(analysis);
    const FaceLandmarks& face = analysis->faces.at(0);
    const cv::Mat before = MatView(hopper);
    const cv::Mat after = MatView(out->image);
    // Inside the face the result has moved towards the face-swap it was trained on.
    const cv::Rect inner = cv::boundingRect(std::vector<cv::Point2f>(face.points.begin() + 36, face.points.end()));
    const double original_to_swap = testing::MeanAbsDiff(before, *swapped_, inner);
    const double result_to_swap = testing::MeanAbsDiff(after, *swapped_, inner);
    std::printf("pix2pix backend: face region distance to the swap %.2f (original %.2f)\n", result_to_swap,
                original_to_swap);
    EXPECT_GT(testing::MeanAbsDiff(before, after, inner), 5.0);
    EXPECT_LT(result_to_swap, original_to_swap * 0.8);

    // Outside the landmark region nothing changed.
    const cv::Rect region = FaceRegion(face, 8, before.size());
    cv::Mat diff, changed;
    cv::absdiff(before, after, diff);
    cv::cvtColor(diff, changed, cv::COLOR_RGB2GRAY);
    changed(region).setTo(0);
    EXPECT_EQ(cv::countNonZero(changed), 0);
}

// The remaining tests need a model file but not a trained one.
std::string UntrainedModel(const testing::ScratchDir& dir) {
    pix2pix::Pix2PixConfig config;
    config.image_size = 32;
    config.base_filters = 4;
    config.depth = 5;
    auto model = pix2pix::Pix2PixModel::Create(config);
    EXPECT_TRUE(model);
    const std::string path = (dir.path() / "untrained.pt").string();
    EXPECT_TRUE(model->Save(path, false));
    return path;
}

TEST(Pix2PixTransformerBasicsTest, LandscapeFailsWithNoFace) {
    testing::ScratchDir dir;
    Pix2PixTransformer transformer({UntrainedModel(dir), {}, 16});
    RecordingReporter reporter;
    const std::map<std::string, Image> none;
    const Image landscape = testing::SyntheticLandscape(480, 320);
    auto out = transformer.Transform({landscape, JobParams{}, nullptr, none}, reporter);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().Name(), "NO_FACE");
}

TEST(Pix2PixTransformerBasicsTest, UnavailableWithAReasonWithoutAUsableModel) {
    LABHOUSE_REQUIRE_PHOTO(kHopperPath);
    testing::ScratchDir dir;
    Pix2PixTransformer unconfigured({});
    EXPECT_FALSE(unconfigured.Status().available);
    EXPECT_NE(unconfigured.Status().reason.find("LABHOUSE_PIX2PIX_MODEL"), std::string::npos);

    Pix2PixTransformer missing({(dir.path() / "absent.pt").string(), {}, 16});
    EXPECT_FALSE(missing.Status().available);
    EXPECT_NE(missing.Status().reason.find("not found"), std::string::npos);

    const std::string junk = (dir.path() / "junk.pt").string();
    std::ofstream(junk) << "not a model";
    Pix2PixTransformer broken({junk, {}, 16});
    EXPECT_TRUE(broken.Status().available) << "a file that exists is only checked when loaded";
    RecordingReporter reporter;
    const std::map<std::string, Image> none;
    auto out = broken.Transform({LoadImage(kHopperPath), JobParams{}, nullptr, none}, reporter);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(broken.Status().available);
    EXPECT_NE(broken.Status().reason.find("failed to load"), std::string::npos);
}

}  // namespace
}  // namespace labhouse::faces
