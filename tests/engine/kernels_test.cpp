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

}  // namespace
}  // namespace labhouse::engine::kernels
