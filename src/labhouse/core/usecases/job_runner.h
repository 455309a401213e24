// JobRunner: one worker's loop body. Claims the next job under a lease, runs its backend with
// progress and cancellation, stores the result and ends the job, in that order, so a crash at any
// point leaves either a re-runnable job or a finished one, never a lost or half-finished one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "labhouse/core/base/metrics.h"
#include "labhouse/core/base/result.h"
#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/clock.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/image_codec.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/usecases/backend_registry.h"

namespace labhouse {

struct RunnerOptions {
    std::string worker_id;
    std::int64_t lease_ms = 60000;
    std::vector<std::string> backends;  // which backends this runner takes; empty = all
    std::string engine_version = "labhouse";
    // Test-only fault hook: runs after the result blob is stored and before the job is marked
    // succeeded (the e2e fault test kills the process there). Empty in production.
    std::function<void()> after_result_stored;
    // How long the write that ends a job keeps being retried while the database answers
    // kUnavailable (SQLite locked by another process past its busy timeout, PostgreSQL failover).
    // Giving up loses nothing (the lease expires and the job runs again) but wastes the run, so
    // the default outlasts the lease. Negative: the lease's length.
    std::int64_t final_write_retry_ms = -1;
};

// Why a run ended, for logs and tests.
enum class RunOutcome { kIdle, kSucceeded, kFailed, kCanceled, kReleased, kLeaseLost };

class JobRunner {
public:
    JobRunner(JobRepository& jobs, BlobStore& blobs, const ImageCodec& codec, EventBus& events,
              const BackendRegistry& backends, const Clock& clock, Metrics* metrics, RunnerOptions options);

    // Claims one job and runs it to the end. `shutdown` makes a running job stop at its next step
    // and go back to the queue (kReleased). Returns kIdle when no job was queued.
    Result<RunOutcome> RunNext(const std::atomic<bool>& shutdown);

    const std::string& worker_id() const { return options_.worker_id; }

private:
    Result<RunOutcome> Execute(Job job, const std::atomic<bool>& shutdown);
    Result<TransformOutput> Transform(const Job& job, Transformer& backend, ProgressReporter& reporter);
    // Runs `write` (one of the repository's Mark*/Release calls for `job`) until it is not
    // kUnavailable or the retry time is spent (one retry only once `shutdown` is set). A retry refused with
    // kFailedPrecondition after an answer in doubt counts as done when the job already is in
    // `done_state` (with `result_blob` for a success): the earlier attempt committed.
    Status FinishWithRetry(const Job& job, JobState done_state, const std::string& result_blob,
                           const std::function<Status()>& write, const std::atomic<bool>& shutdown);

    JobRepository& jobs_;
    BlobStore& blobs_;
    const ImageCodec& codec_;
    EventBus& events_;
    const BackendRegistry& backends_;
    const Clock& clock_;
    Metrics* metrics_;
    RunnerOptions options_;
};

}  // namespace labhouse
