#include "labhouse/app/run_worker.h"

#include <unistd.h>

#include <csignal>
#include <iostream>

#include "labhouse/app/backends.h"
#include "labhouse/app/logging.h"
#include "labhouse/app/storage.h"
#include "labhouse/app/worker_pool.h"
#include "labhouse/core/base/log.h"
#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::app {
namespace {

constexpr const char* kVersion = "0.1.0";

int Fail(const Error& error) {
    Log(LogLevel::kError, "startup_failed", {{"code", error.Name()}, {"message", error.message}});
    std::cerr << "labhouse worker: " << error.message << "\n";
    return error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kFailedPrecondition ? 2 : 1;
}

std::string ProcessName() {
    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace

int RunWorker(const AppConfig& config) {
    SetUpLogging(config.log_level, config.log_format);
    if (auto valid = config.Validate(); !valid) return Fail(valid.error());
    if (!config.UsesPostgres()) {
        // A SQLite file belongs to one `serve` process (it holds the data-dir lock and re-queues
        // every running job at start), so a second process must not run jobs from it.
        return Fail(FailedPrecondition(
            "labhouse worker needs a shared database (LABHOUSE_DATABASE_URL=postgresql://...); "
            "in the embedded mode `labhouse serve --workers N` runs the workers"));
    }
    if (config.workers < 1) return Fail(InvalidArgument("a worker process needs at least one worker thread"));
    Log(LogLevel::kInfo, "config", {{"effective", config.ToString()}});

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    auto storage = OpenStorage(config, ProcessName());
    if (!storage) return Fail(storage.error());
    SystemClock clock;
    imaging::OpenCvImageCodec codec;
    Metrics metrics;
    BackendRegistry backends;
    RegisterBackends(backends, config, codec);

    // No recovery of "all running" jobs here: other workers hold live leases in the same
    // database. Jobs of a dead worker come back when their lease expires (the pool's maintenance).
    WorkerPool pool({*storage->jobs, *storage->blobs, codec, *storage->events, *storage->queue, backends, clock,
                     metrics},
                    {config.workers, std::int64_t{config.lease_seconds} * 1000, std::string("labhouse ") + kVersion});
    pool.Start();
    Log(LogLevel::kInfo, "worker_ready", {{"threads", std::to_string(pool.ThreadCount())}, {"storage", storage->description}});
    std::cout << "labhouse worker ready: " << pool.ThreadCount() << " threads, " << storage->description << std::endl;

    int signal = 0;
    sigwait(&signals, &signal);
    Log(LogLevel::kInfo, "shutdown_requested", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    pool.Shutdown(std::chrono::seconds(config.shutdown_grace_seconds));
    Log(LogLevel::kInfo, "stopped");
    return 0;
}

}  // namespace labhouse::app
