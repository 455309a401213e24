// Ports: torch CPU randn = sd.cpp `src/core/rng_mt19937.hpp` (itself a port of ATen's
// CPUGeneratorImpl + `normal_fill`); CUDA randn = AUTOMATIC1111 `modules/rng_philox.py` and
// sd.cpp `src/core/rng_philox.hpp`. sdxl-reference.md sections 7.2 and 7.3.
#include "labhouse/engine/rng.h"

#include <cmath>

namespace labhouse::engine {

Result<RngMode> ParseRngMode(const std::string& name) {
    if (name == "cpu") return RngMode::kCpu;
    if (name == "cuda" || name == "gpu" || name == "philox") return RngMode::kCuda;
    return InvalidArgument("unknown rng mode '" + name + "' (cpu, cuda)");
}

std::string RngModeName(RngMode mode) {
    return mode == RngMode::kCpu ? "cpu" : "cuda";
}

std::unique_ptr<NoiseRng> MakeNoiseRng(RngMode mode, std::uint64_t seed) {
    if (mode == RngMode::kCpu) return std::make_unique<Mt19937Randn>(seed);
    return std::make_unique<PhiloxRandn>(seed);
}

// --- MT19937 (torch's CPU engine) -------------------------------------------------------------

Mt19937Randn::Mt19937Randn(std::uint64_t seed) {
    state_[0] = static_cast<std::uint32_t>(seed & 0xffffffffu);
    for (int j = 1; j < 624; ++j) {
        state_[j] = 1812433253u * (state_[j - 1] ^ (state_[j - 1] >> 30)) + static_cast<std::uint32_t>(j);
    }
    index_ = 624;
}

std::uint32_t Mt19937Randn::NextU32() {
    constexpr std::uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
    if (index_ >= 624) {
        for (int k = 0; k < 624; ++k) {
            const std::uint32_t y = (state_[k] & kUpper) | (state_[(k + 1) % 624] & kLower);
            state_[k] = state_[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
        }
        index_ = 0;
    }
    std::uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

std::uint64_t Mt19937Randn::NextU64() {
    const std::uint64_t hi = NextU32();  // ATen make64BitsFrom32Bits(first, second): first is the high word
    const std::uint64_t lo = NextU32();
    return (hi << 32) | lo;
}

std::vector<float> Mt19937Randn::Randn(std::size_t n) {
    std::vector<float> out(n);
    if (n >= 16) {
        // ATen normal_fill: uniforms for all, Box-Muller per 16-block, the tail redone on the last 16.
        auto uniform = [this] { return static_cast<float>((NextU32() & ((1u << 24) - 1)) * std::ldexp(1.0, -24)); };
        auto fill16 = [](float* d) {
            for (int j = 0; j < 8; ++j) {
                const float u1 = 1.0f - d[j];
                const float u2 = d[j + 8];
                const float radius = std::sqrt(-2.0f * std::log(u1));
                const float theta = 2.0f * static_cast<float>(M_PI) * u2;
                d[j] = radius * std::cos(theta);
                d[j + 8] = radius * std::sin(theta);
            }
        };
        for (auto& v : out) v = uniform();
        for (std::size_t i = 0; i + 16 <= n; i += 16) fill16(out.data() + i);
        if (n % 16 != 0) {
            float* tail = out.data() + n - 16;
            for (int j = 0; j < 16; ++j) tail[j] = uniform();
            fill16(tail);
        }
        return out;
    }
    // ATen normal_distribution<double>: Box-Muller on 53-bit uniforms, caching the sine half.
    for (auto& v : out) {
        if (has_cached_normal_) {
            has_cached_normal_ = false;
            v = static_cast<float>(cached_normal_);
            continue;
        }
        const double u1 = (NextU64() & ((1ull << 53) - 1)) * std::ldexp(1.0, -53);
        const double u2 = (NextU64() & ((1ull << 53) - 1)) * std::ldexp(1.0, -53);
        const double r = std::sqrt(-2.0 * std::log1p(-u2));
        const double theta = 2.0 * M_PI * u1;
        cached_normal_ = r * std::sin(theta);
        has_cached_normal_ = true;
        v = static_cast<float>(r * std::cos(theta));
    }
    return out;
}

// --- Philox-4x32-10 (torch's CUDA engine, as emulated by A1111 and sd.cpp) -----------------------

std::vector<float> PhiloxRandn::Randn(std::size_t n) {
    constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    constexpr float kTwoPow32Inv = 2.3283064e-10f;
    constexpr float kTwoPow32Inv2Pi = 2.3283064e-10f * 6.2831855f;
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t c[4] = {offset_, 0u, static_cast<std::uint32_t>(i), 0u};
        std::uint32_t k0 = static_cast<std::uint32_t>(seed_ & 0xffffffffu);
        std::uint32_t k1 = static_cast<std::uint32_t>(seed_ >> 32);
        for (int round = 0; round < 10; ++round) {
            const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c[0];
            const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c[2];
            const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0;
            const std::uint32_t n1 = static_cast<std::uint32_t>(p1);
            const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1;
            const std::uint32_t n3 = static_cast<std::uint32_t>(p0);
            c[0] = n0, c[1] = n1, c[2] = n2, c[3] = n3;
            if (round < 9) {
                k0 += kW0;
                k1 += kW1;
            }
        }
        // Box-Muller on the first two words; the emulation keeps the .x (sine) component only.
        const double u = c[0] * static_cast<double>(kTwoPow32Inv) + static_cast<double>(kTwoPow32Inv) / 2;
        const double v = c[1] * static_cast<double>(kTwoPow32Inv2Pi) + static_cast<double>(kTwoPow32Inv2Pi) / 2;
        out[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u)) * std::sin(v));
    }
    ++offset_;
    return out;
}

}  // namespace labhouse::engine
