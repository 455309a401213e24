#include "labhouse/adapters/redis/redis_rate_limiter.h"

namespace labhouse::redis {
namespace {

constexpr std::int64_t kWindowMs = 60'000;
// INCR and, on a window's first request, PEXPIRE: one atomic step, so a node that dies between the
// two commands can never leave a counter without an expiry.
constexpr const char* kScript =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

}  // namespace

Result<std::unique_ptr<RedisRateLimiter>> RedisRateLimiter::Open(RedisRateOptions options) {
    LABHOUSE_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl(options.url));
    auto limiter = std::unique_ptr<RedisRateLimiter>(new RedisRateLimiter(std::move(options), url));
    LABHOUSE_ASSIGN_OR_RETURN(limiter->conn_, RedisConnection::Connect(url, limiter->options_.timeout));
    return limiter;
}

Result<std::optional<std::int64_t>> RedisRateLimiter::Admit(const std::string& key, int per_minute,
                                                            std::int64_t now_ms) {
    const std::int64_t window = now_ms / kWindowMs;
    const std::int64_t window_end_ms = (window + 1) * kWindowMs;
    const std::string counter = options_.prefix + key + ":" + std::to_string(window);
    std::lock_guard lock(mutex_);
    if (!conn_ || conn_->broken()) {
        LABHOUSE_ASSIGN_OR_RETURN(conn_, RedisConnection::Connect(url_, options_.timeout));
    }
    // The expiry outlasts the window a little, so a node whose clock runs slightly behind still
    // finds the counter of the window it is in.
    LABHOUSE_ASSIGN_OR_RETURN(RedisReply reply,
                              conn_->Command({"EVAL", kScript, "1", counter, std::to_string(kWindowMs * 2)}));
    if (reply.type != RedisReply::Type::kInteger) return Internal("rate limit script returned no count");
    if (reply.integer <= per_minute) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{std::max<std::int64_t>(1, (window_end_ms - now_ms + 999) / 1000)};
}

}  // namespace labhouse::redis
