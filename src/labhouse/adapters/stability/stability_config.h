// StabilityConfig: everything the Stability AI backend needs to know, owned by the adapter. The
// app fills it from the environment (the key only ever comes from there or a config file) and
// logs ToString(), which never shows the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::stability {

// Which Stability endpoint family an engine id is served by.
enum class StabilityApi {
    kV1Sdxl,    // POST /v1/generation/{engine}/image-to-image (multipart, nine fixed sizes)
    kV2Sd3,     // POST /v2beta/stable-image/generate/sd3 with mode=image-to-image and model=<id>
    kV2Ultra,   // POST /v2beta/stable-image/generate/ultra with image + strength
};

struct EngineInfo {
    std::string id;  // what the user names: "stable-diffusion-xl-1024-v1-0", "sd3.5-large", "ultra"
    StabilityApi api = StabilityApi::kV1Sdxl;
};

// The engine ids this backend accepts, in the order shown to people.
const std::vector<std::string>& KnownEngines();
// kInvalidArgument (listing the known ids) for anything else.
Result<EngineInfo> ParseEngine(std::string_view id);

struct StabilityConfig {
    std::string api_key;  // secret: never logged, never in errors or job records
    std::string base_url = "https://api.stability.ai";
    std::string engine = "stable-diffusion-xl-1024-v1-0";  // default when a job names none
    int max_concurrency = 4;  // jobs of this backend one worker process runs at once (I/O bound)

    std::chrono::milliseconds connect_timeout{10'000};
    // Whole request, upload to last byte. SDXL answers in ~5-20 s; a timeout after the upload
    // completed is never retried (the generation may have been charged), so keep this generous.
    std::chrono::milliseconds request_timeout{120'000};
    std::chrono::milliseconds balance_timeout{5'000};
    std::chrono::milliseconds balance_cache_ttl{30'000};
    // After a 403 on a generation the backend reports unavailable at least this long: a working
    // balance check proves the key is valid, not that it may generate, so only time (or a
    // successful job) lifts it. A 401 is lifted by the next successful balance check.
    std::chrono::milliseconds permission_recheck{300'000};

    // 500/502/503 answers and connections that failed before the request was sent are retried
    // this many times after the first try, waiting backoff_base * 2^n (capped, with jitter).
    int max_retries = 3;
    std::chrono::milliseconds backoff_base{1'000};
    std::chrono::milliseconds backoff_max{30'000};
    // A 429 means the key is "timed out for 60 seconds" (documented); wait that long plus up to
    // rate_limit_jitter, at most max_rate_limit_waits times per job.
    std::chrono::milliseconds rate_limit_wait{60'000};
    std::chrono::milliseconds rate_limit_jitter{5'000};
    int max_rate_limit_waits = 3;
    // The documented limit: 150 requests per 10 s (shared by all jobs of this transformer).
    int rate_limit_requests = 150;
    std::chrono::milliseconds rate_limit_window{10'000};

    // While waiting (for the API, a retry or the rate limit) the stage is re-reported this often:
    // the job shows the seconds waited (step) of the wait's length (total), and the worker only
    // learns of a user's cancel when a transformer reports (or at its lease renewal).
    std::chrono::milliseconds progress_interval{1'000};

    // Used when neither the job nor its style gives one (ours: how much to change the photo).
    double default_strength = 0.5;
    double default_cfg_scale = 7.0;  // v1 default per the spec
    int default_steps = 30;          // v1 default per the 2025 spec
    // The v1 init_image byte limit is undocumented (one third party claims 5 MB); stay under it.
    std::int64_t max_v1_upload_bytes = 4'000'000;
    // v2beta: "Max request size 10 MiB" for the whole multipart body.
    std::int64_t max_v2_request_bytes = 10 * 1024 * 1024;
    // v2beta uploads are scaled down to this many pixels (the output is ~1 MP anyway), which
    // also keeps them far below the request limit.
    std::int64_t max_v2_upload_pixels = 1024 * 1024;
    // Response formats: v1 JSON (base64 artifacts) by default, v2beta raw image bytes by default.
    bool v1_accept_png = false;
    bool v2_accept_json = false;

    // kInvalidArgument naming the first bad field. An empty key is valid: the backend is then
    // registered but reports itself unavailable.
    Status Validate() const;
    // One line for the startup log; the key shows as "<set>" or "<unset>".
    std::string ToString() const;
};

// Replaces the key, and anything shaped like a Stability key ("sk-" + 8 or more key characters),
// with "[redacted]". Applied to every text that comes back from the API (401 bodies echo keys).
std::string RedactSecrets(std::string text, std::string_view api_key);

}  // namespace labhouse::stability
