#include "labhouse/adapters/stability/image_fitting.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/testing/test_images.h"

namespace labhouse::stability {
namespace {

using labhouse::testing::GradientImage;

double Aspect(Size s) { return static_cast<double>(s.width) / s.height; }

TEST(SdxlFit, PicksTheAllowedSizeOfTheClosestAspect) {
    const std::vector<std::pair<Size, Size>> cases = {
        {{4000, 3000}, {1152, 896}},  // 4:3 -> 1.29 (1.46 is farther)
        {{3000, 4000}, {896, 1152}},  // 3:4
        {{1920, 1080}, {1344, 768}},  // 16:9 -> 1.75
        {{1080, 1920}, {768, 1344}},
        {{1000, 1000}, {1024, 1024}},
        {{1500, 1000}, {1216, 832}},  // 3:2 -> 1.46
        {{3000, 1000}, {1536, 640}},  // 3:1 -> the widest allowed, 2.4
        {{600, 1500}, {640, 1536}},   // 2:5
        {{50, 40}, {1152, 896}},      // 5:4: log distance 0.028 to 1.2857, 0.223 to 1.0
        {{5000, 500}, {1536, 640}},   // wider than anything allowed
    };
    for (const auto& [upload, expected] : cases) {
        EXPECT_EQ(ClosestSdxlSize(upload), expected) << upload.width << "x" << upload.height;
    }
}

TEST(SdxlFit, EveryAllowedSizeMapsToItselfWithoutPadding) {
    for (const Size& size : kSdxlSizes) {
        const SdxlFit fit = PlanSdxlFit(size);
        EXPECT_EQ(fit.canvas, size);
        EXPECT_FALSE(fit.Padded());
        EXPECT_TRUE(IsSdxlSize(size));
    }
    EXPECT_FALSE(IsSdxlSize({1024, 768}));
}

TEST(SdxlFit, ScalesIntoTheCanvasAndCentresWithPadding) {
    const SdxlFit fit = PlanSdxlFit({4000, 3000});
    EXPECT_EQ(fit.canvas, (Size{1152, 896}));
    EXPECT_EQ(fit.content, (Size{1152, 864}));
    EXPECT_EQ(fit.offset_x, 0);
    EXPECT_EQ(fit.offset_y, 16);
    EXPECT_TRUE(fit.Padded());

    const SdxlFit tall = PlanSdxlFit({600, 1500});
    EXPECT_EQ(tall.canvas, (Size{640, 1536}));
    EXPECT_EQ(tall.content, (Size{614, 1536}));
    EXPECT_EQ(tall.offset_x, 13);
    // The content keeps the upload's aspect to within one pixel.
    for (Size upload : {Size{4000, 3000}, Size{1920, 1080}, Size{777, 333}, Size{333, 777}, Size{5000, 500}}) {
        const SdxlFit f = PlanSdxlFit(upload);
        EXPECT_NEAR(f.content.height * Aspect(upload), f.content.width, 0.5 * Aspect(upload) + 0.5) << upload.width << "x" << upload.height;
        EXPECT_LE(f.content.width, f.canvas.width);
        EXPECT_LE(f.content.height, f.canvas.height);
    }
}

TEST(SdxlFit, FitThenCutGivesTheUploadBackAtCanvasScale) {
    const Image upload = GradientImage(400, 300);
    const SdxlFit fit = PlanSdxlFit({400, 300});
    const Image canvas = FitIntoCanvas(upload, fit);
    ASSERT_EQ(canvas.width, 1152);
    ASSERT_EQ(canvas.height, 896);
    // Mirrored padding: the row just above the content mirrors the row just inside it.
    for (int x = 0; x < canvas.width; x += 97) {
        for (int c = 0; c < 3; ++c) {
            EXPECT_EQ(canvas.Pixel(x, fit.offset_y - 1)[c], canvas.Pixel(x, fit.offset_y + 1)[c]);
        }
    }
    const Image cut = CutContent(canvas, fit);
    EXPECT_EQ(cut.width, 1152);
    EXPECT_EQ(cut.height, 864);
    const Image expected = Resize(upload, {1152, 864});
    EXPECT_EQ(cut.rgb, expected.rgb);
}

TEST(SdxlFit, CutScalesAResultOfAnotherSizeToTheCanvasFirst) {
    const SdxlFit fit = PlanSdxlFit({400, 300});
    const Image half = GradientImage(576, 448);
    const Image cut = CutContent(half, fit);
    EXPECT_EQ(cut.width, 1152);
    EXPECT_EQ(cut.height, 864);
}

TEST(SdxlFit, ExtremePanoramaFallsBackToRepeatedEdges) {
    const Image upload = GradientImage(4000, 400);
    const SdxlFit fit = PlanSdxlFit({4000, 400});
    ASSERT_EQ(fit.canvas, (Size{1536, 640}));
    ASSERT_GT(fit.offset_y, fit.content.height);  // too thin to mirror
    const Image canvas = FitIntoCanvas(upload, fit);
    ASSERT_EQ(canvas.height, 640);
    EXPECT_EQ(canvas.Pixel(700, 0)[0], canvas.Pixel(700, fit.offset_y)[0]);
}

TEST(V2Upload, ScalesIntoThePixelBudgetKeepingAspect) {
    auto big = PlanV2Upload({4000, 3000}, 1024 * 1024);
    ASSERT_TRUE(big);
    EXPECT_LE(static_cast<std::int64_t>(big->width) * big->height, 1024 * 1024);
    EXPECT_NEAR(Aspect(*big), 4.0 / 3.0, 0.01);
    auto same = PlanV2Upload({800, 600}, 1024 * 1024);
    ASSERT_TRUE(same);
    EXPECT_EQ(*same, (Size{800, 600}));
    auto tiny = PlanV2Upload({40, 40}, 1024 * 1024);
    ASSERT_TRUE(tiny);
    EXPECT_EQ(*tiny, (Size{64, 64}));
    auto extreme = PlanV2Upload({20000, 40}, 1024 * 1024);
    ASSERT_FALSE(extreme);
    EXPECT_EQ(extreme.error().code, ErrorCode::kInvalidArgument);
}

TEST(V2Upload, CoverResizeGivesExactlyTheTargetWithoutDistortion) {
    const Image square = GradientImage(1024, 1024);
    const Image out = CoverResize(square, {800, 400});
    EXPECT_EQ(out.width, 800);
    EXPECT_EQ(out.height, 400);
    // Centre crop of an 800x800 scaling: the middle column keeps its horizontal position.
    const Image scaled = Resize(square, {800, 800});
    EXPECT_EQ(out.Pixel(400, 0)[0], scaled.Pixel(400, 200)[0]);
}

}  // namespace
}  // namespace labhouse::stability
