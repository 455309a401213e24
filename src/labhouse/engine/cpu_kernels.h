// Plain CPU kernels the engine uses where ATen 1.13 is slow here (no torch in this file): f16/bf16
// -> f32 weight conversion (ATen's copy ran at ~18 ns per element), the attention's in-place row
// softmax (ATen's softmax took ~40 ns per element) and x W^T for few rows. Each function works on
// one slice; the callers split the work across threads. AVX2/FMA/F16C builds where the CPU has them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace labhouse::engine::kernels {

// IEEE binary16 / bfloat16 -> float32, n elements.
void HalfToFloat(const std::uint16_t* in, float* out, std::size_t n);
void BFloat16ToFloat(const std::uint16_t* in, float* out, std::size_t n);

// In place: row = exp(row - max(row)) / sum, for `rows` rows of `cols` contiguous values with
// `stride` between rows.
void SoftmaxRows(float* x, std::size_t rows, std::size_t cols, std::size_t stride);

// out[i * ldo + j] = bias[j] + sum_k x[i * k + l] * w[j * k + l] for i < m, j < n: x W^T on
// row-major fp32 x [m, k] and w [n, k] (bias may be null). Made for few rows (the text encoders'
// 77 tokens), where it keeps each block of x and w rows in registers and reads both along k
// (no packing, no transposition); large m is left to oneDNN. Single-threaded: callers split n.
void GemmNT(const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n, const float* bias, float* out,
            std::size_t ldo);
// GemmNT's builds: GemmNT runs the best one the CPU has; tests run each with GemmNTOn.
enum class GemmNTBuild { kBase, kAvx2, kAvx512 };
GemmNTBuild GemmNTBestBuild();
bool GemmNTRunsOn(GemmNTBuild build);  // the CPU has what the build needs
void GemmNTOn(GemmNTBuild build, const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n,
              const float* bias, float* out, std::size_t ldo);

}  // namespace labhouse::engine::kernels
