#include "labhouse/adapters/postgres/postgres_job_repository.h"

#include <pqxx/pqxx>

#include "labhouse/adapters/postgres/pg_migrations.h"
#include "labhouse/support/job_json.h"

namespace labhouse::postgres {
namespace {

// The first key of the advisory locks that serialize one owner's job inserts under a quota (the
// second is the owner's hash). Any fixed number; the migration lock uses the one-key form.
constexpr int kQuotaLockSpace = 0x6c68;  // "lh"

constexpr const char* kColumns =
    "id, state, params, input_blob, result_blob, progress_stage, progress_step, progress_total, "
    "progress_seconds_per_step, error_code, error_message, attempts, max_attempts, cancel_requested, lease_owner, "
    "lease_expires_ms, created_ms, started_ms, finished_ms, idempotency_key, request_fingerprint, result_meta, seq, owner, kind";

std::string Select(const std::string& rest) { return std::string("SELECT ") + kColumns + " FROM jobs " + rest; }
std::string Returning() { return std::string(" RETURNING ") + kColumns; }

std::string Text(const pqxx::row& row, int column) {
    return row[column].is_null() ? std::string() : row[column].as<std::string>();
}

Result<Job> ReadJob(const pqxx::row& row) {
    Job job;
    job.id = Text(row, 0);
    auto state = JobStateFromName(Text(row, 1));
    if (!state) return Internal("job " + job.id + " has an unknown state '" + Text(row, 1) + "'");
    job.state = *state;
    auto params_json = nlohmann::json::parse(Text(row, 2), nullptr, false);
    LABHOUSE_ASSIGN_OR_RETURN(job.params, ParamsFromJson(params_json));
    job.input_blob = Text(row, 3);
    job.result_blob = Text(row, 4);
    job.progress = {Text(row, 5), row[6].as<int>(), row[7].as<int>(), row[8].as<double>()};
    if (!row[9].is_null()) job.error = JobError{Text(row, 9), Text(row, 10)};
    job.attempts = row[11].as<int>();
    job.max_attempts = row[12].as<int>();
    job.cancel_requested = row[13].as<bool>();
    job.lease_owner = Text(row, 14);
    job.lease_expires_ms = row[15].as<std::int64_t>();
    job.created_ms = row[16].as<std::int64_t>();
    job.started_ms = row[17].as<std::int64_t>();
    job.finished_ms = row[18].as<std::int64_t>();
    job.idempotency_key = Text(row, 19);
    job.request_fingerprint = Text(row, 20);
    auto meta_json = nlohmann::json::parse(Text(row, 21), nullptr, false);
    LABHOUSE_ASSIGN_OR_RETURN(job.result_meta, StringMapFromJson(meta_json));
    job.owner = Text(row, 23);
    auto kind = JobKindFromName(Text(row, 24));
    if (!kind) return Internal("job " + job.id + " has an unknown kind '" + Text(row, 24) + "'");
    job.params.kind = *kind;
    return job;
}

Status NotLeaseHolder(const std::string& id) {
    return FailedPrecondition("job " + id + " is not running under this worker's lease");
}

// Backend names never hold commas (they are identifiers), so the filter travels as one parameter.
std::string JoinBackends(const std::vector<std::string>& backends) {
    std::string joined;
    for (const auto& b : backends) joined += (joined.empty() ? "" : ",") + b;
    return joined;
}

}  // namespace

Result<std::unique_ptr<PostgresJobRepository>> PostgresJobRepository::Open(std::shared_ptr<PgPool> pool) {
    LABHOUSE_RETURN_IF_ERROR(Migrate(*pool));
    return std::unique_ptr<PostgresJobRepository>(new PostgresJobRepository(std::move(pool)));
}

Result<int> PostgresJobRepository::SchemaVersion() { return Migrate(*pool_); }

Result<Job> PostgresJobRepository::Get(const std::string& id) const {
    return pool_->Run<Job>([&](pqxx::connection& conn) -> Result<Job> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params(Select("WHERE id = $1"), id);
        if (rows.empty()) return NotFound("job " + id + " not found");
        return ReadJob(rows[0]);
    });
}

