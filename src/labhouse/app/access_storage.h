// Where the `keys` auth mode keeps its state, chosen from the configuration like the job store:
// API keys in the configured database (the SQLite file, or the shared PostgreSQL of a scale-out
// deployment, so every API node and `labhouse keys` anywhere see the same keys), and the per-key
// request counts in Redis when a redis:// queue URL is set (so the rate limit is global).
#pragma once

#include <memory>

#include "labhouse/app/config.h"
#include "labhouse/core/ports/key_repository.h"
#include "labhouse/core/ports/rate_limiter.h"

namespace labhouse::app {

// Opens (and migrates) the key store of the configured database. kUnavailable when the database
// server cannot be reached.
Result<std::unique_ptr<KeyRepository>> OpenKeyRepository(const AppConfig& config);
// The rate limiter the API nodes share: Redis at the queue URL. nullptr without a queue URL (each
// process then limits on its own, which is exact for the single embedded server).
Result<std::unique_ptr<RateLimiter>> OpenSharedRateLimiter(const AppConfig& config);

}  // namespace labhouse::app
