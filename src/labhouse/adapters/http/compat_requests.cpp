#include "labhouse/adapters/http/compat_requests.h"

#include <map>
#include <optional>
#include <regex>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "labhouse/adapters/http/compat_common.h"
#include "labhouse/adapters/http/request_parsing.h"

namespace labhouse::http {
namespace {

using nlohmann::json;

const std::set<std::string> kEditFields = {"image", "image[]", "prompt", "n", "size", "response_format", "model",
                                           "user", "style", "strength", "seed", "quality", "mask"};
const std::set<std::string> kGenerationFields = {"prompt", "n", "size", "response_format", "model", "user",
                                                 "quality", "style", "seed", "negative_prompt"};
// What size "auto" (and no size) means for text-to-image: OpenAI's default square.
constexpr int kAutoSide = 1024;
// OpenAI model names: a client written for OpenAI keeps working and gets the best available backend.
const std::set<std::string> kOpenAiModels = {"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "auto", ""};

// The "WIDTHxHEIGHT" of an OpenAI `size`; nullopt for "auto". The range is checked with the job.
Result<std::optional<std::pair<int, int>>> ParseSize(const std::string& v) {
    static const std::regex kSize(R"((\d{2,4})x(\d{2,4}))");
    std::smatch m;
    if (v == "auto") return std::optional<std::pair<int, int>>{};
    if (!std::regex_match(v, m, kSize)) return InvalidArgument("size must be auto or WIDTHxHEIGHT, e.g. 1024x1024");
    return std::optional<std::pair<int, int>>{std::pair{std::stoi(m[1]), std::stoi(m[2])}};
}

// The string fields that edits and generations read the same way. Returns false for other names.
Result<bool> ApplySharedField(const std::string& name, const std::string& v, OpenAiImageRequest& out) {
    if (name == "response_format") {
        if (v != "b64_json" && v != "url") return InvalidArgument("response_format must be b64_json or url");
        out.response_format = v;
    } else if (name == "model") {
        out.submit.params.backend = kOpenAiModels.count(v) ? "auto" : v;
    } else if (name == "style") {
        // OpenAI's dall-e-3 styles mean nothing here; any other name is one of ours.
        if (v != "vivid" && v != "natural") out.submit.params.style = v;
    } else {
        return false;
    }
    return true;
}

}  // namespace

Result<OpenAiImageRequest> ParseOpenAiEdit(const httplib::MultipartFormDataMap& files, std::string& param) {
    OpenAiImageRequest out;
    JobParams& p = out.submit.params;
    int images = 0;
    for (const auto& [name, field] : files) {
        param = name;
        if (!kEditFields.count(name)) return InvalidArgument("Unrecognized request argument supplied: " + name);
        const std::string& v = field.content;
        LABHOUSE_ASSIGN_OR_RETURN(const bool shared, ApplySharedField(name, v, out));
        if (shared) continue;
        if (name == "image" || name == "image[]") {
            ++images;
            out.submit.image_bytes = v;
        } else if (name == "mask") {
            return InvalidArgument("masks are not supported: labhouse transforms the whole image");
        } else if (name == "prompt") {
            p.prompt = v;
        } else if (name == "n") {
            LABHOUSE_ASSIGN_OR_RETURN(auto n, ParseInt("n", v, 1, 10));
            if (n != 1) return InvalidArgument("n must be 1: labhouse makes one image per request");
        } else if (name == "size") {
            // Checked for compatibility; the result keeps the input photo's size (documented).
            LABHOUSE_RETURN_IF_ERROR(ParseSize(v));
        } else if (name == "strength") {
            LABHOUSE_ASSIGN_OR_RETURN(p.strength, ParseDouble("strength", v, 0.0, 1.0));
        } else if (name == "seed") {
            LABHOUSE_ASSIGN_OR_RETURN(p.seed, ParseInt("seed", v, 0, 4294967295LL));
        }
    }
    if (images == 0) {
        param = "image";
        return InvalidArgument("missing the 'image' file");
    }
    if (images > 1) {
        param = "image";
        return InvalidArgument("one image per request");
    }
    if (p.prompt.empty() && p.style.empty()) {
        param = "prompt";
        return InvalidArgument("'prompt' is required");
    }
    param.clear();
    return out;
}

Result<OpenAiImageRequest> ParseOpenAiGeneration(std::string_view body_text, std::string& param) {
    const json body = json::parse(body_text, nullptr, false);
    if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
    OpenAiImageRequest out;
    JobParams& p = out.submit.params;
    p.kind = JobKind::kTextToImage;
    std::pair<int, int> size{kAutoSide, kAutoSide};
    auto text = [&](const std::string& name, const json& value) -> Result<std::string> {
        if (!value.is_string()) return InvalidArgument("'" + name + "' must be a string");
        return value.get<std::string>();
    };
    for (const auto& [name, value] : body.items()) {
        param = name;
        if (!kGenerationFields.count(name)) return InvalidArgument("Unrecognized request argument supplied: " + name);
        if (name == "n") {
            if (!value.is_number_integer()) return InvalidArgument("'n' must be an integer");
            if (value.get<std::int64_t>() != 1) return InvalidArgument("n must be 1: labhouse makes one image per request");
        } else if (name == "seed") {
            if (!value.is_number_integer()) return InvalidArgument("'seed' must be an integer");
            const auto seed = value.get<std::int64_t>();
            if (seed < 0 || seed > 4294967295LL) return InvalidArgument("seed must be between 0 and 4294967295");
            p.seed = seed;
        } else {
            LABHOUSE_ASSIGN_OR_RETURN(std::string v, text(name, value));
            LABHOUSE_ASSIGN_OR_RETURN(const bool shared, ApplySharedField(name, v, out));
            if (shared) continue;
            if (name == "prompt") {
                p.prompt = v;
            } else if (name == "negative_prompt") {
                p.negative_prompt = v;
            } else if (name == "size") {
                LABHOUSE_ASSIGN_OR_RETURN(auto parsed, ParseSize(v));
                if (parsed) size = *parsed;
                LABHOUSE_RETURN_IF_ERROR(ValidateTextToImageSize(size.first, size.second));
            }  // user, quality: accepted and ignored
        }
    }
    if (p.prompt.empty()) {
        param = "prompt";
        return InvalidArgument("'prompt' is required");
    }
    p.width = size.first;
    p.height = size.second;
    param.clear();
    return out;
}

namespace {

// A1111 sampler names -> labhouse sampler ids (the sdxl backend's; classic has no sampler).
const std::map<std::string, std::string> kSamplers = {
    {"Euler a", "euler_a"}, {"Euler", "euler"}, {"DPM++ 2M", "dpmpp_2m"}, {"DPM++ 2M Karras", "dpmpp_2m"}};
// Fields A1111 clients send that have no labhouse meaning: accepted (A1111 itself ignores unknown
// fields) and listed under info.ignored_fields, so a client can see what had no effect.
const std::set<std::string> kCommonFields = {"prompt",        "negative_prompt", "steps",      "cfg_scale",
                                             "seed",          "sampler_name",    "sampler_index", "styles",
                                             "batch_size",    "n_iter",          "override_settings", "send_images"};
const std::set<std::string> kImg2ImgFields = {"init_images", "denoising_strength"};
const std::set<std::string> kTxt2ImgFields = {"width", "height"};
// A1111's txt2img default size.
constexpr int kDefaultSide = 512;

template <class T>
Result<T> Field(const json& body, const std::string& name, json::value_t kind) {
    const json& value = body.at(name);
    const bool ok = kind == json::value_t::number_float ? value.is_number()
                    : kind == json::value_t::number_integer ? value.is_number_integer()
                                                            : value.type() == kind;
    if (!ok) return InvalidArgument("'" + name + "' has the wrong type");
    return value.get<T>();
}

// The fields img2img and txt2img share; `own` are the endpoint's other known fields (anything
// else is listed as ignored).
Result<json> ParseCommon(std::string_view body_text, const std::set<std::string>& own, A1111Request& out) {
    json body = json::parse(body_text, nullptr, false);
    if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
    JobParams& p = out.submit.params;
    for (const auto& [name, value] : body.items()) {
        if (!kCommonFields.count(name) && !own.count(name)) out.ignored.push_back(name);
    }
    for (const char* count : {"batch_size", "n_iter"}) {
        if (body.contains(count)) {
            LABHOUSE_ASSIGN_OR_RETURN(auto n, Field<std::int64_t>(body, count, json::value_t::number_integer));
            if (n != 1) return InvalidArgument(std::string("'") + count + "' must be 1; submit one request per image");
        }
    }
    if (body.contains("prompt")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.prompt, Field<std::string>(body, "prompt", json::value_t::string));
    }
    if (body.contains("negative_prompt")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.negative_prompt,
                                  Field<std::string>(body, "negative_prompt", json::value_t::string));
    }
    if (body.contains("steps")) {
        LABHOUSE_ASSIGN_OR_RETURN(auto steps, Field<std::int64_t>(body, "steps", json::value_t::number_integer));
        if (steps < 1 || steps > 150) return InvalidArgument("'steps' must be between 1 and 150");
        p.steps = static_cast<int>(steps);
    }
    if (body.contains("cfg_scale")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.guidance, Field<double>(body, "cfg_scale", json::value_t::number_float));
    }
    if (body.contains("seed")) {
        LABHOUSE_ASSIGN_OR_RETURN(auto seed, Field<std::int64_t>(body, "seed", json::value_t::number_integer));
        // -1 is A1111's "random"; anything else must be a seed the engines take.
        if (seed != -1 && (seed < 0 || seed > 4294967295LL)) {
            return InvalidArgument("'seed' must be -1 (random) or between 0 and 4294967295");
        }
        if (seed != -1) p.seed = seed;
    }
    for (const char* sampler : {"sampler_name", "sampler_index"}) {
        if (!body.contains(sampler) || !body[sampler].is_string()) continue;
        out.sampler_name = body[sampler].get<std::string>();
        auto it = kSamplers.find(out.sampler_name);
        // Unknown samplers fall back to the backend's default instead of failing A1111 presets.
        if (it != kSamplers.end()) p.sampler = it->second;
        else out.ignored.push_back(sampler);
        break;
    }
    if (body.contains("styles")) {
        const json& styles = body["styles"];
        if (!styles.is_array() || styles.size() > 1 || (styles.size() == 1 && !styles[0].is_string())) {
            return InvalidArgument("'styles' takes at most one style name (see GET /api/v1/styles)");
        }
        if (styles.size() == 1) p.style = styles[0].get<std::string>();
    }
    if (body.contains("override_settings")) {
        const json& settings = body["override_settings"];
        if (!settings.is_object()) return InvalidArgument("'override_settings' must be an object");
        for (const auto& [key, value] : settings.items()) {
            if (key == "sd_model_checkpoint" && value.is_string()) {
                p.backend = value.get<std::string>();
            } else {
                out.ignored.push_back("override_settings." + key);
            }
        }
    }
    return body;
}

}  // namespace

