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

// GemmNT: the plain build here, the vector builds from gemm_nt_body.inc (dot products of x and w
// rows in register tiles, see there) below.
namespace {

void GemmNTBase(const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n, const float* bias,
                float* out, std::size_t ldo) {
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            float sum = 0;
            for (std::size_t l = 0; l < k; ++l) sum += x[i * k + l] * w[j * k + l];
            out[i * ldo + j] = sum + (bias != nullptr ? bias[j] : 0.0f);
        }
    }
}

}  // namespace

#ifdef LABHOUSE_X86
// The vector builds: the primitives gemm_nt_body.inc needs, then the body compiled for the target.
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
namespace {
using Vec = __m512;
constexpr int kLanes = 16, kMR = 4, kNR = 6;  // 32 registers: 24 accumulators, 4 x, 1 w
__attribute__((always_inline)) inline Vec Zero() { return _mm512_setzero_ps(); }
__attribute__((always_inline)) inline Vec Load(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((always_inline)) inline Vec LoadFirst(const float* p, std::size_t count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
}
__attribute__((always_inline)) inline Vec Fma(Vec a, Vec b, Vec acc) { return _mm512_fmadd_ps(a, b, acc); }
// (Masked forms, not _mm512_reduce_add_ps or the unmasked ones: in GCC 12 those take an
// "undefined" vector that -Wuninitialized reports.)
__attribute__((always_inline)) inline float SumLanes(Vec v) {
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0x4e));  // + the other 256-bit half
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0xb1));  // + the neighbouring 128 bits
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xffff, v, 0x4e));        // + the other 64 bits
    return _mm512_cvtss_f32(_mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xffff, v, 0xb1)));
}
#include "labhouse/engine/gemm_nt_body.inc"
}  // namespace
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
namespace {
using Vec = __m256;
constexpr int kLanes = 8, kMR = 3, kNR = 4;  // 16 registers: 12 accumulators, 3 x, 1 w
__attribute__((always_inline)) inline Vec Zero() { return _mm256_setzero_ps(); }
__attribute__((always_inline)) inline Vec Load(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((always_inline)) inline Vec LoadFirst(const float* p, std::size_t count) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lanes));
}
__attribute__((always_inline)) inline Vec Fma(Vec a, Vec b, Vec acc) { return _mm256_fmadd_ps(a, b, acc); }
__attribute__((always_inline)) inline float SumLanes(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#include "labhouse/engine/gemm_nt_body.inc"
}  // namespace
}  // namespace avx2
#pragma GCC pop_options
#endif

bool GemmNTRunsOn(GemmNTBuild build) {
#ifdef LABHOUSE_X86
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return build == GemmNTBuild::kBase || (build == GemmNTBuild::kAvx2 && avx2) ||
           (build == GemmNTBuild::kAvx512 && avx512);
#else
    return build == GemmNTBuild::kBase;
#endif
}

GemmNTBuild GemmNTBestBuild() {
    static const GemmNTBuild best = GemmNTRunsOn(GemmNTBuild::kAvx512) ? GemmNTBuild::kAvx512
                                    : GemmNTRunsOn(GemmNTBuild::kAvx2) ? GemmNTBuild::kAvx2
                                                                       : GemmNTBuild::kBase;
    return best;
}

void GemmNTOn(GemmNTBuild build, const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n,
              const float* bias, float* out, std::size_t ldo) {
    if (!GemmNTRunsOn(build)) build = GemmNTBuild::kBase;
    switch (build) {
#ifdef LABHOUSE_X86
        case GemmNTBuild::kAvx512: return avx512::GemmNT(x, m, k, w, n, bias, out, ldo);
        case GemmNTBuild::kAvx2: return avx2::GemmNT(x, m, k, w, n, bias, out, ldo);
#endif
        default: return GemmNTBase(x, m, k, w, n, bias, out, ldo);
    }
}

void GemmNT(const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n, const float* bias, float* out,
            std::size_t ldo) {
    GemmNTOn(GemmNTBestBuild(), x, m, k, w, n, bias, out, ldo);
}

}  // namespace labhouse::engine::kernels