Result<std::pair<Job, bool>> PostgresJobRepository::Create(const Job& job, const std::optional<CreateQuota>& quota) {
    using Created = std::pair<Job, bool>;
    LABHOUSE_RETURN_IF_ERROR(CheckInputMatchesKind(job));
    return pool_->Run<Created>([&](pqxx::connection& conn) -> Result<Created> {
        pqxx::work tx(conn);
        auto replay = [&](const pqxx::row& row) -> Result<Created> {
            LABHOUSE_ASSIGN_OR_RETURN(Job found, ReadJob(row));
            tx.commit();
            if (found.request_fingerprint != job.request_fingerprint) {
                return AlreadyExists("Idempotency-Key was already used with a different request");
            }
            return Created{found, false};
        };
        if (quota) {
            // One owner's inserts take turns on every API node (a transaction-scoped advisory lock
            // on the owner), so the count below cannot be read by two inserts at once. A replay
            // is answered first: it creates nothing.
            tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kQuotaLockSpace, job.owner);
            if (!job.idempotency_key.empty()) {
                auto existing = tx.exec_params(Select("WHERE idempotency_key = $1"), job.idempotency_key);
                if (!existing.empty()) return replay(existing[0]);
            }
            const auto used = tx.exec_params("SELECT COUNT(*) FROM jobs WHERE owner = $1 AND created_ms >= $2",
                                             job.owner, quota->since_ms)[0][0].as<std::int64_t>();
            if (used >= quota->max_jobs) return QuotaUsedUp(*quota);
        }
        // ON CONFLICT makes two concurrent submissions with one key race safely: one inserts, the
        // other finds the winner's row below.
        auto inserted = tx.exec_params(
            "INSERT INTO jobs (id, state, backend, params, input_blob, progress_stage, max_attempts, created_ms, "
            "idempotency_key, request_fingerprint, owner, kind, webhook_due) "
            "VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, $10, $11, $12) "
            "ON CONFLICT (idempotency_key) DO NOTHING" + Returning(),
            job.id, job.params.backend, ParamsToJson(job.params).dump(), job.input_blob,
            job.progress.stage.empty() ? std::string("queued") : job.progress.stage, job.max_attempts, job.created_ms,
            job.idempotency_key, job.request_fingerprint, job.owner, std::string(JobKindName(job.params.kind)),
            job.params.options.count("webhook_url") > 0);
        if (!inserted.empty()) {
            LABHOUSE_ASSIGN_OR_RETURN(Job stored, ReadJob(inserted[0]));
            tx.commit();
            return Created{stored, true};
        }
        auto existing = tx.exec_params(Select("WHERE idempotency_key = $1"), job.idempotency_key);
        if (existing.empty()) return Unavailable("idempotency key conflict with a job that vanished; retry");
        return replay(existing[0]);
    });
}

Result<JobPage> PostgresJobRepository::List(const JobListQuery& query) const {
    if (query.limit < 1 || query.limit > 100) return InvalidArgument("limit must be between 1 and 100");
    std::int64_t before = INT64_MAX;
    if (!query.cursor.empty()) {
        if (query.cursor.size() > 18 || query.cursor.find_first_not_of("0123456789") != std::string::npos) {
            return InvalidArgument("malformed cursor");
        }
        before = std::stoll(query.cursor);
    }
    const std::string state = query.state ? std::string(JobStateName(*query.state)) : std::string();
    return pool_->Run<JobPage>([&](pqxx::connection& conn) -> Result<JobPage> {
        pqxx::read_transaction tx(conn);
        // An owner filter of NULL ($4 IS NULL) means every owner's jobs.
        auto rows = tx.exec_params(
            Select("WHERE seq < $1 AND ($2 = '' OR state = $2) AND ($4::TEXT IS NULL OR owner = $4) "
                   "ORDER BY seq DESC LIMIT $3"),
            before, state, query.limit + 1, query.owner);
        JobPage page;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (static_cast<int>(i) == query.limit) {
                page.next_cursor = rows[i - 1][22].as<std::string>();
                break;
            }
            LABHOUSE_ASSIGN_OR_RETURN(Job job, ReadJob(rows[i]));
            page.jobs.push_back(std::move(job));
        }
        return page;
    });
}

Result<std::map<JobState, std::int64_t>> PostgresJobRepository::CountByState() const {
    using Counts = std::map<JobState, std::int64_t>;
    return pool_->Run<Counts>([&](pqxx::connection& conn) -> Result<Counts> {
        Counts counts;
        for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                           JobState::kCanceled}) {
            counts[s] = 0;
        }
        pqxx::read_transaction tx(conn);
        for (const auto& row : tx.exec("SELECT state, COUNT(*) FROM jobs GROUP BY state")) {
            if (auto state = JobStateFromName(row[0].as<std::string>())) counts[*state] = row[1].as<std::int64_t>();
        }
        return counts;
    });
}

