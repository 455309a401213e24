// The engine's plain CPU kernels (cpu_kernels.h) against scalar references.
#include "labhouse/engine/cpu_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace labhouse::engine::kernels {
namespace {

TEST(CpuKernelsTest, HalfToFloatConvertsNormalsSubnormalsAndSpecials) {
    // 19 values: more than two AVX blocks of 8 plus a scalar tail.
    const std::vector<std::uint16_t> in = {0x3c00, 0xc000, 0x0000, 0x8000, 0x0001, 0x03ff, 0x7bff, 0xfbff, 0x7c00, 0xfc00,
                                           0x3555, 0x4248, 0x0400, 0x3800, 0x5640, 0x1400, 0xbc00, 0x3e00, 0x7e00};
    const std::vector<float> want = {1.0f,     -2.0f,     0.0f,     -0.0f, std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24),
                                     65504.0f, -65504.0f, INFINITY, -INFINITY, 0.333251953125f, 3.140625f,
                                     std::ldexp(1.0f, -14), 0.5f, 100.0f, std::ldexp(1.0f, -10), -1.0f, 1.5f, NAN};
    std::vector<float> out(in.size());
    HalfToFloat(in.data(), out.data(), in.size());
    for (std::size_t i = 0; i + 1 < in.size(); ++i) EXPECT_EQ(out[i], want[i]) << "element " << i;
    EXPECT_TRUE(std::isnan(out.back()));
    EXPECT_TRUE(std::signbit(out[3]));
}

TEST(CpuKernelsTest, BFloat16ToFloatIsTheHighHalf) {
    const std::vector<std::uint16_t> in = {0x3f80, 0xc000, 0x4049, 0x0000, 0x7f80};
    std::vector<float> out(in.size());
    BFloat16ToFloat(in.data(), out.data(), in.size());
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_EQ(out[1], -2.0f);
    EXPECT_EQ(out[2], 3.140625f);
    EXPECT_EQ(out[3], 0.0f);
    EXPECT_EQ(out[4], INFINITY);
}

TEST(CpuKernelsTest, SoftmaxRowsMatchesDoubleReferenceWithStrideAndMaskedEntries) {
    const std::size_t rows = 3, cols = 77, stride = 80;
    std::vector<float> x(rows * stride, 123.0f);  // the stride padding must stay untouched
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) x[r * stride + c] = std::sin(0.37f * c + r) * 30.0f;
    }
    x[5] = -std::numeric_limits<float>::infinity();  // a causal-mask entry
    const std::vector<float> in = x;
    SoftmaxRows(x.data(), rows, cols, stride);
    for (std::size_t r = 0; r < rows; ++r) {
        double max = -INFINITY, sum = 0;
        for (std::size_t c = 0; c < cols; ++c) max = std::max(max, static_cast<double>(in[r * stride + c]));
        for (std::size_t c = 0; c < cols; ++c) sum += std::exp(in[r * stride + c] - max);
        for (std::size_t c = 0; c < cols; ++c) {
            const double want = std::exp(in[r * stride + c] - max) / sum;
            // FastExp: ~1e-7 relative near 0, a few 1e-6 for arguments near -40 (range reduction).
            EXPECT_NEAR(x[r * stride + c], want, 1e-5 * want + 1e-30) << r << "," << c;
        }
        for (std::size_t c = cols; c < stride; ++c) EXPECT_EQ(x[r * stride + c], 123.0f);
    }
    EXPECT_LT(x[5], 1e-30f);
}

// Every tile remainder of both vector builds (4x6 and 3x4 tiles, 16- and 8-lane k steps with a
// masked tail), with and without bias, into a wider output whose padding must stay untouched.
TEST(CpuKernelsTest, GemmNTMatchesDoubleReferenceOnEveryBuildAndRemainder) {
    std::vector<GemmNTBuild> builds = {GemmNTBuild::kBase};
    for (GemmNTBuild build : {GemmNTBuild::kAvx2, GemmNTBuild::kAvx512})
        if (GemmNTRunsOn(build)) builds.push_back(build);
    std::uint32_t state = 12345;
    auto next = [&] {
        state = state * 1664525u + 1013904223u;
        return static_cast<float>(state >> 8) / static_cast<float>(1u << 24) - 0.5f;
    };
    for (GemmNTBuild build : builds) {
        for (std::size_t m : {1, 2, 3, 4, 5, 7, 9, 77}) {
            for (std::size_t n : {1, 2, 3, 4, 5, 6, 7, 11, 13}) {
                for (std::size_t k : {1, 7, 8, 15, 16, 17, 33, 64}) {
                    for (bool with_bias : {false, true}) {
                        std::vector<float> x(m * k), w(n * k), bias(n);
                        for (float& v : x) v = next();
                        for (float& v : w) v = next();
                        for (float& v : bias) v = next();
                        const std::size_t ldo = n + 3;
                        std::vector<float> out(m * ldo, 7.0f);
                        GemmNTOn(build, x.data(), m, k, w.data(), n, with_bias ? bias.data() : nullptr, out.data(),
                                 ldo);
                        for (std::size_t i = 0; i < m; ++i) {
                            for (std::size_t j = 0; j < ldo; ++j) {
                                const float got = out[i * ldo + j];
                                if (j >= n) {
                                    ASSERT_EQ(got, 7.0f) << "padding written at " << i << "," << j;
                                    continue;
                                }
                                double want = with_bias ? bias[j] : 0.0;
                                for (std::size_t l = 0; l < k; ++l) want += double(x[i * k + l]) * w[j * k + l];
                                ASSERT_NEAR(got, want, 1e-5 * (1.0 + static_cast<double>(k)))
                                    << "build " << static_cast<int>(build) << " m " << m << " n " << n << " k " << k
                                    << " bias " << with_bias << " at " << i << "," << j;
                            }
                        }
                    }
                }
            }
        }
    }
    // GemmNT itself runs the best build the CPU has.
    const std::vector<float> x = {1, 2, 3}, w = {4, 5, 6, -1, 0, 1};
    std::vector<float> out(2);
    GemmNT(x.data(), 1, 3, w.data(), 2, nullptr, out.data(), 2);
    EXPECT_EQ(out[0], 32.0f);
    EXPECT_EQ(out[1], 2.0f);
}

}  // namespace
}  // namespace labhouse::engine::kernels
