#include "labhouse/adapters/sqlite/sqlite_job_repository.h"

#include <array>
#include <chrono>

#include "labhouse/support/job_json.h"

namespace labhouse::sqlite {
namespace {

// Versioned migrations, applied in order, each in its own transaction. Never edit an applied one:
// append a new one.
constexpr std::array<const char*, 4> kMigrations = {
    R"sql(
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','canceled')),
    backend TEXT NOT NULL,
    params TEXT NOT NULL,
    input_blob TEXT NOT NULL,
    result_blob TEXT,
    progress_stage TEXT NOT NULL DEFAULT 'queued',
    progress_step INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    progress_seconds_per_step REAL NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER NOT NULL DEFAULT 0,
    finished_ms INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT UNIQUE,
    request_fingerprint TEXT NOT NULL DEFAULT '',
    result_meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX jobs_state_seq ON jobs (state, seq);
CREATE INDEX jobs_input_blob ON jobs (input_blob);
CREATE INDEX jobs_result_blob ON jobs (result_blob);
)sql",
    // API keys (stored hashed) and the key that owns each job ('' = created in the open mode).
    R"sql(
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    rate_per_minute INTEGER NOT NULL DEFAULT 0,
    daily_jobs INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_owner_seq ON jobs (owner, seq);
CREATE INDEX jobs_owner_created ON jobs (owner, created_ms);
)sql",
    // Text-to-image jobs: no input blob (''), and the database holds that invariant itself.
    R"sql(
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'img2img'
    CHECK (kind IN ('img2img', 'txt2img') AND (kind = 'txt2img') = (input_blob = ''));
)sql",
    // Webhook deliveries: due (1) from the job's creation with a webhook_url until one is recorded;
    // the node sending it holds it until webhook_claim_until_ms. Jobs still queued or running get
    // theirs; those that ended before this migration had them sent already.
    R"sql(
ALTER TABLE jobs ADD COLUMN webhook_due INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN webhook_claim_until_ms INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET webhook_due = 1
    WHERE state IN ('queued', 'running') AND json_extract(params, '$.options.webhook_url') IS NOT NULL;
CREATE INDEX jobs_webhook_due ON jobs (seq) WHERE webhook_due = 1;
)sql",
};

constexpr const char* kColumns =
    "id, state, params, input_blob, result_blob, progress_stage, progress_step, progress_total, "
    "progress_seconds_per_step, error_code, error_message, attempts, max_attempts, cancel_requested, lease_owner, "
    "lease_expires_ms, created_ms, started_ms, finished_ms, idempotency_key, request_fingerprint, result_meta, seq, owner, kind";

Result<Job> ReadJob(const Statement& row) {
    Job job;
    job.id = row.Text(0);
    auto state = JobStateFromName(row.Text(1));
    if (!state) return Internal("job " + job.id + " has an unknown state '" + row.Text(1) + "'");
    job.state = *state;
    auto params_json = nlohmann::json::parse(row.Text(2), nullptr, false);
    LABHOUSE_ASSIGN_OR_RETURN(job.params, ParamsFromJson(params_json));
    job.input_blob = row.Text(3);
    job.result_blob = row.Text(4);
    job.progress = {row.Text(5), static_cast<int>(row.Int(6)), static_cast<int>(row.Int(7)), row.Double(8)};
    if (!row.IsNull(9)) job.error = JobError{row.Text(9), row.Text(10)};
    job.attempts = static_cast<int>(row.Int(11));
    job.max_attempts = static_cast<int>(row.Int(12));
    job.cancel_requested = row.Int(13) != 0;
    job.lease_owner = row.Text(14);
    job.lease_expires_ms = row.Int(15);
    job.created_ms = row.Int(16);
    job.started_ms = row.Int(17);
    job.finished_ms = row.Int(18);
    job.idempotency_key = row.Text(19);
    job.request_fingerprint = row.Text(20);
    auto meta_json = nlohmann::json::parse(row.Text(21), nullptr, false);
    LABHOUSE_ASSIGN_OR_RETURN(job.result_meta, StringMapFromJson(meta_json));
    job.owner = row.Text(23);
    auto kind = JobKindFromName(row.Text(24));
    if (!kind) return Internal("job " + job.id + " has an unknown kind '" + row.Text(24) + "'");
    job.params.kind = *kind;
    return job;
}