Result<std::int64_t> PostgresJobRepository::QueuePosition(const std::string& id) const {
    return pool_->Run<std::int64_t>([&](pqxx::connection& conn) -> Result<std::int64_t> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params(
            "SELECT (SELECT COUNT(*) FROM jobs q WHERE q.state = 'queued' AND q.seq < j.seq), j.state "
            "FROM jobs j WHERE j.id = $1",
            id);
        if (rows.empty()) return NotFound("job " + id + " not found");
        if (rows[0][1].as<std::string>() != "queued") return FailedPrecondition("job " + id + " is not queued");
        return rows[0][0].as<std::int64_t>();
    });
}

Result<std::optional<Job>> PostgresJobRepository::ClaimNext(const ClaimRequest& request) {
    using Claimed = std::optional<Job>;
    return pool_->Run<Claimed>([&](pqxx::connection& conn) -> Result<Claimed> {
        pqxx::work tx(conn);
        // SKIP LOCKED: a row another worker is claiming right now is passed over, not waited for.
        auto rows = tx.exec_params(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_expires_ms = $2, "
            "started_ms = CASE WHEN started_ms = 0 THEN $3 ELSE started_ms END, progress_stage = 'starting', "
            "progress_step = 0, progress_total = 0, progress_seconds_per_step = 0 "
            "WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued' "
            "AND ($4 = '' OR backend = ANY(string_to_array($4, ','))) ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)" +
                Returning(),
            request.worker_id, request.now_ms + request.lease_ms, request.now_ms, JoinBackends(request.backends));
        if (rows.empty()) return Claimed{};
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ReadJob(rows[0]));
        tx.commit();
        return Claimed{std::move(job)};
    });
}

Result<LeaseStatus> PostgresJobRepository::Renew(const std::string& id, const std::string& worker_id,
                                                 const JobProgress* progress, std::int64_t lease_until_ms) {
    return pool_->Run<LeaseStatus>([&](pqxx::connection& conn) -> Result<LeaseStatus> {
        pqxx::work tx(conn);
        pqxx::result rows;
        if (progress != nullptr) {
            rows = tx.exec_params(
                "UPDATE jobs SET lease_expires_ms = $1, progress_stage = $2, progress_step = $3, progress_total = $4, "
                "progress_seconds_per_step = $5 WHERE id = $6 AND state = 'running' AND lease_owner = $7 "
                "RETURNING cancel_requested",
                lease_until_ms, progress->stage, progress->step, progress->total, progress->seconds_per_step, id,
                worker_id);
        } else {
            rows = tx.exec_params(
                "UPDATE jobs SET lease_expires_ms = $1 WHERE id = $2 AND state = 'running' AND lease_owner = $3 "
                "RETURNING cancel_requested",
                lease_until_ms, id, worker_id);
        }
        if (rows.empty()) return NotLeaseHolder(id).error();
        tx.commit();
        return LeaseStatus{rows[0][0].as<bool>()};
    });
}

Result<LeaseStatus> PostgresJobRepository::ReportProgress(const std::string& id, const std::string& worker_id,
                                                          const JobProgress& progress, std::int64_t lease_until_ms) {
    return Renew(id, worker_id, &progress, lease_until_ms);
}

Result<LeaseStatus> PostgresJobRepository::ExtendLease(const std::string& id, const std::string& worker_id,
                                                       std::int64_t lease_until_ms) {
    return Renew(id, worker_id, nullptr, lease_until_ms);
}

namespace {
// Ends a running job held by worker_id: `set` assigns the columns, with $1/$2 = id/worker_id and
// the caller's values from $3 on.
template <typename... Args>
Status Finish(PgPool& pool, const std::string& id, const std::string& worker_id, const std::string& set,
              Args&&... args) {
    return pool.Run<void>([&](pqxx::connection& conn) -> Status {
        pqxx::work tx(conn);
        auto result = tx.exec_params("UPDATE jobs SET " + set +
                                         ", lease_owner = NULL, lease_expires_ms = 0 "
                                         "WHERE id = $1 AND state = 'running' AND lease_owner = $2",
                                     id, worker_id, std::forward<Args>(args)...);
        if (result.affected_rows() != 1) return NotLeaseHolder(id);
        tx.commit();
        return OkStatus();
    });
}
}  // namespace

