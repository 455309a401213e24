#include "labhouse/app/access_storage.h"

#include "labhouse/adapters/sqlite/sqlite_key_repository.h"
#ifdef LABHOUSE_HAVE_POSTGRES
#include "labhouse/adapters/postgres/postgres_key_repository.h"
#endif
#ifdef LABHOUSE_HAVE_REDIS
#include "labhouse/adapters/redis/redis_rate_limiter.h"
#endif

namespace labhouse::app {

Result<std::unique_ptr<KeyRepository>> OpenKeyRepository(const AppConfig& config) {
    if (config.UsesPostgres()) {
#ifdef LABHOUSE_HAVE_POSTGRES
        // A pool of its own: one lookup per authenticated request, each a short query.
        LABHOUSE_ASSIGN_OR_RETURN(auto pool, postgres::PgPool::Open({config.database_url, "", 4}));
        LABHOUSE_ASSIGN_OR_RETURN(auto keys, postgres::PostgresKeyRepository::Open(std::move(pool)));
        return std::unique_ptr<KeyRepository>(std::move(keys));
#else
        return Unimplemented("built without PostgreSQL (libpqxx)");
#endif
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto keys, sqlite::SqliteKeyRepository::Open(config.SqlitePath()));
    return std::unique_ptr<KeyRepository>(std::move(keys));
}

Result<std::unique_ptr<RateLimiter>> OpenSharedRateLimiter(const AppConfig& config) {
    if (config.queue_url.empty()) return std::unique_ptr<RateLimiter>();
#ifdef LABHOUSE_HAVE_REDIS
    LABHOUSE_ASSIGN_OR_RETURN(auto limiter, redis::RedisRateLimiter::Open({config.queue_url}));
    return std::unique_ptr<RateLimiter>(std::move(limiter));
#else
    return Unimplemented("built without Redis (hiredis)");
#endif
}

}  // namespace labhouse::app
