#include "labhouse/engine/rng.h"

#include <gtest/gtest.h>

namespace labhouse::engine {
namespace {

// sdxl-reference.md section 7.3: A1111 rng_philox.py docstring, seed 0, shape (3, 4).
TEST(RngTest, CudaModeReproducesThePublishedPhiloxValues) {
    PhiloxRandn rng(0);
    const std::vector<float> expected = {-0.92466259f, -0.42534415f, -2.6438457f,  0.14518388f,
                                         -0.12086647f, -0.57972564f, -0.62285122f, -0.32838709f,
                                         -1.07454231f, -0.36314407f, -1.67105067f, 2.26550497f};
    const auto got = rng.Randn(12);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 2e-6) << i;
}

TEST(RngTest, PhiloxElementsDependOnlyOnSeedCallAndIndex) {
    PhiloxRandn a(0), b(0);
    const auto small = a.Randn(4);
    const auto large = b.Randn(16384);  // a 512x512 latent
    for (int i = 0; i < 4; ++i) EXPECT_EQ(small[i], large[i]);
    EXPECT_NE(a.Randn(4)[0], small[0]);  // the second call uses the next offset
    PhiloxRandn other(1);
    EXPECT_NE(other.Randn(4)[0], small[0]);
}

// Section 7.2: torch.manual_seed(0); torch.randn(6) and torch.randn(16)[:6].
TEST(RngTest, CpuModeReproducesTorchRandn) {
    Mt19937Randn small(0);
    const auto six = small.Randn(6);
    const std::vector<float> expected_six = {1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f, -1.3986f};
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(six[i], expected_six[i], 1e-4) << i;
    Mt19937Randn large(0);
    const auto sixteen = large.Randn(16);
    const std::vector<float> expected_16 = {-1.1258f, -1.1524f, -0.2506f, -0.4339f, 0.8487f, 0.6920f};
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(sixteen[i], expected_16[i], 1e-4) << i;
}

TEST(RngTest, SameSeedSameStream) {
    for (RngMode mode : {RngMode::kCpu, RngMode::kCuda}) {
        auto a = MakeNoiseRng(mode, 1234);
        auto b = MakeNoiseRng(mode, 1234);
        EXPECT_EQ(a->Randn(100), b->Randn(100));
        EXPECT_EQ(a->Randn(37), b->Randn(37));
        auto c = MakeNoiseRng(mode, 1235);
        EXPECT_NE(c->Randn(100), MakeNoiseRng(mode, 1234)->Randn(100));
    }
    EXPECT_EQ(*ParseRngMode("cuda"), RngMode::kCuda);
    EXPECT_FALSE(ParseRngMode("quantum").has_value());
}

}  // namespace
}  // namespace labhouse::engine
