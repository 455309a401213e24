// Turns a job's parameters into what one Stability endpoint takes: the settings are resolved and
// range-checked first (so no request is ever spent on a value the API would reject), then laid
// out as the endpoint's multipart fields.
//
// Strength: ours means "how much to change the photo" (0 keeps it, 1 ignores it). v2beta's
// `strength` means the same; v1's `image_strength` means "how much to keep", so v1 gets
// image_strength = 1 - strength.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "labhouse/adapters/stability/image_fitting.h"
#include "labhouse/adapters/stability/stability_config.h"
#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/domain/style.h"

namespace labhouse::stability {

// What will be asked of the API; unset optionals are not sent (the engine has no such field).
struct GenerationSettings {
    EngineInfo engine;
    std::string prompt;  // the style's template applied to the job's prompt
    std::string negative_prompt;
    double strength = 0.5;  // ours: how much to change
    std::optional<double> cfg_scale;
    std::optional<int> steps;
    std::int64_t seed = 0;  // 0 asks the API for a random seed (it reports the one it used)
    std::string sampler;    // v1 name (K_EULER ...), empty = let the API choose
    std::string style_preset;
};

// Job parameters win over the style's defaults, which win over the config's. Parameters an
// engine has no field for (steps and sampler on v2beta, guidance on ultra) are ignored and not
// recorded. kInvalidArgument for an unknown engine or sampler, a missing prompt, or a value
// outside the engine's documented range.
Result<GenerationSettings> ResolveSettings(const JobParams& params, const Style* style, const StabilityConfig& config);

// "euler_a", "K_EULER_ANCESTRAL", "dpmpp_2m" ... -> the v1 sampler enum. kInvalidArgument if unknown.
Result<std::string> ToV1Sampler(const std::string& name);

// A request ready to send, minus the host and the key.
struct PreparedRequest {
    std::string path;  // "/v1/generation/<engine>/image-to-image", "/v2beta/stable-image/generate/sd3"
    std::string accept;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> fields;  // what was sent, files summarised
};

// `png` is the init image, already at an allowed size.
PreparedRequest BuildRequest(const GenerationSettings& settings, const std::string& png, const StabilityConfig& config);

// Text to image: v1 `/v1/generation/<engine>/text-to-image` (JSON, `canvas` one of the SDXL
// sizes), v2beta sd3 with `mode=text-to-image` or ultra without an image, at `aspect_ratio`.
struct TextToImageShape {
    Size canvas;               // v1
    std::string aspect_ratio;  // v2beta
};
PreparedRequest BuildTextToImageRequest(const GenerationSettings& settings, const TextToImageShape& shape,
                                        const StabilityConfig& config);

// Shortest decimal text for a parameter: 0.35, 7, 0.125.
std::string FormatNumber(double value);

}  // namespace labhouse::stability
