// PostgresJobRepository: the scale-out job store. Same contract as SqliteJobRepository (one suite
// tests both), but many processes on many machines share it: a claim is one UPDATE over a
// `FOR UPDATE SKIP LOCKED` pick, so concurrent workers never wait on each other or take the same
// job, and every other change is one statement guarded by the lease owner. Thread-safe: each call
// takes its own connection from the pool.
#pragma once

#include <memory>
#include <string>

#include "labhouse/adapters/postgres/pg_pool.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse::postgres {

class PostgresJobRepository final : public JobRepository {
public:
    // Applies pending migrations (shared with PostgresBlobStore) and returns the repository.
    static Result<std::unique_ptr<PostgresJobRepository>> Open(std::shared_ptr<PgPool> pool);

    // The schema version after migrations (the number of the last applied one).
    Result<int> SchemaVersion();

    using JobRepository::Create;
    Result<std::pair<Job, bool>> Create(const Job& job, const std::optional<CreateQuota>& quota) override;
    Result<Job> Get(const std::string& id) const override;
    Result<JobPage> List(const JobListQuery& query) const override;
    Result<std::map<JobState, std::int64_t>> CountByState() const override;
    Result<std::int64_t> QueuePosition(const std::string& id) const override;
    Result<std::optional<Job>> ClaimNext(const ClaimRequest& request) override;
    Result<LeaseStatus> ReportProgress(const std::string& id, const std::string& worker_id,
                                       const JobProgress& progress, std::int64_t lease_until_ms) override;
    Result<LeaseStatus> ExtendLease(const std::string& id, const std::string& worker_id,
                                    std::int64_t lease_until_ms) override;
    Status MarkSucceeded(const std::string& id, const std::string& worker_id, const std::string& result_blob,
                         const std::map<std::string, std::string>& result_meta, std::int64_t now_ms) override;
    Status MarkFailed(const std::string& id, const std::string& worker_id, const JobError& error,
                      std::int64_t now_ms) override;
    Status MarkCanceled(const std::string& id, const std::string& worker_id, std::int64_t now_ms) override;
    Status Release(const std::string& id, const std::string& worker_id) override;
    Result<Job> RequestCancel(const std::string& id, std::int64_t now_ms) override;
    // In a shared database `all_running` is only safe when no other process holds a lease; the
    // scale-out wiring never sets it and relies on lease expiry instead.
    Result<std::vector<std::string>> RecoverExpired(std::int64_t now_ms, bool all_running) override;
    Result<std::vector<std::string>> Delete(const std::string& id) override;
    Result<bool> BlobInUse(const std::string& blob_id) const override;
    Result<std::int64_t> CountCreatedSince(const std::string& owner, std::int64_t since_ms) const override;
    Status RecordWebhookDelivery(const std::string& id, const std::string& summary) override;
    Result<bool> ClaimWebhookDelivery(const std::string& id, std::int64_t now_ms, std::int64_t until_ms) override;
    Result<std::vector<std::string>> DueWebhookDeliveries(std::int64_t now_ms, int limit) const override;

private:
    explicit PostgresJobRepository(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
    Result<LeaseStatus> Renew(const std::string& id, const std::string& worker_id, const JobProgress* progress,
                              std::int64_t lease_until_ms);

    std::shared_ptr<PgPool> pool_;
};

}  // namespace labhouse::postgres