// Rolls back unless committed: every multi-statement change goes through one of these.
class Transaction {
public:
    explicit Transaction(Database& db) : db_(db) {}
    ~Transaction() {
        if (open_) (void)db_.Exec("ROLLBACK");
    }
    Status Begin() {
        LABHOUSE_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
        open_ = true;
        return OkStatus();
    }
    Status Commit() {
        LABHOUSE_RETURN_IF_ERROR(db_.Exec("COMMIT"));
        open_ = false;
        return OkStatus();
    }

private:
    Database& db_;
    bool open_ = false;
};

// While another process holds the write lock, each statement waits out the busy timeout with the
// connection's mutex held; without a bound on the wait for that mutex, a request queued behind the
// workers' polling would wait for ever instead of getting a 503.
// The deadline is on the system clock on purpose: libstdc++ waits for a steady_clock deadline
// with pthread_mutex_clocklock, which ThreadSanitizer does not intercept (it then reports every
// unlock as "unlock of an unlocked mutex" and misses what the mutex orders); a system_clock
// deadline uses pthread_mutex_timedlock, which it does. A clock step only lengthens or shortens
// this one wait.
constexpr auto kConnectionWait = std::chrono::milliseconds(kBusyTimeoutMs);
#define LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex)                                                  \
    std::unique_lock<std::timed_mutex> lock(mutex, std::defer_lock);                                 \
    if (!lock.try_lock_until(std::chrono::system_clock::now() + kConnectionWait)) {                  \
        return Unavailable("database busy: the connection stayed in use past the busy timeout");     \
    }

Status NotLeaseHolder(const std::string& id) {
    return FailedPrecondition("job " + id + " is not running under this worker's lease");
}

}  // namespace

SqliteJobRepository::SqliteJobRepository(std::unique_ptr<Database> db) : db_(std::move(db)) {}
SqliteJobRepository::~SqliteJobRepository() = default;

Result<std::unique_ptr<SqliteJobRepository>> SqliteJobRepository::Open(const std::string& path) {
    LABHOUSE_ASSIGN_OR_RETURN(auto db, Database::Open(path));
    auto repo = std::unique_ptr<SqliteJobRepository>(new SqliteJobRepository(std::move(db)));
    LABHOUSE_RETURN_IF_ERROR(repo->Migrate());
    return repo;
}

Status SqliteJobRepository::Migrate() {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_RETURN_IF_ERROR(db_->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"));
    for (std::size_t i = 0; i < kMigrations.size(); ++i) {
        const auto version = static_cast<std::int64_t>(i + 1);
        Transaction tx(*db_);
        LABHOUSE_RETURN_IF_ERROR(tx.Begin());
        LABHOUSE_ASSIGN_OR_RETURN(auto check, db_->Prepare("SELECT 1 FROM schema_migrations WHERE version = ?"));
        LABHOUSE_ASSIGN_OR_RETURN(bool applied, check.Bind(1, version).Step());
        if (applied) continue;
        LABHOUSE_RETURN_IF_ERROR(db_->Exec(kMigrations[i]));
        LABHOUSE_ASSIGN_OR_RETURN(auto record, db_->Prepare(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, CAST(strftime('%s','now') AS INTEGER) * 1000)"));
        LABHOUSE_RETURN_IF_ERROR(record.Bind(1, version).Run());
        LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    }
    return OkStatus();
}

Result<int> SqliteJobRepository::SchemaVersion() {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? static_cast<int>(stmt.Int(0)) : 0;
}

Result<Job> SqliteJobRepository::GetLocked(const std::string& id) const {
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Bind(1, id).Step());
    if (!row) return NotFound("job " + id + " not found");
    return ReadJob(stmt);
}

Result<Job> SqliteJobRepository::Get(const std::string& id) const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return GetLocked(id);
}

