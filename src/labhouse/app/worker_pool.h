// WorkerPool: the threads that run jobs in this process. General threads take the local backends
// (one inference at a time each); a backend that allows concurrency (a remote API) gets its own
// threads, so slow remote calls never block local jobs. One maintenance thread re-queues jobs
// whose lease expired (their worker died).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "labhouse/core/ports/job_queue.h"
#include "labhouse/core/usecases/job_runner.h"

namespace labhouse::app {

struct WorkerPoolDeps {
    JobRepository& jobs;
    BlobStore& blobs;
    const ImageCodec& codec;
    EventBus& events;
    JobQueue& queue;
    const BackendRegistry& backends;
    const Clock& clock;
    Metrics& metrics;
};

struct WorkerPoolOptions {
    int general_workers = 1;
    std::int64_t lease_ms = 60000;
    std::string engine_version;
    std::chrono::milliseconds idle_poll{1000};
    std::function<void()> after_result_stored;  // test-only fault hook, see RunnerOptions
};

class WorkerPool {
public:
    WorkerPool(WorkerPoolDeps deps, WorkerPoolOptions options);
    ~WorkerPool();

    void Start();
    // Stops claiming new jobs; running jobs go on.
    void StopClaiming();
    // Waits up to `grace` for running jobs to finish, then asks them to stop at their next step
    // (they go back to the queue), and joins every thread.
    void Shutdown(std::chrono::milliseconds grace);
    int ThreadCount() const { return static_cast<int>(threads_.size()); }

private:
    void RunLoop(JobRunner& runner);
    void MaintenanceLoop();

    WorkerPoolDeps deps_;
    WorkerPoolOptions options_;
    std::vector<std::unique_ptr<JobRunner>> runners_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_claiming_{false};
    std::atomic<bool> abort_running_{false};
    std::atomic<int> busy_{0};
};

}  // namespace labhouse::app
