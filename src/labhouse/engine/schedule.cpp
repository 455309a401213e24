// Mirrors generative-models `LegacyDDPMDiscretization` / diffusers `scaled_linear` betas,
// diffusers `EulerDiscreteScheduler.set_timesteps` spacings (leading, trailing), k-diffusion
// `get_sigmas` (normal) and `get_sigmas_karras`; sdxl-reference.md sections 6.1, 6.3, 6.6.
#include "labhouse/engine/schedule.h"

#include <algorithm>
#include <cmath>

namespace labhouse::engine {

Result<Spacing> ParseSpacing(const std::string& name) {
    if (name == "trailing") return Spacing::kTrailing;
    if (name == "leading") return Spacing::kLeading;
    if (name == "normal" || name == "discrete") return Spacing::kNormal;
    if (name == "karras") return Spacing::kKarras;
    return InvalidArgument("unknown timestep spacing '" + name + "' (trailing, leading, normal, karras)");
}

std::string SpacingName(Spacing spacing) {
    switch (spacing) {
        case Spacing::kTrailing:
            return "trailing";
        case Spacing::kLeading:
            return "leading";
        case Spacing::kNormal:
            return "normal";
        case Spacing::kKarras:
            return "karras";
    }
    return "?";
}

Result<SamplerKind> ParseSampler(const std::string& name) {
    if (name == "euler") return SamplerKind::kEuler;
    if (name == "euler_a" || name == "euler_ancestral") return SamplerKind::kEulerAncestral;
    if (name == "dpmpp_2m" || name == "dpm++2m" || name == "dpmpp_2m_karras") return SamplerKind::kDpmpp2m;
    return InvalidArgument("unknown sampler '" + name + "' (euler, euler_a, dpmpp_2m)");
}

std::string SamplerName(SamplerKind kind) {
    switch (kind) {
        case SamplerKind::kEuler:
            return "euler";
        case SamplerKind::kEulerAncestral:
            return "euler_a";
        case SamplerKind::kDpmpp2m:
            return "dpmpp_2m";
    }
    return "?";
}

Spacing DefaultSpacing(SamplerKind kind) {
    return kind == SamplerKind::kDpmpp2m ? Spacing::kKarras : Spacing::kTrailing;
}

const std::vector<double>& DiscreteSigmas() {
    static const std::vector<double> sigmas = [] {
        std::vector<double> s(1000);
        const double a = std::sqrt(0.00085);
        const double b = std::sqrt(0.012);
        double alphas_cumprod = 1.0;
        for (int i = 0; i < 1000; ++i) {
            const double beta = std::pow(a + (b - a) * i / 999.0, 2);
            alphas_cumprod *= 1.0 - beta;
            s[i] = std::sqrt((1.0 - alphas_cumprod) / alphas_cumprod);
        }
        return s;
    }();
    return sigmas;
}

double SigmaToTimestep(double sigma) {
    const auto& s = DiscreteSigmas();
    const double log_sigma = std::log(std::max(sigma, 1e-10));
    if (log_sigma <= std::log(s.front())) return 0.0;
    if (log_sigma >= std::log(s.back())) return 999.0;
    // s is increasing in t; find low with log s[low] <= log_sigma < log s[low + 1].
    const auto it = std::upper_bound(s.begin(), s.end(), sigma);
    const int high = static_cast<int>(it - s.begin());
    const int low = high - 1;
    const double w = (std::log(s[low]) - log_sigma) / (std::log(s[low]) - std::log(s[high]));
    return low + w;
}

double TimestepToSigma(double t) {
    const auto& s = DiscreteSigmas();
    t = std::clamp(t, 0.0, 999.0);
    const int low = static_cast<int>(std::floor(t));
    const int high = std::min(low + 1, 999);
    const double w = t - low;
    return std::exp((1.0 - w) * std::log(s[low]) + w * std::log(s[high]));
}

std::vector<double> MakeSigmas(Spacing spacing, int steps) {
    const auto& table = DiscreteSigmas();
    std::vector<double> out;
    if (steps <= 0) return {0.0};
    switch (spacing) {
        case Spacing::kTrailing: {
            // diffusers: np.round(np.arange(1000, 0, -1000 / n)).astype(int64) - 1
            const double step = 1000.0 / steps;
            for (int k = 0; k < steps; ++k) {
                const int t = static_cast<int>(std::nearbyint(1000.0 - k * step)) - 1;
                out.push_back(table[std::clamp(t, 0, 999)]);
            }
            break;
        }
        case Spacing::kLeading: {
            // diffusers: (arange(0, n) * (1000 // n)).round()[::-1] + steps_offset (1)
            const int ratio = 1000 / steps;
            for (int k = steps - 1; k >= 0; --k) out.push_back(table[std::min(k * ratio + 1, 999)]);
            break;
        }
        case Spacing::kNormal: {
            // k-diffusion get_sigmas: t_k = linspace(999, 0, n), sigma by log interpolation; n = 1 -> sigma_999.
            for (int k = 0; k < steps; ++k) {
                const double t = steps == 1 ? 999.0 : 999.0 * (1.0 - static_cast<double>(k) / (steps - 1));
                out.push_back(TimestepToSigma(t));
            }
            break;
        }
        case Spacing::kKarras: {
            const double min_inv = std::pow(table.front(), 1.0 / 7.0);
            const double max_inv = std::pow(table.back(), 1.0 / 7.0);
            for (int k = 0; k < steps; ++k) {
                const double ramp = steps == 1 ? 0.0 : static_cast<double>(k) / (steps - 1);
                out.push_back(std::pow(max_inv + ramp * (min_inv - max_inv), 7.0));
            }
            break;
        }
    }
    out.push_back(0.0);
    return out;
}

Result<std::vector<double>> Img2ImgSigmas(const std::vector<double>& full_sigmas, double strength) {
    if (!(strength > 0.0 && strength <= 1.0)) return InvalidArgument("strength must be in (0, 1]");
    const int n = static_cast<int>(full_sigmas.size()) - 1;
    // int(n * strength) with a small epsilon so that e.g. 0.3 * 10 is 3, not 2.9999.
    const int run = std::min(static_cast<int>(std::floor(n * strength + 1e-9)), n);
    if (run < 1) {
        return InvalidArgument("steps x strength must be at least 1 (steps " + std::to_string(n) + ", strength " +
                               std::to_string(strength) + " runs no step)");
    }
    return std::vector<double>(full_sigmas.begin() + (n - run), full_sigmas.end());
}

}  // namespace labhouse::engine
