// AccessControl: the `keys` auth mode's rules, in one place. It authenticates a bearer secret
// against the KeyRepository (no cache: revocation is immediate), rate-limits requests per key
// (through a shared RateLimiter when one is configured, so the limit holds across API nodes; a
// token bucket in this process otherwise, and while the shared one is unreachable), enforces the
// daily job quota from the JobRepository (the shared database in scale-out, so it is global too),
// and decides which jobs a caller may see. The HTTP adapter calls it from its single request middleware.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/api_key.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/ports/clock.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/ports/key_repository.h"
#include "labhouse/core/ports/rate_limiter.h"

namespace labhouse {

// Who is calling. In the open mode everyone is an anonymous admin (owner "").
struct Caller {
    std::string key_id;  // the job owner id; empty in the open mode
    bool admin = false;
    int rate_per_minute = 0;
    int daily_jobs = 0;
};

// A request refused for a limit: HTTP 429 with Retry-After.
// Seconds from now_ms to the next 00:00 UTC, when daily quotas reset (at least 1).
std::int64_t SecondsUntilQuotaReset(std::int64_t now_ms);

struct Throttle {
    std::string message;
    std::int64_t retry_after_s = 1;
};

// A new random secret: "lh_" + 43 base62 characters (256 bits) from the OS entropy source.
std::string NewApiKeySecret();
// The stored form of a secret.
std::string HashApiKeySecret(std::string_view secret);

struct CreatedKey {
    ApiKey key;
    std::string secret;  // shown once; never stored or logged
};

struct KeyLimits {
    bool admin = false;
    int rate_per_minute = 0;
    int daily_jobs = 0;
};

// Creates a key: kInvalidArgument for an empty or long name or negative limits.
Result<CreatedKey> CreateApiKey(KeyRepository& keys, const Clock& clock, const std::string& name,
                                const KeyLimits& limits);

// The in-process limiter: a token bucket per key (capacity = the per-minute limit, refilled
// continuously). Thread-safe.
class TokenBucketRateLimiter final : public RateLimiter {
public:
    Result<std::optional<std::int64_t>> Admit(const std::string& key, int per_minute, std::int64_t now_ms) override;

private:
    struct Bucket {
        double tokens = 0;
        std::int64_t updated_ms = 0;
    };
    std::mutex mutex_;
    std::map<std::string, Bucket> buckets_;
};

class AccessControl {
public:
    // `shared` (may be null; not owned): the limiter all API nodes share (Redis). Without it, or
    // while it fails, each process limits with its own token buckets.
    AccessControl(const KeyRepository& keys, const JobRepository& jobs, const Clock& clock,
                  RateLimiter* shared = nullptr);

    // nullopt for a missing, unknown or revoked secret (the HTTP layer answers 401 without saying
    // which, so a stolen revoked key teaches nothing). An error when the key store cannot be read.
    Result<std::optional<Caller>> Authenticate(std::string_view secret) const;
    // Counts one request against the caller's rate limit; a Throttle when it is used up. Thread-safe.
    std::optional<Throttle> AdmitRequest(const Caller& caller);
    // Checks the daily job quota before a job is created (jobs since 00:00 UTC, every state).
    // An early answer only: simultaneous requests can all pass it; DailyQuota() goes with the
    // job to the repository, which enforces it with the insert.
    Result<std::optional<Throttle>> AdmitJob(const Caller& caller) const;
    // The caller's quota as JobRepository::Create takes it; nullopt when unlimited.
    std::optional<CreateQuota> DailyQuota(const Caller& caller) const;

private:
    const KeyRepository& keys_;
    const JobRepository& jobs_;
    const Clock& clock_;
    RateLimiter* shared_;
    TokenBucketRateLimiter local_;
    std::atomic<std::int64_t> shared_failure_logged_ms_{0};  // logs a failing shared limiter once a minute
};

// True when the caller may see the job: admins (and the open mode) see all, others only their own.
inline bool CanAccess(const Caller& caller, const Job& job) { return caller.admin || job.owner == caller.key_id; }

}  // namespace labhouse
