#include "labhouse/adapters/postgres/pg_migrations.h"

#include <array>

#include <pqxx/pqxx>

namespace labhouse::postgres {
namespace {

// Applied in order, each once. Never edit an applied one: append a new one. The jobs table mirrors
// the SQLite adapter's (same columns and meaning), so both pass the same contract suite.
constexpr std::array<const char*, 6> kMigrations = {
    R"sql(
CREATE TABLE jobs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','canceled')),
    backend TEXT NOT NULL,
    params TEXT NOT NULL,
    input_blob TEXT NOT NULL,
    result_blob TEXT,
    progress_stage TEXT NOT NULL DEFAULT 'queued',
    progress_step INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    progress_seconds_per_step DOUBLE PRECISION NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner TEXT,
    lease_expires_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    started_ms BIGINT NOT NULL DEFAULT 0,
    finished_ms BIGINT NOT NULL DEFAULT 0,
    idempotency_key TEXT UNIQUE,
    request_fingerprint TEXT NOT NULL DEFAULT '',
    result_meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX jobs_state_seq ON jobs (state, seq);
CREATE INDEX jobs_running_lease ON jobs (lease_expires_ms) WHERE state = 'running';
CREATE INDEX jobs_input_blob ON jobs (input_blob);
CREATE INDEX jobs_result_blob ON jobs (result_blob);
)sql",
    // Blobs live in the database so that a worker on another machine needs no shared volume.
    R"sql(
CREATE TABLE blobs (
    id TEXT PRIMARY KEY CHECK (length(id) = 64),
    data BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
)sql",
    // The API key that owns each job ('' = created in the open mode); mirrors SQLite migration 2.
    R"sql(
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_owner_seq ON jobs (owner, seq);
CREATE INDEX jobs_owner_created ON jobs (owner, created_ms);
)sql",
    // Text-to-image jobs have no input blob (''); mirrors SQLite migration 3.
    R"sql(
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'img2img'
    CHECK (kind IN ('img2img', 'txt2img') AND (kind = 'txt2img') = (input_blob = ''));
)sql",
    // API keys (stored hashed), shared by every API node; mirrors SQLite's api_keys (migration 2).
    R"sql(
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    rate_per_minute INTEGER NOT NULL DEFAULT 0,
    daily_jobs INTEGER NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT NOT NULL DEFAULT 0
);
)sql",
    // Webhook deliveries; mirrors SQLite migration 4.
    R"sql(
ALTER TABLE jobs ADD COLUMN webhook_due BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE jobs ADD COLUMN webhook_claim_until_ms BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET webhook_due = TRUE
    WHERE state IN ('queued', 'running') AND (params::jsonb -> 'options') ? 'webhook_url';
CREATE INDEX jobs_webhook_due ON jobs (seq) WHERE webhook_due;
)sql",
};

// Any fixed number: the key of the advisory lock that serializes migrations across processes.
constexpr std::int64_t kMigrationLockKey = 0x6c6162686f757365;  // "labhouse"

}  // namespace

Result<int> Migrate(PgPool& pool) {
    return pool.Run<int>([](pqxx::connection& conn) -> Result<int> {
        {
            pqxx::work tx(conn);
            tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
            tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "applied_ms BIGINT NOT NULL)");
            tx.commit();
        }
        for (std::size_t i = 0; i < kMigrations.size(); ++i) {
            const int version = static_cast<int>(i + 1);
            pqxx::work tx(conn);
            tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
            if (!tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", version).empty()) continue;
            tx.exec(kMigrations[i]);
            tx.exec_params("INSERT INTO schema_migrations (version, applied_ms) "
                           "VALUES ($1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)",
                           version);
            tx.commit();
        }
        pqxx::read_transaction tx(conn);
        return tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
    });
}

}  // namespace labhouse::postgres
