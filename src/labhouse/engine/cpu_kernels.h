// Plain CPU kernels the engine uses where ATen 1.13 is slow here (no torch in this file): f16/bf16
// -> f32 weight conversion (ATen's copy ran at ~18 ns per element) and the attention's in-place
// row softmax (ATen's softmax took ~40 ns per element). Each function works on one slice; the
// callers split the work across threads. AVX2/FMA/F16C builds where the CPU has them.
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

}  // namespace labhouse::engine::kernels
