// Reads what the Stability API answers: generated images in either response format (v1 JSON
// artifacts, v2beta JSON, or raw image bytes with finish-reason/seed headers), error bodies in
// both shapes ({id,name,message} and {id,name,errors[]}), and the account balance. Every text
// taken from a response passes through RedactSecrets before it can reach a log or a job.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "labhouse/adapters/stability/http_client.h"
#include "labhouse/core/base/result.h"

namespace labhouse::stability {

struct GeneratedImage {
    std::string bytes;          // the encoded image (PNG unless the API chose otherwise)
    std::string finish_reason;  // SUCCESS, CONTENT_FILTERED or ERROR
    std::optional<std::int64_t> seed;
    std::string request_id;  // x-request-id, for support requests
};

// A 200 answer. kInternal when the body or its base64 is malformed.
Result<GeneratedImage> ParseGenerated(const HttpResponse& response);

// What to do about a non-200 answer.
enum class FailureAction {
    kFail,           // the job fails with `error`
    kRetry,          // the API declared the generation failed (500/502/503): nothing was charged
    kWaitRateLimit,  // 429: the key is timed out; wait, then retry (nothing was charged)
};

struct ApiFailure {
    FailureAction action = FailureAction::kFail;
    Error error;
    bool key_rejected = false;  // 401/403 (not moderation): the backend should report unavailable
    bool out_of_credits = false;
    std::optional<std::chrono::milliseconds> retry_after;  // from a Retry-After header, if any
};

// Maps a non-200 answer to a job outcome (table in docs/stability.md).
ApiFailure ClassifyFailure(const HttpResponse& response, const std::string& api_key);

// {"credits": 12.5} -> 12.5. kInternal when malformed.
Result<double> ParseBalance(const HttpResponse& response);

}  // namespace labhouse::stability
