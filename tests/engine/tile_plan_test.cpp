// VAE tiling without torch: the option's rules, the tile grid and the blend weights.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "labhouse/engine/vae_tiling.h"

namespace labhouse::engine {
namespace {

TEST(VaeTileOptionTest, AcceptsAutoOffAndMultiplesOf64InRange) {
    for (int ok : {0, -1, 256, 320, 512, 1024, 4096}) EXPECT_TRUE(ValidateVaeTile(ok)) << ok;
    for (int bad : {-2, 1, 64, 192, 255, 300, 4160, INT_MAX, INT_MIN}) {
        const Status status = ValidateVaeTile(bad);
        ASSERT_FALSE(status) << bad;
        EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(status.error().message.find("got " + std::to_string(bad)), std::string::npos) << bad;
    }
}

TEST(VaeTileOptionTest, ResolvesAutoOffAndOneTileToUntiled) {
    EXPECT_EQ(ResolveVaeTiling(0, 1024, 1024).Describe(), "off");  // SDXL base's native size stays untiled
    EXPECT_EQ(ResolveVaeTiling(0, 1088, 1024).Describe(), "512/64");
    EXPECT_EQ(ResolveVaeTiling(0, 4096, 4096).Describe(), "512/64");
    EXPECT_EQ(ResolveVaeTiling(-1, 4096, 4096).Describe(), "off");
    EXPECT_EQ(ResolveVaeTiling(512, 512, 512).Describe(), "off");  // one tile covers it
    EXPECT_EQ(ResolveVaeTiling(256, 384, 256).Describe(), "256/64");
    EXPECT_EQ(ResolveVaeTiling(1024, 2048, 1024).Describe(), "1024/128");
    EXPECT_EQ(VaeTileGrid(ResolveVaeTiling(0, 1088, 1024), 1088, 1024, 8), "3x3");
    EXPECT_EQ(VaeTileGrid(ResolveVaeTiling(256, 384, 320), 384, 320, 8), "2x2");
    EXPECT_EQ(VaeTileGrid(ResolveVaeTiling(256, 640, 256), 640, 256, 8), "1x3");
    EXPECT_EQ(VaeTileGrid(ResolveVaeTiling(-1, 640, 256), 640, 256, 8), "1x1");
}

TEST(TilePlanTest, WorkedExample) {
    // 1024 px at tiles of at most 512 px overlapping by 64 px, in latents: 128 = 3 tiles of 48 (384 px).
    auto axis = PlanTileAxis(128, 64, 8, 1);
    ASSERT_TRUE(axis.has_value());
    EXPECT_EQ(axis->size, 48);
    EXPECT_EQ(axis->starts, (std::vector<std::int64_t>{0, 40, 80}));
    auto pixels = PlanTileAxis(1024, 512, 64, 8);  // the same grid in pixels
    ASSERT_TRUE(pixels.has_value());
    EXPECT_EQ(pixels->size, 384);
    EXPECT_EQ(pixels->starts, (std::vector<std::int64_t>{0, 320, 640}));
    auto one = PlanTileAxis(64, 64, 8, 1);
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(one->starts, (std::vector<std::int64_t>{0}));
    EXPECT_EQ(one->size, 64);
}

TEST(TilePlanTest, EveryPlanCoversTheAxisWithTheFewestTilesAndEnoughOverlap) {
    for (std::int64_t g : {1, 8}) {
        for (std::int64_t max_tile = 2 * g; max_tile <= 24 * g; max_tile += g) {
            for (std::int64_t overlap = 0; overlap < max_tile; overlap += g) {
                for (std::int64_t length = g; length <= 120 * g; length += g) {
                    auto axis = PlanTileAxis(length, max_tile, overlap, g);
                    ASSERT_TRUE(axis.has_value()) << axis.error().message;
                    const auto& s = axis->starts;
                    const std::int64_t n = static_cast<std::int64_t>(s.size()), size = axis->size;
                    const std::string at = "length " + std::to_string(length) + " tile " + std::to_string(max_tile) +
                                           " overlap " + std::to_string(overlap) + " g " + std::to_string(g);
                    if (length <= max_tile) {
                        ASSERT_EQ(n, 1) << at;
                        ASSERT_EQ(size, length) << at;
                    }
                    ASSERT_LE(size, max_tile) << at;
                    ASSERT_EQ(size % g, 0) << at;
                    ASSERT_EQ(s.front(), 0) << at;
                    ASSERT_EQ(s.back() + size, length) << at;
                    for (std::int64_t i = 0; i + 1 < n; ++i) {
                        ASSERT_EQ(s[i] % g, 0) << at;
                        ASSERT_LT(s[i], s[i + 1]) << at;
                        ASSERT_GE(s[i] + size - s[i + 1], overlap) << at;  // neighbours overlap enough
                    }
                    // Fewest: one tile fewer of the largest size could not cover the axis.
                    if (n > 1) {
                        ASSERT_LT((n - 1) * max_tile - (n - 2) * overlap, length) << at;
                    }
                }
            }
        }
    }
}

TEST(TilePlanTest, BadArgumentsAreRefused) {
    EXPECT_FALSE(PlanTileAxis(0, 64, 8, 1));
    EXPECT_FALSE(PlanTileAxis(128, 0, 0, 1));
    EXPECT_FALSE(PlanTileAxis(128, 64, 64, 1));   // overlap as large as the tile
    EXPECT_FALSE(PlanTileAxis(128, 64, -1, 1));
    EXPECT_FALSE(PlanTileAxis(100, 64, 8, 8));    // length off the granularity
    EXPECT_FALSE(PlanTileAxis(128, 60, 8, 8));    // tile off the granularity
    EXPECT_FALSE(PlanTileAxis(128, 64, 4, 8));    // overlap off the granularity
    EXPECT_FALSE(PlanTileAxis(128, 64, 8, 0));
}

// The weights of the tiles covering each output position sum to one (up to float rounding), are
// positive, 1 outside overlaps, and rise linearly across an overlap of two tiles.
TEST(TilePlanTest, BlendWeightsArePartitionsOfOneWithLinearRamps) {
    struct Case {
        std::int64_t length, tile, overlap, g, num, den;
    };
    for (const Case& c : {Case{128, 64, 8, 1, 8, 1}, Case{40, 16, 6, 1, 8, 1}, Case{15, 4, 3, 1, 1, 1},
                          Case{1024, 512, 64, 8, 1, 8}, Case{200, 64, 16, 8, 1, 8}, Case{30, 30, 4, 1, 1, 1}}) {
        auto axis = PlanTileAxis(c.length, c.tile, c.overlap, c.g);
        ASSERT_TRUE(axis.has_value());
        const auto weights = TileBlendWeights(*axis, c.num, c.den);
        ASSERT_EQ(weights.size(), axis->starts.size());
        const std::int64_t out_len = c.length * c.num / c.den, out_size = axis->size * c.num / c.den;
        std::vector<double> sum(static_cast<std::size_t>(out_len), 0.0);
        std::vector<int> cover(static_cast<std::size_t>(out_len), 0);
        for (std::size_t i = 0; i < weights.size(); ++i) {
            ASSERT_EQ(static_cast<std::int64_t>(weights[i].size()), out_size);
            const std::int64_t begin = axis->starts[i] * c.num / c.den;
            for (std::int64_t j = 0; j < out_size; ++j) {
                const float w = weights[i][static_cast<std::size_t>(j)];
                ASSERT_GT(w, 0.0f);
                ASSERT_LE(w, 1.0f);
                sum[static_cast<std::size_t>(begin + j)] += w;
                ++cover[static_cast<std::size_t>(begin + j)];
            }
        }
        for (std::int64_t x = 0; x < out_len; ++x) {
            ASSERT_NEAR(sum[static_cast<std::size_t>(x)], 1.0, 1e-6) << "position " << x << " of " << out_len;
            if (cover[static_cast<std::size_t>(x)] == 1) {
                ASSERT_EQ(sum[static_cast<std::size_t>(x)], 1.0);
            }
        }
        if (weights.size() >= 2) {
            // Tile 1 across its overlap with tile 0 (which only these two cover when the grid has two
            // or the overlaps do not chain): a ramp with a constant step.
            const std::int64_t begin = axis->starts[1] * c.num / c.den;
            const std::int64_t len = axis->starts[0] * c.num / c.den + out_size - begin;
            ASSERT_GE(len, 2);
            if (weights.size() == 2 || cover[static_cast<std::size_t>(begin + len - 1)] == 2) {
                const double step = weights[1][1] - weights[1][0];
                EXPECT_NEAR(step, 1.0 / static_cast<double>(len), 1e-6);
                for (std::int64_t j = 1; j < len; ++j) {
                    EXPECT_NEAR(weights[1][static_cast<std::size_t>(j)] - weights[1][static_cast<std::size_t>(j - 1)],
                                step, 1e-6);
                }
            }
        }
    }
}

}  // namespace
}  // namespace labhouse::engine
