#include "labhouse/support/job_json.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace labhouse {
namespace {

// A whole number in [min, max]. nlohmann's get<int64_t>() on a float is a plain cast, undefined
// behaviour past the target's range (a fuzz finding: {"seed": 4.2e74}); a float is taken only
// when it is integral and in range (rows written by older versions may hold 20.0).
template <class Int>
Result<Int> WholeNumber(const nlohmann::json& v, const char* name) {
    constexpr auto kMin = static_cast<std::int64_t>(std::numeric_limits<Int>::min());
    constexpr auto kMax = static_cast<std::int64_t>(std::numeric_limits<Int>::max());
    const auto bad = [name] {
        return InvalidArgument(std::string("params: ") + name + " is not a whole number in range");
    };
    if (v.is_number_unsigned()) {
        const auto value = v.get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(kMax)) return bad();
        return static_cast<Int>(value);
    }
    if (v.is_number_integer()) {
        const auto value = v.get<std::int64_t>();
        if (value < kMin || value > kMax) return bad();
        return static_cast<Int>(value);
    }
    if (v.is_number_float()) {
        const double value = v.get<double>();
        // kMax + 1.0 is exact (a power of two) where kMax itself may round up past the range.
        if (!(value >= static_cast<double>(kMin) && value < static_cast<double>(kMax) + 1.0) ||
            value != std::trunc(value)) {
            return bad();
        }
        return static_cast<Int>(value);
    }
    return bad();
}

}  // namespace

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
        if (j.contains("steps")) { LABHOUSE_ASSIGN_OR_RETURN(p.steps, WholeNumber<int>(j.at("steps"), "steps")); }
        if (j.contains("guidance")) p.guidance = j.at("guidance").get<double>();
        if (j.contains("seed")) { LABHOUSE_ASSIGN_OR_RETURN(p.seed, WholeNumber<std::int64_t>(j.at("seed"), "seed")); }
        p.sampler = j.value("sampler", "");
        p.model = j.value("model", "");
        if (j.contains("width")) { LABHOUSE_ASSIGN_OR_RETURN(p.width, WholeNumber<int>(j.at("width"), "width")); }
        if (j.contains("height")) { LABHOUSE_ASSIGN_OR_RETURN(p.height, WholeNumber<int>(j.at("height"), "height")); }
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
