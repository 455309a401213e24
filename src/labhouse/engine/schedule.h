// Noise schedule, timestep spacings and the img2img start selection (sdxl-reference.md section 6).
// Plain doubles, no torch, so the tables are unit-tested exactly.
#pragma once

#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::engine {

enum class Spacing {
    kTrailing,  // diffusers "trailing": the SDXL-Turbo recipe (999, 499 for 2 steps)
    kLeading,   // diffusers "leading" + steps_offset 1: the SDXL base scheduler config
    kNormal,    // k-diffusion get_sigmas / A1111 "Automatic" / sd.cpp "discrete"
    kKarras,    // Karras et al. rho 7 between sigma_0 and sigma_999
};
Result<Spacing> ParseSpacing(const std::string& name);
std::string SpacingName(Spacing spacing);

enum class SamplerKind { kEuler, kEulerAncestral, kDpmpp2m };
Result<SamplerKind> ParseSampler(const std::string& name);  // euler, euler_a, dpmpp_2m
std::string SamplerName(SamplerKind kind);
// The spacing used when a request names none: Karras for DPM++ 2M ("DPM++ 2M Karras"), otherwise
// trailing, the SDXL-Turbo recipe (which also behaves well for few-step base runs).
Spacing DefaultSpacing(SamplerKind kind);

// sigma_t for t = 0..999 of the scaled-linear SDXL schedule (beta 0.00085..0.012), in double.
const std::vector<double>& DiscreteSigmas();
// Continuous timestep for a sigma: linear interpolation of log sigma between neighbours
// (k-diffusion DiscreteSchedule.sigma_to_t, used by A1111 and sd.cpp). Exact integers for table sigmas.
double SigmaToTimestep(double sigma);
double TimestepToSigma(double t);

// n + 1 sigmas, descending, the last one 0.
std::vector<double> MakeSigmas(Spacing spacing, int steps);

// img2img by strength, following diffusers (`get_timesteps`): of the n-step schedule the last
// int(n * strength) steps run (capped at n), starting at sigmas[n - run]. Returns the sigmas to
// run (run + 1 entries, the last 0). strength 1 runs the full schedule; fewer than one step is an
// error (the Turbo docs' "steps * strength >= 1").
Result<std::vector<double>> Img2ImgSigmas(const std::vector<double>& full_sigmas, double strength);

}  // namespace labhouse::engine
