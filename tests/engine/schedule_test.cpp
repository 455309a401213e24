#include "labhouse/engine/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace labhouse::engine {
namespace {

// sdxl-reference.md section 6.1 (values given to 6 decimals).
TEST(ScheduleTest, DiscreteSigmasMatchTheReferenceTable) {
    const auto& s = DiscreteSigmas();
    ASSERT_EQ(s.size(), 1000u);
    const std::vector<std::pair<int, double>> expected = {
        {0, 0.029167},   {1, 0.041314},   {249, 0.693205}, {333, 0.932358}, {499, 1.612886}, {666, 2.918307},
        {699, 3.321083}, {749, 4.081729}, {799, 5.087763}, {899, 8.302803}, {999, 14.614641}};
    for (const auto& [t, sigma] : expected) EXPECT_NEAR(s[t], sigma, 2e-6) << "t=" << t;
}

TEST(ScheduleTest, SigmaTimestepRoundTrip) {
    const auto& s = DiscreteSigmas();
    for (int t : {0, 1, 250, 499, 998, 999}) EXPECT_NEAR(SigmaToTimestep(s[t]), t, 1e-9);
    EXPECT_NEAR(TimestepToSigma(499.5), std::sqrt(s[499] * s[500]), 1e-9);  // log-linear interpolation
    EXPECT_NEAR(SigmaToTimestep(TimestepToSigma(123.25)), 123.25, 1e-9);
}

std::vector<double> TableAt(const std::vector<int>& ts) {
    std::vector<double> out;
    for (int t : ts) out.push_back(DiscreteSigmas()[t]);
    out.push_back(0.0);
    return out;
}

void ExpectSigmas(const std::vector<double>& got, const std::vector<double>& want, double tol) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "index " << i;
}

TEST(ScheduleTest, TrailingSpacingIsTheTurboRecipe) {
    // diffusers trailing (section 6.3): 1 -> 999; 2 -> 999, 499; 3 -> 999, 666, 332; 4 -> 999, 749, 499, 249.
    ExpectSigmas(MakeSigmas(Spacing::kTrailing, 1), TableAt({999}), 1e-12);
    ExpectSigmas(MakeSigmas(Spacing::kTrailing, 2), TableAt({999, 499}), 1e-12);
    ExpectSigmas(MakeSigmas(Spacing::kTrailing, 3), TableAt({999, 666, 332}), 1e-12);
    ExpectSigmas(MakeSigmas(Spacing::kTrailing, 4), TableAt({999, 749, 499, 249}), 1e-12);
}

TEST(ScheduleTest, LeadingSpacingWithStepsOffset) {
    ExpectSigmas(MakeSigmas(Spacing::kLeading, 4), TableAt({751, 501, 251, 1}), 1e-12);
    ExpectSigmas(MakeSigmas(Spacing::kLeading, 1), TableAt({1}), 1e-12);
}

TEST(ScheduleTest, KarrasSigmas) {
    ExpectSigmas(MakeSigmas(Spacing::kKarras, 4), {14.6146, 3.1686, 0.4469, 0.0292, 0.0}, 1e-4);
}

TEST(ScheduleTest, NormalSpacing) {
    const auto s = MakeSigmas(Spacing::kNormal, 3);  // t = 999, 499.5, 0
    ExpectSigmas(s, {DiscreteSigmas()[999], TimestepToSigma(499.5), DiscreteSigmas()[0], 0.0}, 1e-12);
}

// The worked img2img examples of section 6.6 (diffusers columns).
TEST(ScheduleTest, Img2ImgStrengthFollowsDiffusers) {
    struct Case {
        Spacing spacing;
        int steps;
        double strength;
        int run;
        double start;
    };
    const std::vector<Case> cases = {
        {Spacing::kTrailing, 20, 0.75, 15, 4.0817}, {Spacing::kTrailing, 20, 0.5, 10, 1.6129},
        {Spacing::kTrailing, 4, 0.5, 2, 1.6129},    {Spacing::kTrailing, 2, 0.5, 1, 1.6129},
        {Spacing::kLeading, 20, 0.75, 15, 3.3478},  {Spacing::kLeading, 20, 0.5, 10, 1.3762},
        {Spacing::kLeading, 4, 0.5, 2, 0.6984},     {Spacing::kLeading, 2, 0.5, 1, 0.0413},
        {Spacing::kTrailing, 1, 1.0, 1, 14.6146},   {Spacing::kTrailing, 10, 0.3, 3, DiscreteSigmas()[299]},
    };
    for (const auto& c : cases) {
        auto sigmas = Img2ImgSigmas(MakeSigmas(c.spacing, c.steps), c.strength);
        ASSERT_TRUE(sigmas.has_value()) << sigmas.error().message;
        EXPECT_EQ(static_cast<int>(sigmas->size()) - 1, c.run)
            << SpacingName(c.spacing) << " " << c.steps << " " << c.strength;
        EXPECT_NEAR(sigmas->front(), c.start, 1e-4) << SpacingName(c.spacing) << " " << c.steps << " " << c.strength;
        EXPECT_EQ(sigmas->back(), 0.0);
    }
}

TEST(ScheduleTest, Img2ImgRejectsZeroSteps) {
    auto none = Img2ImgSigmas(MakeSigmas(Spacing::kTrailing, 1), 0.5);
    ASSERT_FALSE(none.has_value());
    EXPECT_NE(none.error().message.find("steps x strength must be at least 1"), std::string::npos);
    EXPECT_FALSE(Img2ImgSigmas(MakeSigmas(Spacing::kTrailing, 4), 0.0).has_value());
    EXPECT_FALSE(Img2ImgSigmas(MakeSigmas(Spacing::kTrailing, 4), 1.5).has_value());
}

TEST(ScheduleTest, ParsingNames) {
    EXPECT_EQ(*ParseSampler("euler_a"), SamplerKind::kEulerAncestral);
    EXPECT_EQ(*ParseSampler("dpmpp_2m"), SamplerKind::kDpmpp2m);
    EXPECT_FALSE(ParseSampler("ddim").has_value());
    EXPECT_EQ(DefaultSpacing(SamplerKind::kDpmpp2m), Spacing::kKarras);
    EXPECT_EQ(DefaultSpacing(SamplerKind::kEulerAncestral), Spacing::kTrailing);
    EXPECT_FALSE(ParseSpacing("sideways").has_value());
}

}  // namespace
}  // namespace labhouse::engine