Result<A1111Request> ParseA1111Img2Img(std::string_view body_text) {
    A1111Request out;
    LABHOUSE_ASSIGN_OR_RETURN(json body, ParseCommon(body_text, kImg2ImgFields, out));
    // The result keeps the photo's size: width and height mean nothing here (listed as ignored).
    if (!body.contains("init_images") || !body["init_images"].is_array() || body["init_images"].empty()) {
        return InvalidArgument("'init_images' must hold one base64 image (txt2img is /sdapi/v1/txt2img)");
    }
    if (body["init_images"].size() > 1) {
        return InvalidArgument("'init_images' takes one image; labhouse runs one per job");
    }
    if (!body["init_images"][0].is_string()) return InvalidArgument("'init_images' must hold base64 strings");
    LABHOUSE_ASSIGN_OR_RETURN(out.submit.image_bytes,
                              DecodeBase64Field("init_images", body["init_images"][0].get<std::string>()));
    if (body.contains("denoising_strength")) {
        LABHOUSE_ASSIGN_OR_RETURN(out.submit.params.strength,
                                  Field<double>(body, "denoising_strength", json::value_t::number_float));
    }
    return out;
}

// txt2img: a text-to-image job of width x height (A1111's 512 x 512 when absent). init_images and
// denoising_strength (A1111's hires fix) have no meaning here and are listed as ignored.
Result<A1111Request> ParseA1111Txt2Img(std::string_view body_text) {
    A1111Request out;
    LABHOUSE_ASSIGN_OR_RETURN(json body, ParseCommon(body_text, kTxt2ImgFields, out));
    JobParams& p = out.submit.params;
    p.kind = JobKind::kTextToImage;
    p.width = kDefaultSide;
    p.height = kDefaultSide;
    for (const char* side : {"width", "height"}) {
        if (!body.contains(side)) continue;
        LABHOUSE_ASSIGN_OR_RETURN(auto v, Field<std::int64_t>(body, side, json::value_t::number_integer));
        if (v < 1 || v > 100000) return InvalidArgument(std::string("'") + side + "' must be a positive size");
        (std::string(side) == "width" ? p.width : p.height) = static_cast<int>(v);
    }
    LABHOUSE_RETURN_IF_ERROR(ValidateTextToImageSize(*p.width, *p.height));
    if (p.prompt.empty() && p.style.empty()) return InvalidArgument("'prompt' is required for txt2img");
    return out;
}

const std::map<std::string, std::string>& A1111Samplers() { return kSamplers; }

}  // namespace labhouse::http
