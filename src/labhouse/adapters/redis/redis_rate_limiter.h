// RedisRateLimiter: the per-key request limit shared by every API node of a scale-out
// deployment. A fixed one-minute window per key: one Lua script INCRements
// "labhouse:rate:<key>:<minute>" and sets its expiry on the first request of the window, atomically,
// so concurrent nodes never lose a count and no counter outlives its window. A key therefore gets
// at most `per_minute` requests in each clock minute (up to twice that across a minute boundary,
// the known cost of fixed windows). Windows follow the nodes' clocks (keep them in NTP sync).
// Thread-safe: one connection, used under a mutex (one round trip per request).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "labhouse/adapters/redis/redis_connection.h"
#include "labhouse/core/ports/rate_limiter.h"

namespace labhouse::redis {

struct RedisRateOptions {
    std::string url = "redis://127.0.0.1:6379";
    std::string prefix = "labhouse:rate:";
    std::chrono::milliseconds timeout{2000};
};

class RedisRateLimiter final : public RateLimiter {
public:
    // Connects once to check the URL; kUnavailable when Redis cannot be reached.
    static Result<std::unique_ptr<RedisRateLimiter>> Open(RedisRateOptions options);

    Result<std::optional<std::int64_t>> Admit(const std::string& key, int per_minute, std::int64_t now_ms) override;

private:
    RedisRateLimiter(RedisRateOptions options, RedisUrl url) : options_(std::move(options)), url_(std::move(url)) {}

    RedisRateOptions options_;
    RedisUrl url_;
    std::mutex mutex_;
    std::unique_ptr<RedisConnection> conn_;  // reconnected after an I/O error
};

}  // namespace labhouse::redis