Result<std::pair<Job, bool>> SqliteJobRepository::Create(const Job& job, const std::optional<CreateQuota>& quota) {
    LABHOUSE_RETURN_IF_ERROR(CheckInputMatchesKind(job));
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    Transaction tx(*db_);
    LABHOUSE_RETURN_IF_ERROR(tx.Begin());
    if (!job.idempotency_key.empty()) {
        LABHOUSE_ASSIGN_OR_RETURN(auto find, db_->Prepare(std::string("SELECT ") + kColumns +
                                                          " FROM jobs WHERE idempotency_key = ?"));
        LABHOUSE_ASSIGN_OR_RETURN(bool found, find.Bind(1, job.idempotency_key).Step());
        if (found) {
            LABHOUSE_ASSIGN_OR_RETURN(Job existing, ReadJob(find));
            if (existing.request_fingerprint != job.request_fingerprint) {
                return AlreadyExists("Idempotency-Key was already used with a different request");
            }
            return std::pair{existing, false};
        }
    }
    if (quota) {
        // Counted inside the write transaction: one writer at a time, so no two inserts see the same count.
        LABHOUSE_ASSIGN_OR_RETURN(auto count, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE owner = ? AND created_ms >= ?"));
        LABHOUSE_ASSIGN_OR_RETURN(bool row, count.Bind(1, job.owner).Bind(2, quota->since_ms).Step());
        if (row && count.Int(0) >= quota->max_jobs) return QuotaUsedUp(*quota);
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto insert, db_->Prepare(
        "INSERT INTO jobs (id, state, backend, params, input_blob, progress_stage, max_attempts, created_ms, "
        "idempotency_key, request_fingerprint, owner, kind, webhook_due) "
        "VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.Bind(1, job.id)
        .Bind(2, job.params.backend)
        .Bind(3, ParamsToJson(job.params).dump())
        .Bind(4, job.input_blob)
        .Bind(5, job.progress.stage.empty() ? std::string("queued") : job.progress.stage)
        .Bind(6, std::int64_t{job.max_attempts})
        .Bind(7, job.created_ms)
        .BindOptional(8, job.idempotency_key)
        .Bind(9, job.request_fingerprint)
        .Bind(10, job.owner)
        .Bind(11, std::string(JobKindName(job.params.kind)))
        .Bind(12, std::int64_t{job.params.options.count("webhook_url") > 0 ? 1 : 0});
    LABHOUSE_RETURN_IF_ERROR(insert.Run());
    LABHOUSE_ASSIGN_OR_RETURN(Job stored, GetLocked(job.id));
    LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    return std::pair{stored, true};
}

Result<JobPage> SqliteJobRepository::List(const JobListQuery& query) const {
    if (query.limit < 1 || query.limit > 100) return InvalidArgument("limit must be between 1 and 100");
    std::int64_t before = INT64_MAX;
    if (!query.cursor.empty()) {
        if (query.cursor.size() > 19 || query.cursor.find_first_not_of("0123456789") != std::string::npos) {
            return InvalidArgument("malformed cursor");
        }
        before = std::stoll(query.cursor);
    }
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE seq < ?";
    if (query.state) sql += " AND state = ?";
    if (query.owner) sql += " AND owner = ?";
    sql += " ORDER BY seq DESC LIMIT ?";
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    int index = 1;
    stmt.Bind(index++, before);
    if (query.state) stmt.Bind(index++, std::string(JobStateName(*query.state)));
    if (query.owner) stmt.Bind(index++, *query.owner);
    stmt.Bind(index, std::int64_t{query.limit + 1});
    JobPage page;
    std::int64_t last_seq = 0;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        if (static_cast<int>(page.jobs.size()) == query.limit) {
            page.next_cursor = std::to_string(last_seq);
            break;
        }
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ReadJob(stmt));
        last_seq = stmt.Int(22);
        page.jobs.push_back(std::move(job));
    }
    return page;
}

Result<std::map<JobState, std::int64_t>> SqliteJobRepository::CountByState() const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    std::map<JobState, std::int64_t> counts;
    for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                       JobState::kCanceled}) {
        counts[s] = 0;
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        if (auto state = JobStateFromName(stmt.Text(0))) counts[*state] = stmt.Int(1);
    }
    return counts;
}

