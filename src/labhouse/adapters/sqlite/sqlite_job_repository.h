// SqliteJobRepository: the embedded job store. One connection guarded by a mutex (SQLite
// serializes writers anyway); WAL so readers never block on a writer; every state change is a
// single statement or an IMMEDIATE transaction, so a crash never leaves a half-written job.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "labhouse/adapters/sqlite/sqlite_db.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse::sqlite {

class SqliteJobRepository final : public JobRepository {
public:
    // Opens the database and applies pending migrations.
    static Result<std::unique_ptr<SqliteJobRepository>> Open(const std::string& path);
    ~SqliteJobRepository() override;

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
    Result<std::vector<std::string>> RecoverExpired(std::int64_t now_ms, bool all_running) override;
    Result<std::vector<std::string>> Delete(const std::string& id) override;
    Result<bool> BlobInUse(const std::string& blob_id) const override;
    Result<std::int64_t> CountCreatedSince(const std::string& owner, std::int64_t since_ms) const override;
    Status RecordWebhookDelivery(const std::string& id, const std::string& summary) override;
    Result<bool> ClaimWebhookDelivery(const std::string& id, std::int64_t now_ms, std::int64_t until_ms) override;
    Result<std::vector<std::string>> DueWebhookDeliveries(std::int64_t now_ms, int limit) const override;

private:
    explicit SqliteJobRepository(std::unique_ptr<Database> db);
    Status Migrate();
    Result<Job> GetLocked(const std::string& id) const;
    Result<LeaseStatus> RenewLocked(const std::string& id, const std::string& worker_id, const JobProgress* progress,
                                    std::int64_t lease_until_ms);
    Status FinishLocked(const std::string& id, const std::string& worker_id, const std::string& sql_set,
                        const std::function<void(Statement&)>& bind);

    // Timed: a caller waits at most kConnectionWait for the connection (behind callers that are
    // themselves waiting out SQLite's busy timeout) before it gets kUnavailable.
    mutable std::timed_mutex mutex_;
    std::unique_ptr<Database> db_;
};

}  // namespace labhouse::sqlite
