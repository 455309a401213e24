#include "labhouse/adapters/stability/request_builder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "labhouse/adapters/stability/http_client.h"

namespace labhouse::stability {
namespace {

constexpr std::size_t kV1MaxPromptChars = 2000;   // TextPrompt.text maxLength
constexpr std::size_t kV2MaxPromptChars = 10000;  // prompt / negative_prompt maxLength
constexpr double kSd3DefaultCfgScale = 4.0;       // SD3.5 Large/Medium default per the spec
constexpr std::int64_t kV1MaxSeed = 4294967295LL;
constexpr std::int64_t kV2MaxSeed = 4294967294LL;

std::string Normalise(const std::string& name) {
    std::string out;
    for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out.rfind("k_", 0) == 0) out = out.substr(2);
    return out;
}

Status CheckPromptLength(const GenerationSettings& s, std::size_t limit) {
    if (s.prompt.size() > limit || s.negative_prompt.size() > limit) {
        return InvalidArgument("stability engine " + s.engine.id + " takes prompts of at most " +
                               std::to_string(limit) + " characters (after the style template)");
    }
    return OkStatus();
}

}  // namespace

std::string FormatNumber(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.4f", value);
    std::string text = buffer;
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text == "-0" ? "0" : text;
}

Result<std::string> ToV1Sampler(const std::string& name) {
    static const std::pair<const char*, const char*> kSamplers[] = {
        {"ddim", "DDIM"},
        {"ddpm", "DDPM"},
        {"dpmpp_2m", "K_DPMPP_2M"},
        {"dpmpp_2s_ancestral", "K_DPMPP_2S_ANCESTRAL"},
        {"dpm_2", "K_DPM_2"},
        {"dpm_2_ancestral", "K_DPM_2_ANCESTRAL"},
        {"euler", "K_EULER"},
        {"euler_ancestral", "K_EULER_ANCESTRAL"},
        {"euler_a", "K_EULER_ANCESTRAL"},  // the local engine's name for it
        {"heun", "K_HEUN"},
        {"lms", "K_LMS"},
    };
    const std::string key = Normalise(name);
    for (const auto& [alias, api_name] : kSamplers) {
        if (key == alias) return std::string(api_name);
    }
    return InvalidArgument("sampler '" + name +
                           "' is not offered by Stability v1 (use ddim, ddpm, dpmpp_2m, dpmpp_2s_ancestral, dpm_2, "
                           "dpm_2_ancestral, euler, euler_a, heun or lms)");
}

Result<GenerationSettings> ResolveSettings(const JobParams& params, const Style* style, const StabilityConfig& config) {
    GenerationSettings s;
    auto engine_option = params.options.find("engine");
    LABHOUSE_ASSIGN_OR_RETURN(s.engine,
                              ParseEngine(engine_option != params.options.end() ? engine_option->second : config.engine));
    const bool v1 = s.engine.api == StabilityApi::kV1Sdxl;

    s.prompt = params.prompt;
    if (style != nullptr && !style->sdxl.prompt_template.empty()) {
        s.prompt = ApplyPromptTemplate(style->sdxl.prompt_template, params.prompt);
    }
    if (s.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
        return InvalidArgument("the stability backend needs a prompt or a style");
    }
    s.negative_prompt = !params.negative_prompt.empty() ? params.negative_prompt
                        : style != nullptr           ? style->sdxl.negative_prompt
                                                     : std::string();
    LABHOUSE_RETURN_IF_ERROR(CheckPromptLength(s, v1 ? kV1MaxPromptChars : kV2MaxPromptChars));

    s.strength = params.strength ? *params.strength
                 : (style != nullptr && style->sdxl.strength) ? *style->sdxl.strength
                                                               : config.default_strength;
    if (!(s.strength >= 0.0 && s.strength <= 1.0)) return InvalidArgument("strength must be between 0 and 1");

    if (params.seed) {
        const std::int64_t max_seed = v1 ? kV1MaxSeed : kV2MaxSeed;
        if (*params.seed < 0 || *params.seed > max_seed) {
            return InvalidArgument("seed must be between 0 and " + std::to_string(max_seed) + " for " + s.engine.id);
        }
        s.seed = *params.seed;
    }

    switch (s.engine.api) {
        case StabilityApi::kV1Sdxl: {
            s.cfg_scale = params.guidance.value_or(config.default_cfg_scale);
            if (!(*s.cfg_scale >= 0.0 && *s.cfg_scale <= 35.0)) {
                return InvalidArgument("guidance (cfg_scale) must be between 0 and 35 for " + s.engine.id);
            }
            s.steps = params.steps.value_or(config.default_steps);
            if (*s.steps < 10 || *s.steps > 50) {
                return InvalidArgument("steps must be between 10 and 50 for " + s.engine.id);
            }
            if (!params.sampler.empty()) {
                LABHOUSE_ASSIGN_OR_RETURN(s.sampler, ToV1Sampler(params.sampler));
            }
            break;
        }
        case StabilityApi::kV2Sd3:
            s.cfg_scale = params.guidance.value_or(kSd3DefaultCfgScale);
            if (!(*s.cfg_scale >= 1.0 && *s.cfg_scale <= 10.0)) {
                return InvalidArgument("guidance (cfg_scale) must be between 1 and 10 for " + s.engine.id);
            }
            break;
        case StabilityApi::kV2Ultra:
            break;
    }
    if (style != nullptr) s.style_preset = style->stability_style_preset;
    return s;
}

