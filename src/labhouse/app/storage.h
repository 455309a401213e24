// Storage: the adapters behind the job repository, blob store, queue and event bus, chosen from
// the configuration. Two deployments:
// - embedded (default): SQLite file + blob files in the data dir + in-process queue and events.
//   One process owns the data dir.
// - scale-out: a postgresql:// database URL selects the PostgreSQL repository and blob store, and a
//   redis:// queue URL the Redis Streams queue and pub/sub events. Any number of API nodes and
//   worker processes share them; none owns anything alone.
// The pieces are independent: PostgreSQL without Redis works (workers then find jobs by polling
// the repository, and SSE on one node sees another node's jobs by re-reading it).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "labhouse/app/config.h"
#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/job_queue.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse::app {

struct Storage {
    // Declared in dependency order: members are destroyed in reverse, so the queue (which reads
    // the repository) goes before the repository.
    std::unique_ptr<JobRepository> jobs;
    std::unique_ptr<BlobStore> blobs;
    std::unique_ptr<EventBus> events;
    std::unique_ptr<JobQueue> queue;
    // True when other processes may hold leases in the same repository: then no data-dir lock and
    // no "every running job is orphaned" recovery at start; expired leases are recovered instead.
    bool shared = false;
    std::string description;  // for the startup log, without secrets
    // Embedded only (empty otherwise): removes blob files no job refers to and temp files, left by
    // a crash mid-write. Call while no request or worker runs (at start, holding the data-dir lock).
    std::function<Result<int>()> sweep_orphan_blobs;
};

// Opens (and migrates) the configured stores. `consumer` names this process in the Redis consumer
// group (host-pid). kUnavailable when a server cannot be reached.
Result<Storage> OpenStorage(const AppConfig& config, const std::string& consumer);

// Applies pending migrations of the configured database; returns the schema version.
Result<int> MigrateStorage(const AppConfig& config);

}  // namespace labhouse::app