Result<std::int64_t> SqliteJobRepository::QueuePosition(const std::string& id) const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "SELECT (SELECT COUNT(*) FROM jobs q WHERE q.state = 'queued' AND q.seq < j.seq), j.state "
        "FROM jobs j WHERE j.id = ?"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Bind(1, id).Step());
    if (!row) return NotFound("job " + id + " not found");
    if (stmt.Text(1) != "queued") return FailedPrecondition("job " + id + " is not queued");
    return stmt.Int(0);
}

Result<std::optional<Job>> SqliteJobRepository::ClaimNext(const ClaimRequest& request) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    Transaction tx(*db_);
    LABHOUSE_RETURN_IF_ERROR(tx.Begin());
    std::string sql = "SELECT id FROM jobs WHERE state = 'queued'";
    if (!request.backends.empty()) {
        sql += " AND backend IN (";
        for (std::size_t i = 0; i < request.backends.size(); ++i) sql += i == 0 ? "?" : ",?";
        sql += ")";
    }
    sql += " ORDER BY seq LIMIT 1";
    LABHOUSE_ASSIGN_OR_RETURN(auto find, db_->Prepare(sql));
    for (std::size_t i = 0; i < request.backends.size(); ++i) find.Bind(static_cast<int>(i + 1), request.backends[i]);
    LABHOUSE_ASSIGN_OR_RETURN(bool found, find.Step());
    if (!found) return std::optional<Job>{};
    const std::string id = find.Text(0);
    LABHOUSE_ASSIGN_OR_RETURN(auto claim, db_->Prepare(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_ms = ?, "
        "started_ms = CASE WHEN started_ms = 0 THEN ? ELSE started_ms END, progress_stage = 'starting', "
        "progress_step = 0, progress_total = 0, progress_seconds_per_step = 0 WHERE id = ? AND state = 'queued'"));
    claim.Bind(1, request.worker_id).Bind(2, request.now_ms + request.lease_ms).Bind(3, request.now_ms).Bind(4, id);
    LABHOUSE_RETURN_IF_ERROR(claim.Run());
    LABHOUSE_ASSIGN_OR_RETURN(Job job, GetLocked(id));
    LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    return std::optional<Job>{std::move(job)};
}

Result<LeaseStatus> SqliteJobRepository::RenewLocked(const std::string& id, const std::string& worker_id,
                                                     const JobProgress* progress, std::int64_t lease_until_ms) {
    std::string sql = "UPDATE jobs SET lease_expires_ms = ?";
    if (progress != nullptr) {
        sql += ", progress_stage = ?, progress_step = ?, progress_total = ?, progress_seconds_per_step = ?";
    }
    sql += " WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING cancel_requested";
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    int index = 1;
    stmt.Bind(index++, lease_until_ms);
    if (progress != nullptr) {
        stmt.Bind(index++, progress->stage)
            .Bind(index++, std::int64_t{progress->step})
            .Bind(index++, std::int64_t{progress->total})
            .Bind(index++, progress->seconds_per_step);
    }
    stmt.Bind(index++, id).Bind(index, worker_id);
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return NotLeaseHolder(id).error();
    LeaseStatus status{stmt.Int(0) != 0};
    LABHOUSE_RETURN_IF_ERROR(stmt.Run());
    return status;
}

Result<LeaseStatus> SqliteJobRepository::ReportProgress(const std::string& id, const std::string& worker_id,
                                                        const JobProgress& progress, std::int64_t lease_until_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return RenewLocked(id, worker_id, &progress, lease_until_ms);
}

Result<LeaseStatus> SqliteJobRepository::ExtendLease(const std::string& id, const std::string& worker_id,
                                                     std::int64_t lease_until_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return RenewLocked(id, worker_id, nullptr, lease_until_ms);
}

Status SqliteJobRepository::FinishLocked(const std::string& id, const std::string& worker_id,
                                         const std::string& sql_set, const std::function<void(Statement&)>& bind) {
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("UPDATE jobs SET " + sql_set +
                                                      ", lease_owner = NULL, lease_expires_ms = 0 "
                                                      "WHERE id = ? AND state = 'running' AND lease_owner = ?"));
    bind(stmt);
    LABHOUSE_RETURN_IF_ERROR(stmt.Run());
    if (db_->Changes() != 1) return NotLeaseHolder(id);
    return OkStatus();
}

