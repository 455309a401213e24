#include "labhouse/core/usecases/access_control.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "labhouse/core/base/log.h"
#include "labhouse/core/base/sha256.h"

namespace labhouse {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
constexpr std::size_t kMaxNameChars = 100;

// Uniform random bytes from the OS (libstdc++ reads /dev/urandom or getrandom for this token).
std::string RandomBase62(std::size_t length) {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::random_device device("/dev/urandom");
    std::string out;
    out.reserve(length);
    while (out.size() < length) {
        const unsigned int value = device();
        // Rejection sampling keeps every character equally likely: 62 * 4 = 248 <= 255.
        for (int shift = 0; shift < 32 && out.size() < length; shift += 8) {
            const unsigned int byte = (value >> shift) & 0xff;
            if (byte < 248) out.push_back(kAlphabet[byte % 62]);
        }
    }
    return out;
}

std::string RandomHex(std::size_t length) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device device("/dev/urandom");
    std::string out;
    while (out.size() < length) {
        const unsigned int value = device();
        for (int shift = 0; shift < 32 && out.size() < length; shift += 4) out.push_back(kHex[(value >> shift) & 15]);
    }
    return out;
}

}  // namespace

std::string NewApiKeySecret() { return "lh_" + RandomBase62(43); }

std::string HashApiKeySecret(std::string_view secret) { return Sha256Hex(secret); }

Result<CreatedKey> CreateApiKey(KeyRepository& keys, const Clock& clock, const std::string& name,
                                const KeyLimits& limits) {
    if (name.empty() || name.size() > kMaxNameChars) return InvalidArgument("key name must be 1 to 100 characters");
    if (limits.rate_per_minute < 0 || limits.daily_jobs < 0) {
        return InvalidArgument("rate and daily job limits must not be negative (0 = unlimited)");
    }
    CreatedKey created;
    created.secret = NewApiKeySecret();
    ApiKey& key = created.key;
    key.id = "key_" + RandomHex(16);
    key.name = name;
    key.secret_hash = HashApiKeySecret(created.secret);
    key.prefix = created.secret.substr(0, 7);
    key.admin = limits.admin;
    key.rate_per_minute = limits.rate_per_minute;
    key.daily_jobs = limits.daily_jobs;
    key.created_ms = clock.NowMs();
    LABHOUSE_RETURN_IF_ERROR(keys.Create(key));
    return created;
}

AccessControl::AccessControl(const KeyRepository& keys, const JobRepository& jobs, const Clock& clock,
                             RateLimiter* shared)
    : keys_(keys), jobs_(jobs), clock_(clock), shared_(shared) {}

Result<std::optional<Caller>> AccessControl::Authenticate(std::string_view secret) const {
    if (secret.size() < 10 || secret.size() > 200) return std::optional<Caller>{};
    auto key = keys_.FindByHash(HashApiKeySecret(secret));
    if (!key) {
        if (key.error().code == ErrorCode::kNotFound) return std::optional<Caller>{};
        return key.error();
    }
    if (key->revoked()) return std::optional<Caller>{};
    return std::optional<Caller>{Caller{key->id, key->admin, key->rate_per_minute, key->daily_jobs}};
}

Result<std::optional<std::int64_t>> TokenBucketRateLimiter::Admit(const std::string& key, int per_minute,
                                                                  std::int64_t now_ms) {
    const double capacity = per_minute;
    const double per_ms = capacity / 60000.0;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = buckets_.try_emplace(key, Bucket{capacity, now_ms});
    Bucket& bucket = it->second;
    if (!inserted) {
        // Capped at the current capacity, so a limit lowered since the bucket filled applies at once.
        const auto elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
        bucket.tokens = std::min(capacity, bucket.tokens + per_ms * static_cast<double>(elapsed));
        bucket.updated_ms = now_ms;
    }
    if (bucket.tokens >= 1.0) {
        bucket.tokens -= 1.0;
        return std::optional<std::int64_t>{};
    }
    const double wait_ms = (1.0 - bucket.tokens) / per_ms;
    return std::optional<std::int64_t>{
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait_ms / 1000.0)))};
}

std::optional<Throttle> AccessControl::AdmitRequest(const Caller& caller) {
    if (caller.rate_per_minute <= 0) return std::nullopt;
    const std::int64_t now = clock_.NowMs();
    Result<std::optional<std::int64_t>> retry = std::optional<std::int64_t>{};
    if (shared_ != nullptr) retry = shared_->Admit(caller.key_id, caller.rate_per_minute, now);
    if (shared_ == nullptr || !retry) {
        // Without the shared counter every node still limits on its own: a Redis outage loosens the
        // limit (to one per node) instead of refusing or waving through every request.
        if (shared_ != nullptr) {
            std::int64_t last = shared_failure_logged_ms_.load();
            if (now - last >= 60'000 && shared_failure_logged_ms_.compare_exchange_strong(last, now)) {
                Log(LogLevel::kWarn, "rate_limit_store_failed",
                    {{"message", retry.error().message}, {"fallback", "per-process token bucket"}});
            }
        }
        retry = local_.Admit(caller.key_id, caller.rate_per_minute, now);
    }
    if (!retry || !*retry) return std::nullopt;
    return Throttle{"rate limit of " + std::to_string(caller.rate_per_minute) + " requests per minute exceeded",
                    **retry};
}

std::optional<CreateQuota> AccessControl::DailyQuota(const Caller& caller) const {
    if (caller.daily_jobs <= 0) return std::nullopt;
    const std::int64_t now = clock_.NowMs();
    return CreateQuota{caller.daily_jobs, now - now % kDayMs};
}

std::int64_t SecondsUntilQuotaReset(std::int64_t now_ms) {
    const std::int64_t day_start = now_ms - now_ms % kDayMs;
    return std::max<std::int64_t>(1, (day_start + kDayMs - now_ms + 999) / 1000);
}

Result<std::optional<Throttle>> AccessControl::AdmitJob(const Caller& caller) const {
    const std::optional<CreateQuota> quota = DailyQuota(caller);
    if (!quota) return std::optional<Throttle>{};
    LABHOUSE_ASSIGN_OR_RETURN(std::int64_t used, jobs_.CountCreatedSince(caller.key_id, quota->since_ms));
    if (used < quota->max_jobs) return std::optional<Throttle>{};
    return std::optional<Throttle>{Throttle{QuotaUsedUp(*quota).message, SecondsUntilQuotaReset(clock_.NowMs())}};
}

}  // namespace labhouse
