// JobRepository: the durable source of truth for jobs. Every state change is one transaction, so
// a crash never leaves a half-written job. Implemented for SQLite (embedded) and PostgreSQL; both
// pass the same contract suite (tests/contract/job_repository_contract.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"

namespace labhouse {

struct JobListQuery {
    std::optional<JobState> state;
    int limit = 20;      // 1..100
    std::string cursor;  // opaque, from the previous page's next_cursor; empty = newest
    std::optional<std::string> owner;  // only this owner's jobs; nullopt = every owner's
};

struct JobPage {
    std::vector<Job> jobs;    // newest first
    std::string next_cursor;  // empty when there is no further page
};

// A cap on the jobs one owner creates in a window (the daily quota of an API key).
struct CreateQuota {
    std::int64_t max_jobs = 0;  // jobs of the owner created at or after since_ms, the new one excluded
    std::int64_t since_ms = 0;
};

// The error Create gives when a CreateQuota is used up.
inline Error QuotaUsedUp(const CreateQuota& quota) {
    Error error = ResourceExhausted("daily quota of " + std::to_string(quota.max_jobs) +
                                    " jobs used up; it resets at 00:00 UTC");
    error.reason = "DAILY_QUOTA";
    return error;
}

struct ClaimRequest {
    std::string worker_id;
    std::int64_t now_ms = 0;
    std::int64_t lease_ms = 60000;
    std::vector<std::string> backends;  // claim only jobs of these backends; empty = any
};

// What a worker learns when it reports progress or extends its lease.
struct LeaseStatus {
    bool cancel_requested = false;
};

// The rule both adapters (and their databases) hold: a text-to-image job has no input blob, an
// image-to-image job has one. kInvalidArgument otherwise.
inline Status CheckInputMatchesKind(const Job& job) {
    const bool text_to_image = job.params.kind == JobKind::kTextToImage;
    if (text_to_image != job.input_blob.empty()) {
        return InvalidArgument(text_to_image ? "a text-to-image job has no input image"
                                             : "an image-to-image job needs an input image");
    }
    return OkStatus();
}

class JobRepository {
public:
    virtual ~JobRepository() = default;

    // Inserts a new queued job. With a non-empty job.idempotency_key: if a job with that key
    // exists and has the same request_fingerprint, returns it (second = false) and inserts nothing;
    // a different fingerprint is kAlreadyExists. Otherwise returns the stored job (second = true).
    // kInvalidArgument when the input blob does not match the kind (CheckInputMatchesKind).
    // With `quota`: kResourceExhausted (reason "DAILY_QUOTA") when job.owner already has
    // quota->max_jobs jobs created since quota->since_ms, counted in the insert's own transaction
    // (serialized per owner), so simultaneous requests on several API nodes cannot overshoot it.
    // A replay of an existing job is answered before the quota is looked at.
    virtual Result<std::pair<Job, bool>> Create(const Job& job, const std::optional<CreateQuota>& quota) = 0;
    Result<std::pair<Job, bool>> Create(const Job& job) { return Create(job, std::nullopt); }
    // kNotFound when absent.
    virtual Result<Job> Get(const std::string& id) const = 0;
    virtual Result<JobPage> List(const JobListQuery& query) const = 0;
    // Counts per state, all states present.
    virtual Result<std::map<JobState, std::int64_t>> CountByState() const = 0;
    // Position of a queued job in the queue (0 = next to run); kFailedPrecondition if not queued.
    virtual Result<std::int64_t> QueuePosition(const std::string& id) const = 0;

    // Atomically claims the oldest queued job (of the given backends), marking it running under a
    // lease for worker_id and counting an attempt. nullopt when none is queued.
    virtual Result<std::optional<Job>> ClaimNext(const ClaimRequest& request) = 0;
    // Progress and lease renewal by the lease holder. kFailedPrecondition when the caller no
    // longer holds the lease (it expired and the job was re-queued or finished).
    virtual Result<LeaseStatus> ReportProgress(const std::string& id, const std::string& worker_id,
                                               const JobProgress& progress, std::int64_t lease_until_ms) = 0;
    virtual Result<LeaseStatus> ExtendLease(const std::string& id, const std::string& worker_id,
                                            std::int64_t lease_until_ms) = 0;
    // Ends a running job held by worker_id. kFailedPrecondition when not the lease holder.
    virtual Status MarkSucceeded(const std::string& id, const std::string& worker_id, const std::string& result_blob,
                                 const std::map<std::string, std::string>& result_meta, std::int64_t now_ms) = 0;
    virtual Status MarkFailed(const std::string& id, const std::string& worker_id, const JobError& error,
                              std::int64_t now_ms) = 0;
    virtual Status MarkCanceled(const std::string& id, const std::string& worker_id, std::int64_t now_ms) = 0;
    // Gives a running job back to the queue without counting the attempt (graceful shutdown).
    virtual Status Release(const std::string& id, const std::string& worker_id) = 0;

    // Cancel: a queued job becomes canceled at once; a running job gets cancel_requested (its
    // worker stops at the next step). kFailedPrecondition for a finished job, kNotFound if absent.
    virtual Result<Job> RequestCancel(const std::string& id, std::int64_t now_ms) = 0;
    // Running jobs whose lease expired go back to queued, or to failed (WORKER_LOST) once their
    // attempts reach max_attempts. With `all_running`, every running job counts as expired (used at
    // start of the embedded mode, where no other process can hold a lease). Returns the ids touched.
    virtual Result<std::vector<std::string>> RecoverExpired(std::int64_t now_ms, bool all_running) = 0;
    // Deletes a finished job (kFailedPrecondition while queued or running). Returns its blob ids so
    // the caller can remove those no other job uses.
    virtual Result<std::vector<std::string>> Delete(const std::string& id) = 0;
    // True when another job still references the blob.
    virtual Result<bool> BlobInUse(const std::string& blob_id) const = 0;
    // How many jobs `owner` created at or after since_ms (all states), for daily quotas.
    virtual Result<std::int64_t> CountCreatedSince(const std::string& owner, std::int64_t since_ms) const = 0;
    // Webhook deliveries. A job created with options["webhook_url"] has one delivery due once it
    // has ended, until RecordWebhookDelivery settles it. Before sending, a node claims it, so that
    // one node sends it however many API nodes heard the job end, and a delivery whose node died
    // is taken up by another once the claim runs out.

    // Stores the outcome of the job's webhook delivery (a JSON text) as result_meta["webhook"],
    // whatever the job's state, and settles the delivery. kNotFound for an unknown job.
    virtual Status RecordWebhookDelivery(const std::string& id, const std::string& summary) {
        return Unimplemented("this job store does not record webhook deliveries");
    }
    // True when the caller now holds job `id`'s delivery until `until_ms`: it was due, the job has
    // ended, and no claim ran past `now_ms`. False otherwise (not due, not ended, held, unknown).
    virtual Result<bool> ClaimWebhookDelivery(const std::string& id, std::int64_t now_ms, std::int64_t until_ms) {
        return Unimplemented("this job store does not track webhook deliveries");
    }
    // Ended jobs whose delivery is due and not claimed past `now_ms`, oldest first, at most `limit`:
    // deliveries no node heard about (all were down, the event was lost) or whose node died.
    virtual Result<std::vector<std::string>> DueWebhookDeliveries(std::int64_t now_ms, int limit) const {
        return Unimplemented("this job store does not track webhook deliveries");
    }
};

}  // namespace labhouse