Status SqliteJobRepository::MarkSucceeded(const std::string& id, const std::string& worker_id,
                                          const std::string& result_blob,
                                          const std::map<std::string, std::string>& result_meta, std::int64_t now_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return FinishLocked(id, worker_id,
                        "state = 'succeeded', result_blob = ?, result_meta = ?, finished_ms = ?, "
                        "progress_stage = 'done', progress_step = progress_total",
                        [&](Statement& s) {
                            s.Bind(1, result_blob).Bind(2, StringMapToJson(result_meta).dump()).Bind(3, now_ms);
                            s.Bind(4, id).Bind(5, worker_id);
                        });
}

Status SqliteJobRepository::MarkFailed(const std::string& id, const std::string& worker_id, const JobError& error,
                                       std::int64_t now_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return FinishLocked(id, worker_id, "state = 'failed', error_code = ?, error_message = ?, finished_ms = ?",
                        [&](Statement& s) {
                            s.Bind(1, error.code).Bind(2, error.message).Bind(3, now_ms).Bind(4, id).Bind(5, worker_id);
                        });
}

Status SqliteJobRepository::MarkCanceled(const std::string& id, const std::string& worker_id, std::int64_t now_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return FinishLocked(id, worker_id, "state = 'canceled', finished_ms = ?",
                        [&](Statement& s) { s.Bind(1, now_ms).Bind(2, id).Bind(3, worker_id); });
}

Status SqliteJobRepository::Release(const std::string& id, const std::string& worker_id) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    return FinishLocked(id, worker_id,
                        "state = 'queued', attempts = MAX(attempts - 1, 0), progress_stage = 'queued', "
                        "progress_step = 0, progress_total = 0",
                        [&](Statement& s) { s.Bind(1, id).Bind(2, worker_id); });
}

Result<Job> SqliteJobRepository::RequestCancel(const std::string& id, std::int64_t now_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    Transaction tx(*db_);
    LABHOUSE_RETURN_IF_ERROR(tx.Begin());
    LABHOUSE_ASSIGN_OR_RETURN(Job job, GetLocked(id));
    if (IsTerminal(job.state)) {
        return FailedPrecondition("job " + id + " is already " + std::string(JobStateName(job.state)));
    }
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "UPDATE jobs SET cancel_requested = 1, "
        "state = CASE WHEN state = 'queued' THEN 'canceled' ELSE state END, "
        "finished_ms = CASE WHEN state = 'queued' THEN ? ELSE finished_ms END WHERE id = ?"));
    LABHOUSE_RETURN_IF_ERROR(stmt.Bind(1, now_ms).Bind(2, id).Run());
    LABHOUSE_ASSIGN_OR_RETURN(Job updated, GetLocked(id));
    LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    return updated;
}

Result<std::vector<std::string>> SqliteJobRepository::RecoverExpired(std::int64_t now_ms, bool all_running) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    Transaction tx(*db_);
    LABHOUSE_RETURN_IF_ERROR(tx.Begin());
    LABHOUSE_ASSIGN_OR_RETURN(auto find, db_->Prepare(
        "SELECT id, attempts, max_attempts, cancel_requested FROM jobs WHERE state = 'running' AND (? OR lease_expires_ms < ?)"));
    find.Bind(1, std::int64_t{all_running ? 1 : 0}).Bind(2, now_ms);
    struct Expired {
        std::string id;
        bool exhausted;
        bool canceled;
    };
    std::vector<Expired> expired;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, find.Step());
        if (!row) break;
        expired.push_back({find.Text(0), find.Int(1) >= find.Int(2), find.Int(3) != 0});
    }
    std::vector<std::string> ids;
    for (const Expired& e : expired) {
        std::string sql;
        if (e.canceled) {
            sql = "UPDATE jobs SET state = 'canceled', lease_owner = NULL, finished_ms = ? WHERE id = ?";
        } else if (e.exhausted) {
            sql = "UPDATE jobs SET state = 'failed', lease_owner = NULL, finished_ms = ?, error_code = 'WORKER_LOST', "
                  "error_message = 'the worker running this job stopped responding on every attempt' WHERE id = ?";
        } else {
            sql = "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_ms = 0 * ?, "
                  "progress_stage = 'queued', progress_step = 0, progress_total = 0 WHERE id = ?";
        }
        LABHOUSE_ASSIGN_OR_RETURN(auto update, db_->Prepare(sql));
        LABHOUSE_RETURN_IF_ERROR(update.Bind(1, now_ms).Bind(2, e.id).Run());
        ids.push_back(e.id);
    }
    LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    return ids;
}

