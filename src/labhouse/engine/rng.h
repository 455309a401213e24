// Reproducible Gaussian noise (sdxl-reference.md section 7), no torch:
// - kCpu: torch's CPU generator (MT19937 + torch's normal_ fill), ported from stable-diffusion.cpp
//   `rng_mt19937.hpp`: a seed gives the same noise as torch.randn on CPU (ComfyUI's default).
// - kCuda: torch's CUDA randn (Philox-4x32-10 + Box-Muller) as emulated by AUTOMATIC1111
//   `rng_philox.py` and sd.cpp `rng_philox.hpp`: the same noise as A1111/sd.cpp "cuda"/"GPU" mode.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::engine {

enum class RngMode { kCpu, kCuda };
Result<RngMode> ParseRngMode(const std::string& name);
std::string RngModeName(RngMode mode);

class NoiseRng {
public:
    virtual ~NoiseRng() = default;
    // One randn call of `n` values (NCHW-contiguous order); successive calls continue the stream.
    virtual std::vector<float> Randn(std::size_t n) = 0;
};

std::unique_ptr<NoiseRng> MakeNoiseRng(RngMode mode, std::uint64_t seed);

class Mt19937Randn final : public NoiseRng {
public:
    explicit Mt19937Randn(std::uint64_t seed);
    std::vector<float> Randn(std::size_t n) override;

private:
    std::uint32_t NextU32();
    std::uint64_t NextU64();
    std::array<std::uint32_t, 624> state_{};
    int index_ = 624;
    bool has_cached_normal_ = false;
    double cached_normal_ = 0.0;
};

class PhiloxRandn final : public NoiseRng {
public:
    explicit PhiloxRandn(std::uint64_t seed) : seed_(seed) {}
    std::vector<float> Randn(std::size_t n) override;

private:
    std::uint64_t seed_;
    std::uint32_t offset_ = 0;
};

}  // namespace labhouse::engine
