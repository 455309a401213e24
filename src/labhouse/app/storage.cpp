#include "labhouse/app/storage.h"

#include <filesystem>

#include "labhouse/adapters/fs/fs_blob_store.h"
#include "labhouse/adapters/inproc/inproc_event_bus.h"
#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#ifdef LABHOUSE_HAVE_POSTGRES
#include "labhouse/adapters/postgres/pg_migrations.h"
#include "labhouse/adapters/postgres/postgres_blob_store.h"
#include "labhouse/adapters/postgres/postgres_job_repository.h"
#endif
#ifdef LABHOUSE_HAVE_REDIS
#include "labhouse/adapters/redis/redis_event_bus.h"
#include "labhouse/adapters/redis/redis_job_queue.h"
#endif

namespace labhouse::app {
namespace {

#ifdef LABHOUSE_HAVE_POSTGRES
Result<std::shared_ptr<postgres::PgPool>> OpenPool(const AppConfig& config) {
    // One connection per HTTP thread would be wasteful: requests are short, so a few suffice.
    return postgres::PgPool::Open({config.database_url, "", 16});
}
#endif

Status OpenDatabase(const AppConfig& config, Storage& storage) {
    if (config.UsesPostgres()) {
#ifdef LABHOUSE_HAVE_POSTGRES
        LABHOUSE_ASSIGN_OR_RETURN(auto pool, OpenPool(config));
        LABHOUSE_ASSIGN_OR_RETURN(auto jobs, postgres::PostgresJobRepository::Open(pool));
        LABHOUSE_ASSIGN_OR_RETURN(auto blobs, postgres::PostgresBlobStore::Open(pool));
        storage.jobs = std::move(jobs);
        storage.blobs = std::move(blobs);
        storage.shared = true;
        storage.description = "postgresql (jobs and blobs)";
        return OkStatus();
#else
        return Unimplemented("built without PostgreSQL (libpqxx)");
#endif
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto jobs, sqlite::SqliteJobRepository::Open(config.SqlitePath()));
    LABHOUSE_ASSIGN_OR_RETURN(auto blobs, fs::FsBlobStore::Open(std::filesystem::path(config.data_dir) / "blobs"));
    storage.sweep_orphan_blobs = [fs = blobs.get(), repo = jobs.get()]() {
        return fs->SweepOrphans([repo](const std::string& id) { return repo->BlobInUse(id); });
    };
    storage.jobs = std::move(jobs);
    storage.blobs = std::move(blobs);
    storage.description = "sqlite " + config.SqlitePath();
    return OkStatus();
}

Status OpenMessaging(const AppConfig& config, const std::string& consumer, Storage& storage) {
    if (config.queue_url.empty()) {
        storage.events = std::make_unique<inproc::InprocEventBus>();
        storage.queue = std::make_unique<inproc::InprocJobQueue>();
        storage.description += ", in-process queue and events";
        return OkStatus();
    }
#ifdef LABHOUSE_HAVE_REDIS
    LABHOUSE_ASSIGN_OR_RETURN(auto events, redis::RedisEventBus::Open({config.queue_url}));
    redis::RedisQueueOptions queue_options;
    queue_options.url = config.queue_url;
    queue_options.consumer = consumer;
    // An entry held by a dead worker is worth taking over once its job's lease has run out.
    queue_options.claim_idle_ms = std::int64_t{config.lease_seconds} * 1000;
    LABHOUSE_ASSIGN_OR_RETURN(auto queue, redis::RedisJobQueue::Open(queue_options, *storage.jobs));
    storage.events = std::move(events);
    storage.queue = std::move(queue);
    storage.description += ", redis queue and events";
    return OkStatus();
#else
    return Unimplemented("built without Redis (hiredis)");
#endif
}

}  // namespace

Result<Storage> OpenStorage(const AppConfig& config, const std::string& consumer) {
    Storage storage;
    LABHOUSE_RETURN_IF_ERROR(OpenDatabase(config, storage));
    LABHOUSE_RETURN_IF_ERROR(OpenMessaging(config, consumer, storage));
    return storage;
}

Result<int> MigrateStorage(const AppConfig& config) {
    if (config.UsesPostgres()) {
#ifdef LABHOUSE_HAVE_POSTGRES
        LABHOUSE_ASSIGN_OR_RETURN(auto pool, OpenPool(config));
        return postgres::Migrate(*pool);
#else
        return Unimplemented("built without PostgreSQL (libpqxx)");
#endif
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto repo, sqlite::SqliteJobRepository::Open(config.SqlitePath()));
    return repo->SchemaVersion();
}

}  // namespace labhouse::app