Status PostgresJobRepository::MarkSucceeded(const std::string& id, const std::string& worker_id,
                                            const std::string& result_blob,
                                            const std::map<std::string, std::string>& result_meta,
                                            std::int64_t now_ms) {
    return Finish(*pool_, id, worker_id,
                  "state = 'succeeded', result_blob = $3, result_meta = $4, finished_ms = $5, "
                  "progress_stage = 'done', progress_step = progress_total",
                  result_blob, StringMapToJson(result_meta).dump(), now_ms);
}

Status PostgresJobRepository::MarkFailed(const std::string& id, const std::string& worker_id, const JobError& error,
                                         std::int64_t now_ms) {
    return Finish(*pool_, id, worker_id, "state = 'failed', error_code = $3, error_message = $4, finished_ms = $5",
                  error.code, error.message, now_ms);
}

Status PostgresJobRepository::MarkCanceled(const std::string& id, const std::string& worker_id, std::int64_t now_ms) {
    return Finish(*pool_, id, worker_id, "state = 'canceled', finished_ms = $3", now_ms);
}

Status PostgresJobRepository::Release(const std::string& id, const std::string& worker_id) {
    return Finish(*pool_, id, worker_id,
                  "state = 'queued', attempts = GREATEST(attempts - 1, 0), progress_stage = 'queued', "
                  "progress_step = 0, progress_total = 0");
}

Result<Job> PostgresJobRepository::RequestCancel(const std::string& id, std::int64_t now_ms) {
    return pool_->Run<Job>([&](pqxx::connection& conn) -> Result<Job> {
        pqxx::work tx(conn);
        // SET expressions see the row before the update, so both CASEs test the old state.
        auto rows = tx.exec_params(
            "UPDATE jobs SET cancel_requested = TRUE, "
            "state = CASE WHEN state = 'queued' THEN 'canceled' ELSE state END, "
            "finished_ms = CASE WHEN state = 'queued' THEN $2 ELSE finished_ms END "
            "WHERE id = $1 AND state IN ('queued', 'running')" +
                Returning(),
            id, now_ms);
        if (rows.empty()) {
            auto current = tx.exec_params("SELECT state FROM jobs WHERE id = $1", id);
            if (current.empty()) return NotFound("job " + id + " not found");
            return FailedPrecondition("job " + id + " is already " + current[0][0].as<std::string>());
        }
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ReadJob(rows[0]));
        tx.commit();
        return job;
    });
}

Result<std::vector<std::string>> PostgresJobRepository::RecoverExpired(std::int64_t now_ms, bool all_running) {
    using Ids = std::vector<std::string>;
    return pool_->Run<Ids>([&](pqxx::connection& conn) -> Result<Ids> {
        pqxx::work tx(conn);
        // One statement: when two workers' maintenance loops race, the second re-checks the row
        // after the first's update (READ COMMITTED) and skips it, so a job is recovered once.
        auto rows = tx.exec_params(
            "UPDATE jobs SET "
            "state = CASE WHEN cancel_requested THEN 'canceled' WHEN attempts >= max_attempts THEN 'failed' "
            "ELSE 'queued' END, "
            "finished_ms = CASE WHEN cancel_requested OR attempts >= max_attempts THEN $1 ELSE finished_ms END, "
            "error_code = CASE WHEN NOT cancel_requested AND attempts >= max_attempts THEN 'WORKER_LOST' "
            "ELSE error_code END, "
            "error_message = CASE WHEN NOT cancel_requested AND attempts >= max_attempts "
            "THEN 'the worker running this job stopped responding on every attempt' ELSE error_message END, "
            "progress_stage = CASE WHEN cancel_requested OR attempts >= max_attempts THEN progress_stage "
            "ELSE 'queued' END, "
            "progress_step = CASE WHEN cancel_requested OR attempts >= max_attempts THEN progress_step ELSE 0 END, "
            "progress_total = CASE WHEN cancel_requested OR attempts >= max_attempts THEN progress_total ELSE 0 END, "
            "lease_owner = NULL, lease_expires_ms = 0 "
            "WHERE state = 'running' AND ($2 OR lease_expires_ms < $1) RETURNING id",
            now_ms, all_running);
        Ids ids;
        for (const auto& row : rows) ids.push_back(row[0].as<std::string>());
        tx.commit();
        return ids;
    });
}

