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

// GemmNT. Each output is a dot product of an x row and a w row, both contiguous along k: a tile of
// MR x rows by NR w rows keeps MR * NR vector accumulators, loads MR + NR vectors per step of k
// and sums each accumulator across its lanes at the end. w rows are the outer loop: a tile's
// w rows stay in cache while all of x (77 rows: 0.4-1.6 MB) streams past.
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

#ifdef LABHOUSE_X86
// (Masked forms, not _mm512_reduce_add_ps or the unmasked ones: in GCC 12 those take an
// "undefined" vector that -Wuninitialized reports.)
__attribute__((target("avx512f"))) inline float SumLanes(__m512 v) {
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0x4e));  // + the other 256-bit half
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xffff, v, v, 0xb1));  // + the neighbouring 128-bit lane
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xffff, v, 0x4e));  // + the other 64-bit half of each lane
    return _mm512_cvtss_f32(_mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xffff, v, 0xb1)));  // + the neighbour
}

// 32 vector registers: 4 x 6 accumulators, 4 x vectors and one w vector.
template <int MR, int NR>
__attribute__((target("avx512f"))) void TileAvx512(const float* x, std::size_t k, const float* w, const float* bias,
                                                   float* out, std::size_t ldo) {
    __m512 acc[MR][NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
    std::size_t l = 0;
    for (; l + 16 <= k; l += 16) {
        __m512 xv[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) xv[i] = _mm512_loadu_ps(x + i * k + l);
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const __m512 wv = _mm512_loadu_ps(w + j * k + l);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
        }
    }
    if (l < k) {
        const __mmask16 mask = static_cast<__mmask16>((1u << (k - l)) - 1);
        __m512 xv[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) xv[i] = _mm512_maskz_loadu_ps(mask, x + i * k + l);
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const __m512 wv = _mm512_maskz_loadu_ps(mask, w + j * k + l);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j)
            out[i * ldo + j] = SumLanes(acc[i][j]) + (bias != nullptr ? bias[j] : 0.0f);
}

template <int MR>
__attribute__((target("avx512f"))) void RowAvx512(std::size_t nr, const float* x, std::size_t k, const float* w,
                                                  const float* bias, float* out, std::size_t ldo) {
    switch (nr) {
        case 6: return TileAvx512<MR, 6>(x, k, w, bias, out, ldo);
        case 5: return TileAvx512<MR, 5>(x, k, w, bias, out, ldo);
        case 4: return TileAvx512<MR, 4>(x, k, w, bias, out, ldo);
        case 3: return TileAvx512<MR, 3>(x, k, w, bias, out, ldo);
        case 2: return TileAvx512<MR, 2>(x, k, w, bias, out, ldo);
        default: return TileAvx512<MR, 1>(x, k, w, bias, out, ldo);
    }
}

__attribute__((target("avx512f"))) void GemmNTAvx512(const float* x, std::size_t m, std::size_t k, const float* w,
                                                     std::size_t n, const float* bias, float* out, std::size_t ldo) {
    for (std::size_t j = 0; j < n; j += 6) {
        const std::size_t nr = std::min<std::size_t>(6, n - j);
        const float* b = bias != nullptr ? bias + j : nullptr;
        for (std::size_t i = 0; i < m; i += 4) {
            const float* xi = x + i * k;
            float* o = out + i * ldo + j;
            switch (std::min<std::size_t>(4, m - i)) {
                case 4: RowAvx512<4>(nr, xi, k, w + j * k, b, o, ldo); break;
                case 3: RowAvx512<3>(nr, xi, k, w + j * k, b, o, ldo); break;
                case 2: RowAvx512<2>(nr, xi, k, w + j * k, b, o, ldo); break;
                default: RowAvx512<1>(nr, xi, k, w + j * k, b, o, ldo); break;
            }
        }
    }
}

__attribute__((target("avx2,fma"))) inline float SumLanes(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 16 vector registers: 3 x 4 accumulators, 3 x vectors and one w vector.
template <int MR, int NR>
__attribute__((target("avx2,fma"))) void TileAvx2(const float* x, std::size_t k, const float* w, const float* bias,
                                                  float* out, std::size_t ldo) {
    __m256 acc[MR][NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
    std::size_t l = 0;
    for (; l + 8 <= k; l += 8) {
        __m256 xv[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) xv[i] = _mm256_loadu_ps(x + i * k + l);
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const __m256 wv = _mm256_loadu_ps(w + j * k + l);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
        }
    }
    if (l < k) {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k - l)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 xv[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) xv[i] = _mm256_maskload_ps(x + i * k + l, mask);
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const __m256 wv = _mm256_maskload_ps(w + j * k + l, mask);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) out[i * ldo + j] = SumLanes(acc[i][j]) + (bias != nullptr ? bias[j] : 0.0f);
}

template <int MR>
__attribute__((target("avx2,fma"))) void RowAvx2(std::size_t nr, const float* x, std::size_t k, const float* w,
                                                 const float* bias, float* out, std::size_t ldo) {
    switch (nr) {
        case 4: return TileAvx2<MR, 4>(x, k, w, bias, out, ldo);
        case 3: return TileAvx2<MR, 3>(x, k, w, bias, out, ldo);
        case 2: return TileAvx2<MR, 2>(x, k, w, bias, out, ldo);
        default: return TileAvx2<MR, 1>(x, k, w, bias, out, ldo);
    }
}

__attribute__((target("avx2,fma"))) void GemmNTAvx2(const float* x, std::size_t m, std::size_t k, const float* w,
                                                    std::size_t n, const float* bias, float* out, std::size_t ldo) {
    for (std::size_t j = 0; j < n; j += 4) {
        const std::size_t nr = std::min<std::size_t>(4, n - j);
        const float* b = bias != nullptr ? bias + j : nullptr;
        for (std::size_t i = 0; i < m; i += 3) {
            const float* xi = x + i * k;
            float* o = out + i * ldo + j;
            switch (std::min<std::size_t>(3, m - i)) {
                case 3: RowAvx2<3>(nr, xi, k, w + j * k, b, o, ldo); break;
                case 2: RowAvx2<2>(nr, xi, k, w + j * k, b, o, ldo); break;
                default: RowAvx2<1>(nr, xi, k, w + j * k, b, o, ldo); break;
            }
        }
    }
}
#endif

}  // namespace

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
        case GemmNTBuild::kAvx512: return GemmNTAvx512(x, m, k, w, n, bias, out, ldo);
        case GemmNTBuild::kAvx2: return GemmNTAvx2(x, m, k, w, n, bias, out, ldo);
#endif
        default: return GemmNTBase(x, m, k, w, n, bias, out, ldo);
    }
}

void GemmNT(const float* x, std::size_t m, std::size_t k, const float* w, std::size_t n, const float* bias, float* out,
            std::size_t ldo) {
    GemmNTOn(GemmNTBestBuild(), x, m, k, w, n, bias, out, ldo);
}

}  // namespace labhouse::engine::kernels
