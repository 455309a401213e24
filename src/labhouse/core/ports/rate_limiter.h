// RateLimiter: counts requests per API key against a per-minute limit. In-process (a token bucket
// per key, TokenBucketRateLimiter in core/usecases/access_control.h) for a single server; shared
// through Redis (a fixed one-minute window per key, adapters/redis) when several API nodes serve
// the same keys, so the limit is global.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "labhouse/core/base/result.h"

namespace labhouse {

class RateLimiter {
public:
    virtual ~RateLimiter() = default;
    // Takes one request of `key` against `per_minute` (> 0) at now_ms. nullopt when admitted;
    // otherwise the seconds (>= 1) after which a retry can be admitted. An error when the shared
    // counter cannot be reached (the caller decides whether to fail open or closed).
    virtual Result<std::optional<std::int64_t>> Admit(const std::string& key, int per_minute, std::int64_t now_ms) = 0;
};

}  // namespace labhouse
