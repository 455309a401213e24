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
