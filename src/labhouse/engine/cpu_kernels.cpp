#include "labhouse/engine/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LABHOUSE_X86 1
#endif

// Each kernel body is an inline `Name##Body`; DISPATCH defines the public `Name` that runs an
// AVX2+FMA build of it when the CPU has those (checked once) and the baseline build otherwise.
// (GCC's target_clones("arch=haswell") would select by CPU model, so a Zen 3 got the baseline.)
#ifdef LABHOUSE_X86
#define LABHOUSE_DISPATCH(Name, Params, Args)                                              \
    namespace {                                                                            \
    __attribute__((target("avx2,fma"), flatten)) void Name##Avx2 Params { Name##Body Args; } \
    __attribute__((flatten)) void Name##Base Params { Name##Body Args; }                   \
    }                                                                                      \
    void Name Params {                                                                     \
        static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); \
        if (avx2) {                                                                        \
            Name##Avx2 Args;                                                               \
        } else {                                                                           \
            Name##Base Args;                                                               \
        }                                                                                  \
    }
#else
#define LABHOUSE_DISPATCH(Name, Params, Args) \
    void Name Params { Name##Body Args; }
#endif

namespace labhouse::engine::kernels {
namespace {

inline float HalfBitsToFloat(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t man = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);  // inf / nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exp = 113;
        while ((man & 0x400u) == 0) {
            man <<= 1;
            --exp;
        }
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

// exp(x) for float, Cephes-style (range reduction to [-ln2/2, ln2/2] and a degree-6 polynomial,
// ~1 ulp); written so that GCC vectorises the loops that call it.
inline float FastExp(float x) {
    x = std::min(88.3762626647949f, std::max(-88.3762626647949f, x));
    float fx = std::floor(x * 1.44269504088896341f + 0.5f);
    x = x - fx * 0.693359375f + fx * 2.12194440e-4f;
    const float z = x * x;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    const std::int32_t e = (static_cast<std::int32_t>(fx) + 127) << 23;
    float scale;
    std::memcpy(&scale, &e, sizeof(scale));
    return y * scale;
}

#ifdef LABHOUSE_X86
__attribute__((target("avx,f16c"))) void HalfToFloatF16c(const std::uint16_t* in, float* out, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) out[i] = HalfBitsToFloat(in[i]);
}
#endif

}  // namespace

void HalfToFloat(const std::uint16_t* in, float* out, std::size_t n) {
#ifdef LABHOUSE_X86
    static const bool f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    if (f16c) {
        HalfToFloatF16c(in, out, n);
        return;
    }
#endif
    for (std::size_t i = 0; i < n; ++i) out[i] = HalfBitsToFloat(in[i]);
}

namespace {

inline void BFloat16ToFloatBody(const std::uint16_t* in, float* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t bits = static_cast<std::uint32_t>(in[i]) << 16;
        std::memcpy(out + i, &bits, sizeof(float));
    }
}

inline void SoftmaxRowsBody(float* x, std::size_t rows, std::size_t cols, std::size_t stride) {
    for (std::size_t r = 0; r < rows; ++r) {
        float* row = x + r * stride;
        float m = row[0];
#pragma omp simd reduction(max : m)
        for (std::size_t c = 1; c < cols; ++c) m = std::max(m, row[c]);
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (std::size_t c = 0; c < cols; ++c) {
            row[c] = FastExp(row[c] - m);
            s += row[c];
        }
        const float inv = 1.0f / s;
        for (std::size_t c = 0; c < cols; ++c) row[c] *= inv;
    }
}

}  // namespace

LABHOUSE_DISPATCH(BFloat16ToFloat, (const std::uint16_t* in, float* out, std::size_t n), (in, out, n))
LABHOUSE_DISPATCH(SoftmaxRows, (float* x, std::size_t rows, std::size_t cols, std::size_t stride), (x, rows, cols, stride))

}  // namespace labhouse::engine::kernels
