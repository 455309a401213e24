// Samplers over a sigma list s_0 > ... > s_n = 0, mirroring k-diffusion `sampling.py`
// (sample_euler, sample_euler_ancestral with eta 1 and get_ancestral_step, sample_dpmpp_2m);
// sdxl-reference.md section 6.4.
#include <cmath>

#include "labhouse/engine/internal/torch_common.h"

namespace labhouse::engine {

at::Tensor RunSampler(SamplerKind kind, const std::vector<double>& sigmas, at::Tensor x, const SamplerHooks& hooks) {
    const int steps = static_cast<int>(sigmas.size()) - 1;
    at::Tensor old_denoised;
    for (int i = 0; i < steps; ++i) {
        const double s = sigmas[i];
        const double s_next = sigmas[i + 1];
        const at::Tensor denoised = hooks.denoise(x, s);
        switch (kind) {
            case SamplerKind::kEuler: {
                const at::Tensor d = (x - denoised) / s;
                x = x + d * (s_next - s);
                break;
            }
            case SamplerKind::kEulerAncestral: {
                const double up = std::min(s_next, std::sqrt(s_next * s_next * (s * s - s_next * s_next) / (s * s)));
                const double down = std::sqrt(s_next * s_next - up * up);
                const at::Tensor d = (x - denoised) / s;
                x = x + d * (down - s);
                if (s_next > 0) x = x + hooks.noise() * up;
                break;
            }
            case SamplerKind::kDpmpp2m: {
                if (s_next == 0) {
                    x = denoised;  // the limit of the update for h -> infinity
                } else {
                    const double t = -std::log(s), t_next = -std::log(s_next);
                    const double h = t_next - t;
                    at::Tensor d = denoised;
                    if (old_denoised.defined()) {
                        const double r = (t - (-std::log(sigmas[i - 1]))) / h;
                        d = denoised * (1 + 1 / (2 * r)) - old_denoised * (1 / (2 * r));
                    }
                    x = x * (s_next / s) - d * std::expm1(-h);
                }
                old_denoised = denoised;
                break;
            }
        }
        if (hooks.after_step && !hooks.after_step(i + 1, steps, denoised)) return {};
    }
    return x;
}

}  // namespace labhouse::engine