Result<std::vector<std::string>> SqliteJobRepository::Delete(const std::string& id) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    Transaction tx(*db_);
    LABHOUSE_RETURN_IF_ERROR(tx.Begin());
    LABHOUSE_ASSIGN_OR_RETURN(Job job, GetLocked(id));
    if (!IsTerminal(job.state)) return FailedPrecondition("job " + id + " is still " + std::string(JobStateName(job.state)));
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("DELETE FROM jobs WHERE id = ?"));
    LABHOUSE_RETURN_IF_ERROR(stmt.Bind(1, id).Run());
    LABHOUSE_RETURN_IF_ERROR(tx.Commit());
    std::vector<std::string> blobs;
    if (!job.input_blob.empty()) blobs.push_back(job.input_blob);
    if (!job.result_blob.empty()) blobs.push_back(job.result_blob);
    for (const auto& [k, v] : job.params.options) {
        if (k.size() > 6 && k.substr(k.size() - 6) == "_image") blobs.push_back(v);
    }
    return blobs;
}

Result<bool> SqliteJobRepository::BlobInUse(const std::string& blob_id) const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "SELECT 1 FROM jobs WHERE input_blob = ?1 OR result_blob = ?1 OR instr(params, ?1) > 0 LIMIT 1"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Bind(1, blob_id).Step());
    return row;
}

Result<std::int64_t> SqliteJobRepository::CountCreatedSince(const std::string& owner, std::int64_t since_ms) const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT COUNT(*) FROM jobs WHERE owner = ? AND created_ms >= ?"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Bind(1, owner).Bind(2, since_ms).Step());
    return row ? stmt.Int(0) : 0;
}

Status SqliteJobRepository::RecordWebhookDelivery(const std::string& id, const std::string& summary) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("UPDATE jobs SET result_meta = json_set(result_meta, '$.webhook', ?), "
                                "webhook_due = 0, webhook_claim_until_ms = 0 WHERE id = ?"));
    LABHOUSE_RETURN_IF_ERROR(stmt.Bind(1, summary).Bind(2, id).Run());
    if (db_->Changes() != 1) return NotFound("job " + id + " not found");
    return OkStatus();
}

Result<bool> SqliteJobRepository::ClaimWebhookDelivery(const std::string& id, std::int64_t now_ms,
                                                       std::int64_t until_ms) {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "UPDATE jobs SET webhook_claim_until_ms = ? WHERE id = ? AND webhook_due = 1 "
        "AND state IN ('succeeded', 'failed', 'canceled') AND webhook_claim_until_ms <= ?"));
    LABHOUSE_RETURN_IF_ERROR(stmt.Bind(1, until_ms).Bind(2, id).Bind(3, now_ms).Run());
    return db_->Changes() == 1;
}

Result<std::vector<std::string>> SqliteJobRepository::DueWebhookDeliveries(std::int64_t now_ms, int limit) const {
    LABHOUSE_SQLITE_LOCK_OR_RETURN(lock, mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "SELECT id FROM jobs WHERE webhook_due = 1 AND state IN ('succeeded', 'failed', 'canceled') "
        "AND webhook_claim_until_ms <= ? ORDER BY seq LIMIT ?"));
    stmt.Bind(1, now_ms).Bind(2, std::int64_t{limit});
    std::vector<std::string> ids;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        ids.push_back(stmt.Text(0));
    }
    return ids;
}

}  // namespace labhouse::sqlite