Result<std::vector<std::string>> PostgresJobRepository::Delete(const std::string& id) {
    using Ids = std::vector<std::string>;
    return pool_->Run<Ids>([&](pqxx::connection& conn) -> Result<Ids> {
        pqxx::work tx(conn);
        auto rows = tx.exec_params(
            "DELETE FROM jobs WHERE id = $1 AND state IN ('succeeded', 'failed', 'canceled')" + Returning(), id);
        if (rows.empty()) {
            auto current = tx.exec_params("SELECT state FROM jobs WHERE id = $1", id);
            if (current.empty()) return NotFound("job " + id + " not found");
            return FailedPrecondition("job " + id + " is still " + current[0][0].as<std::string>());
        }
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ReadJob(rows[0]));
        tx.commit();
        Ids blobs;
        if (!job.input_blob.empty()) blobs.push_back(job.input_blob);
        if (!job.result_blob.empty()) blobs.push_back(job.result_blob);
        for (const auto& [k, v] : job.params.options) {
            if (k.size() > 6 && k.substr(k.size() - 6) == "_image") blobs.push_back(v);
        }
        return blobs;
    });
}

Result<bool> PostgresJobRepository::BlobInUse(const std::string& blob_id) const {
    return pool_->Run<bool>([&](pqxx::connection& conn) -> Result<bool> {
        pqxx::read_transaction tx(conn);
        return !tx.exec_params("SELECT 1 FROM jobs WHERE input_blob = $1 OR result_blob = $1 "
                               "OR strpos(params, $1) > 0 LIMIT 1",
                               blob_id)
                    .empty();
    });
}

Result<std::int64_t> PostgresJobRepository::CountCreatedSince(const std::string& owner, std::int64_t since_ms) const {
    return pool_->Run<std::int64_t>([&](pqxx::connection& conn) -> Result<std::int64_t> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params("SELECT COUNT(*) FROM jobs WHERE owner = $1 AND created_ms >= $2", owner, since_ms);
        return rows[0][0].as<std::int64_t>();
    });
}

Status PostgresJobRepository::RecordWebhookDelivery(const std::string& id, const std::string& summary) {
    return pool_->Run<void>([&](pqxx::connection& conn) -> Status {
        pqxx::work tx(conn);
        auto rows = tx.exec_params(
            "UPDATE jobs SET result_meta = (result_meta::jsonb || jsonb_build_object('webhook', $2::TEXT))::TEXT, "
            "webhook_due = FALSE, webhook_claim_until_ms = 0 WHERE id = $1 RETURNING id",
            id, summary);
        if (rows.empty()) return NotFound("job " + id + " not found");
        tx.commit();
        return OkStatus();
    });
}

Result<bool> PostgresJobRepository::ClaimWebhookDelivery(const std::string& id, std::int64_t now_ms,
                                                         std::int64_t until_ms) {
    return pool_->Run<bool>([&](pqxx::connection& conn) -> Result<bool> {
        pqxx::work tx(conn);
        // One UPDATE: of two nodes claiming at once, the second waits for the first's row lock,
        // then re-checks the claim time and changes nothing.
        auto rows = tx.exec_params(
            "UPDATE jobs SET webhook_claim_until_ms = $3 WHERE id = $1 AND webhook_due "
            "AND state IN ('succeeded', 'failed', 'canceled') AND webhook_claim_until_ms <= $2 RETURNING id",
            id, now_ms, until_ms);
        tx.commit();
        return !rows.empty();
    });
}

Result<std::vector<std::string>> PostgresJobRepository::DueWebhookDeliveries(std::int64_t now_ms, int limit) const {
    return pool_->Run<std::vector<std::string>>([&](pqxx::connection& conn) -> Result<std::vector<std::string>> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params(
            "SELECT id FROM jobs WHERE webhook_due AND state IN ('succeeded', 'failed', 'canceled') "
            "AND webhook_claim_until_ms <= $1 ORDER BY seq LIMIT $2",
            now_ms, limit);
        std::vector<std::string> ids;
        for (const auto& row : rows) ids.push_back(row[0].as<std::string>());
        return ids;
    });
}

}  // namespace labhouse::postgres