namespace {

// sd3 and ultra: image-to-image with `png`, text-to-image (png null) at `aspect_ratio`.
void BuildV2(const GenerationSettings& s, const std::string* png, const std::string& aspect_ratio,
             const StabilityConfig& config, PreparedRequest& request, MultipartBody& body) {
    const bool sd3 = s.engine.api == StabilityApi::kV2Sd3;
    request.path = sd3 ? "/v2beta/stable-image/generate/sd3" : "/v2beta/stable-image/generate/ultra";
    request.accept = config.v2_accept_json ? "application/json" : "image/*";
    body.AddField("prompt", s.prompt);
    if (sd3) {
        body.AddField("mode", png != nullptr ? "image-to-image" : "text-to-image");
        body.AddField("model", s.engine.id);
    }
    if (png != nullptr) {
        body.AddFile("image", "image.png", "image/png", *png);
        body.AddField("strength", FormatNumber(s.strength));
    } else {
        body.AddField("aspect_ratio", aspect_ratio);
    }
    if (!s.negative_prompt.empty()) body.AddField("negative_prompt", s.negative_prompt);
    if (s.cfg_scale) body.AddField("cfg_scale", FormatNumber(*s.cfg_scale));
    body.AddField("seed", std::to_string(s.seed));
    body.AddField("output_format", "png");
    if (!s.style_preset.empty()) body.AddField("style_preset", s.style_preset);
}

}  // namespace

PreparedRequest BuildRequest(const GenerationSettings& s, const std::string& png, const StabilityConfig& config) {
    PreparedRequest request;
    MultipartBody body;
    switch (s.engine.api) {
        case StabilityApi::kV1Sdxl:
            request.path = "/v1/generation/" + s.engine.id + "/image-to-image";
            request.accept = config.v1_accept_png ? "image/png" : "application/json";
            body.AddFile("init_image", "init_image.png", "image/png", png);
            body.AddField("init_image_mode", "IMAGE_STRENGTH");
            body.AddField("image_strength", FormatNumber(1.0 - s.strength));
            body.AddField("text_prompts[0][text]", s.prompt);
            body.AddField("text_prompts[0][weight]", "1");
            if (!s.negative_prompt.empty()) {
                // v1 has no negative_prompt field: a prompt with a negative weight steers away.
                body.AddField("text_prompts[1][text]", s.negative_prompt);
                body.AddField("text_prompts[1][weight]", "-1");
            }
            body.AddField("cfg_scale", FormatNumber(*s.cfg_scale));
            body.AddField("steps", std::to_string(*s.steps));
            body.AddField("seed", std::to_string(s.seed));
            body.AddField("samples", "1");
            if (!s.sampler.empty()) body.AddField("sampler", s.sampler);
            if (!s.style_preset.empty()) body.AddField("style_preset", s.style_preset);
            break;
        case StabilityApi::kV2Sd3:
        case StabilityApi::kV2Ultra:
            BuildV2(s, &png, "", config, request, body);
            break;
    }
    request.content_type = body.ContentType();
    request.fields = body.Summary();
    request.body = body.Finish();
    return request;
}

PreparedRequest BuildTextToImageRequest(const GenerationSettings& s, const TextToImageShape& shape,
                                        const StabilityConfig& config) {
    PreparedRequest request;
    if (s.engine.api != StabilityApi::kV1Sdxl) {
        MultipartBody body;
        BuildV2(s, nullptr, shape.aspect_ratio, config, request, body);
        request.content_type = body.ContentType();
        request.fields = body.Summary();
        request.body = body.Finish();
        return request;
    }
    // v1's text-to-image takes JSON, not multipart; the fields match its image-to-image.
    request.path = "/v1/generation/" + s.engine.id + "/text-to-image";
    request.accept = config.v1_accept_png ? "image/png" : "application/json";
    request.content_type = "application/json";
    nlohmann::json prompts = nlohmann::json::array({{{"text", s.prompt}, {"weight", 1}}});
    if (!s.negative_prompt.empty()) prompts.push_back({{"text", s.negative_prompt}, {"weight", -1}});
    nlohmann::json body = {{"text_prompts", prompts},      {"width", shape.canvas.width},
                           {"height", shape.canvas.height}, {"cfg_scale", *s.cfg_scale},
                           {"steps", *s.steps},             {"seed", s.seed},
                           {"samples", 1}};
    if (!s.sampler.empty()) body["sampler"] = s.sampler;
    if (!s.style_preset.empty()) body["style_preset"] = s.style_preset;
    request.body = body.dump();
    request.fields = {{"text_prompts[0][text]", s.prompt}, {"text_prompts[0][weight]", "1"}};
    if (!s.negative_prompt.empty()) {
        request.fields.push_back({"text_prompts[1][text]", s.negative_prompt});
        request.fields.push_back({"text_prompts[1][weight]", "-1"});
    }
    for (const char* key : {"width", "height", "cfg_scale", "steps", "seed", "samples", "sampler", "style_preset"}) {
        if (!body.contains(key)) continue;
        const auto& value = body[key];
        request.fields.push_back({key, value.is_string() ? value.get<std::string>()
                                       : value.is_number_float() ? FormatNumber(value.get<double>())
                                                                 : value.dump()});
    }
    return request;
}

}  // namespace labhouse::stability
