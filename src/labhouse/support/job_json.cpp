#include "labhouse/support/job_json.h"

namespace labhouse {

nlohmann::json ParamsToJson(const JobParams& p) {
    nlohmann::json j = nlohmann::json::object();
    j["backend"] = p.backend;
    // Written only for text-to-image, so image-to-image records keep the shape they always had.
    if (p.kind == JobKind::kTextToImage) j["kind"] = JobKindName(p.kind);
    if (!p.style.empty()) j["style"] = p.style;
    if (!p.prompt.empty()) j["prompt"] = p.prompt;
    if (!p.negative_prompt.empty()) j["negative_prompt"] = p.negative_prompt;
    if (p.strength) j["strength"] = *p.strength;
    if (p.steps) j["steps"] = *p.steps;
    if (p.guidance) j["guidance"] = *p.guidance;
    if (p.seed) j["seed"] = *p.seed;
    if (!p.sampler.empty()) j["sampler"] = p.sampler;
    if (!p.model.empty()) j["model"] = p.model;
    if (p.width) j["width"] = *p.width;
    if (p.height) j["height"] = *p.height;
    if (!p.options.empty()) j["options"] = StringMapToJson(p.options);
    return j;
}

Result<JobParams> ParamsFromJson(const nlohmann::json& j) {
    if (!j.is_object()) return InvalidArgument("params: not an object");
    try {
        JobParams p;
        p.backend = j.value("backend", "");
        if (j.contains("kind")) {
            auto kind = JobKindFromName(j.at("kind").get<std::string>());
            if (!kind) return InvalidArgument("params: unknown kind");
            p.kind = *kind;
        }
        p.style = j.value("style", "");
        p.prompt = j.value("prompt", "");
        p.negative_prompt = j.value("negative_prompt", "");
        if (j.contains("strength")) p.strength = j.at("strength").get<double>();
        if (j.contains("steps")) p.steps = j.at("steps").get<int>();
        if (j.contains("guidance")) p.guidance = j.at("guidance").get<double>();
        if (j.contains("seed")) p.seed = j.at("seed").get<std::int64_t>();
        p.sampler = j.value("sampler", "");
        p.model = j.value("model", "");
        if (j.contains("width")) p.width = j.at("width").get<int>();
        if (j.contains("height")) p.height = j.at("height").get<int>();
        if (j.contains("options")) {
            LABHOUSE_ASSIGN_OR_RETURN(p.options, StringMapFromJson(j.at("options")));
        }
        return p;
    } catch (const nlohmann::json::exception& e) {
        return InvalidArgument(std::string("params: ") + e.what());
    }
}

nlohmann::json StringMapToJson(const std::map<std::string, std::string>& map) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : map) j[k] = v;
    return j;
}

Result<std::map<std::string, std::string>> StringMapFromJson(const nlohmann::json& j) {
    if (!j.is_object()) return InvalidArgument("expected an object of strings");
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : j.items()) {
        if (!v.is_string()) return InvalidArgument("'" + k + "' is not a string");
        out[k] = v.get<std::string>();
    }
    return out;
}

}  // namespace labhouse
