#include "labhouse/app/worker_pool.h"

#include <unistd.h>

#include "labhouse/core/base/ids.h"
#include "labhouse/core/base/log.h"

namespace labhouse::app {
namespace {
std::string HostPrefix() {
    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    return std::string(host) + "-" + std::to_string(getpid());
}
}  // namespace

WorkerPool::WorkerPool(WorkerPoolDeps deps, WorkerPoolOptions options) : deps_(deps), options_(std::move(options)) {}

WorkerPool::~WorkerPool() { Shutdown(std::chrono::milliseconds(0)); }

void WorkerPool::Start() {
    std::vector<std::string> local;
    std::vector<std::pair<std::string, int>> concurrent;
    for (Transformer* backend : deps_.backends.All()) {
        if (backend->MaxConcurrency() > 1) {
            concurrent.emplace_back(std::string(backend->Name()), backend->MaxConcurrency());
        } else {
            local.emplace_back(backend->Name());
        }
    }
    auto add_runner = [&](std::vector<std::string> backends) {
        RunnerOptions runner_options{NewWorkerId(HostPrefix()), options_.lease_ms, std::move(backends),
                                     options_.engine_version, options_.after_result_stored};
        runners_.push_back(std::make_unique<JobRunner>(deps_.jobs, deps_.blobs, deps_.codec, deps_.events,
                                                       deps_.backends, deps_.clock, &deps_.metrics, runner_options));
    };
    if (options_.general_workers > 0) {
        for (int i = 0; i < options_.general_workers && !local.empty(); ++i) add_runner(local);
        for (const auto& [name, count] : concurrent) {
            for (int i = 0; i < count; ++i) add_runner({name});
        }
    }
    for (auto& runner : runners_) threads_.emplace_back([this, r = runner.get()] { RunLoop(*r); });
    if (!runners_.empty()) threads_.emplace_back([this] { MaintenanceLoop(); });
    Log(LogLevel::kInfo, "workers_started", {{"threads", std::to_string(runners_.size())}});
}

void WorkerPool::RunLoop(JobRunner& runner) {
    while (!stop_claiming_.load()) {
        ++busy_;
        auto outcome = runner.RunNext(abort_running_);
        --busy_;
        if (!outcome) {
            Log(LogLevel::kError, "worker_error", {{"worker", runner.worker_id()}, {"message", outcome.error().message}});
            deps_.queue.Wait(options_.idle_poll);
            continue;
        }
        if (*outcome == RunOutcome::kIdle) deps_.queue.Wait(options_.idle_poll);
    }
}

void WorkerPool::MaintenanceLoop() {
    while (!stop_claiming_.load()) {
        auto recovered = deps_.jobs.RecoverExpired(deps_.clock.NowMs(), false);
        if (recovered && !recovered->empty()) {
            for (const std::string& id : *recovered) {
                Log(LogLevel::kWarn, "job_lease_expired", {{"job_id", id}});
                deps_.queue.Announce(id);
            }
        }
        for (int i = 0; i < 10 && !stop_claiming_.load(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::max<std::int64_t>(options_.lease_ms / 20, 50)));
        }
    }
}

void WorkerPool::StopClaiming() {
    stop_claiming_ = true;
    deps_.queue.WakeAll();
}

void WorkerPool::Shutdown(std::chrono::milliseconds grace) {
    StopClaiming();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (busy_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    abort_running_ = true;
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

}  // namespace labhouse::app
