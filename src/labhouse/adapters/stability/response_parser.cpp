#include "labhouse/core/base/base64.h"
#include "labhouse/adapters/stability/response_parser.h"

#include <cctype>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "labhouse/adapters/stability/stability_config.h"

namespace labhouse::stability {
namespace {

using nlohmann::json;

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::optional<std::int64_t> ParseSeedHeader(const std::string& value) {
    if (value.empty() || value.size() > 12) return std::nullopt;
    std::int64_t seed = 0;
    for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        seed = seed * 10 + (c - '0');
    }
    return seed;
}

std::optional<std::int64_t> SeedFrom(const json& node) {
    if (node.is_number_unsigned()) {
        const auto seed = node.get<std::uint64_t>();
        if (seed > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<std::int64_t>(seed);
    }
    if (node.is_number_integer()) return node.get<std::int64_t>();
    if (node.is_number_float()) {
        // Converting a double outside int64's range is undefined behaviour (a fuzz finding:
        // {"seed": 1e300}); seeds are 32-bit, so anything else is no seed.
        const double seed = node.get<double>();
        if (!(seed >= 0.0 && seed <= 4294967295.0)) return std::nullopt;
        return static_cast<std::int64_t>(seed);
    }
    if (node.is_string()) return ParseSeedHeader(node.get<std::string>());
    return std::nullopt;
}

// obj[key] when it is a string, else `fallback`. json::value() throws type_error for a value of
// another type (a fuzz finding: {"name": []} in an error body escaped ClassifyFailure).
std::string StringOr(const json& obj, const std::string& key, const std::string& fallback) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The API's error name and its human message, from either error shape.
std::pair<std::string, std::string> ErrorDetails(const std::string& body) {
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return {"", body.substr(0, 300)};
    std::string name = StringOr(doc, "name", "");
    std::string message;
    if (doc.contains("message") && doc["message"].is_string()) {
        message = doc["message"].get<std::string>();
    } else if (doc.contains("errors") && doc["errors"].is_array()) {
        for (const auto& item : doc["errors"]) {
            if (!item.is_string()) continue;
            message += (message.empty() ? "" : "; ") + item.get<std::string>();
        }
    }
    return {name, message};
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& value) {
    auto seconds = ParseSeedHeader(value);  // delta-seconds only; an HTTP date is ignored
    if (!seconds || *seconds > 3600) return std::nullopt;
    return std::chrono::seconds(*seconds);
}

}  // namespace


Result<GeneratedImage> ParseGenerated(const HttpResponse& response) {
    GeneratedImage image;
    image.request_id = response.Header("x-request-id");
    const std::string type = response.Header("content-type");
    if (StartsWith(type, "application/json")) {
        const json doc = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
        const json* node = nullptr;
        std::string reason_key;
        std::string image_key;
        if (doc.is_object() && doc.contains("artifacts") && doc["artifacts"].is_array() && !doc["artifacts"].empty()) {
            node = &doc["artifacts"][0];  // v1: one artifact per sample; we ask for one
            reason_key = "finishReason";
            image_key = "base64";
        } else if (doc.is_object() && doc.contains("image")) {
            node = &doc;  // v2beta JSON
            reason_key = "finish_reason";
            image_key = "image";
        }
        if (node == nullptr || !node->is_object() || !node->contains(image_key) || !(*node)[image_key].is_string()) {
            return Internal("stability answered 200 with JSON that holds no image");
        }
        auto bytes = DecodeBase64((*node)[image_key].get<std::string>());
        if (!bytes) return Internal("stability answered 200 with an image that is not valid base64");
        image.bytes = std::move(*bytes);
        image.finish_reason = StringOr(*node, reason_key, "SUCCESS");
        if (node->contains("seed")) image.seed = SeedFrom((*node)["seed"]);
        return image;
    }
    if (StartsWith(type, "image/")) {
        image.bytes = response.body;
        image.finish_reason = response.Header("finish-reason");
        if (image.finish_reason.empty()) image.finish_reason = "SUCCESS";
        image.seed = ParseSeedHeader(response.Header("seed"));
        return image;
    }
    return Internal("stability answered 200 with unexpected content type '" + type.substr(0, 80) + "'");
}

ApiFailure ClassifyFailure(const HttpResponse& response, const std::string& api_key) {
    auto [name, message] = ErrorDetails(response.body);
    name = RedactSecrets(name, api_key);
    message = RedactSecrets(message, api_key);
    const std::string status = std::to_string(response.status);
    const std::string detail = status + (name.empty() ? "" : " " + name) + (message.empty() ? "" : ": " + message);
    ApiFailure failure;
    const long code = response.status;
    if (code == 402 || name == "payment_required" || name == "insufficient_balance") {
        failure.out_of_credits = true;
        failure.error = ResourceExhausted("out of credits: the Stability account cannot pay for this request (" +
                                          detail + ")");
    } else if (code == 400 || code == 422) {
        failure.error = InvalidArgument("Stability rejected the request: " + detail);
    } else if (code == 403 && name == "content_moderation") {
        // v2beta moderates the request itself with a 403; it is about this job, not the key.
        failure.error = InvalidArgument("Stability's content moderation refused the request: " + detail);
        failure.error.reason = "CONTENT_FILTERED";
    } else if (code == 401 || code == 403) {
        failure.key_rejected = true;
        failure.error = FailedPrecondition("Stability rejected the API key: " + detail);
    } else if (code == 404) {
        failure.error = FailedPrecondition("Stability does not know this engine (retired?): " + detail);
    } else if (code == 413) {
        failure.error = PayloadTooLarge("Stability refused the upload size: " + detail);
    } else if (code == 429) {
        failure.action = FailureAction::kWaitRateLimit;
        failure.retry_after = ParseRetryAfter(response.Header("retry-after"));
        failure.error = Unavailable("Stability rate limit: " + detail);
    } else if (code == 500 || code == 502 || code == 503) {
        failure.action = FailureAction::kRetry;
        failure.error = Unavailable("Stability server error: " + detail);
    } else if (code >= 500) {
        // 504 and the rest: a gateway gave up waiting, the generation may still finish and be
        // billed, so retrying could pay twice.
        failure.error = Unavailable("Stability gateway error, not retried (the generation may have run): " + detail);
    } else {
        failure.error = FailedPrecondition("Stability answered " + detail);
    }
    return failure;
}

Result<double> ParseBalance(const HttpResponse& response) {
    const json doc = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("credits") || !doc["credits"].is_number()) {
        return Internal("stability balance answer holds no credits number");
    }
    return doc["credits"].get<double>();
}

}  // namespace labhouse::stability
