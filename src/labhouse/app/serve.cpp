#include "labhouse/app/serve.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "labhouse/adapters/http/http_server.h"
#include "labhouse/adapters/webhook/webhook_dispatcher.h"
#include "labhouse/app/access_storage.h"
#include "labhouse/app/backends.h"
#include "labhouse/app/logging.h"
#include "labhouse/app/storage.h"
#include "labhouse/app/worker_pool.h"
#include "labhouse/core/base/log.h"
#include "labhouse/core/usecases/access_control.h"
#include "labhouse/core/usecases/cancel_job.h"
#include "labhouse/core/usecases/submit_job.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "labhouse/models/model_store.h"

namespace labhouse::app {
namespace {

constexpr const char* kVersion = "0.1.0";

// One embedded server per data dir: the lock makes "every running job at start belongs to a dead
// process" true, which is what lets a restart re-queue them at once.
Result<int> LockDataDir(const std::string& data_dir) {
    const std::string path = data_dir + "/labhouse.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Unavailable("cannot open " + path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return FailedPrecondition("another labhouse server is using " + data_dir);
    }
    return fd;
}

int Fail(const Error& error) {
    Log(LogLevel::kError, "startup_failed", {{"code", error.Name()}, {"message", error.message}});
    std::cerr << "labhouse: " << error.message << "\n";
    return error.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

Status CheckWritable(const std::string& dir) {
    const std::string probe = dir + "/.ready-probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Unavailable("data dir is not writable");
    ::close(fd);
    ::unlink(probe.c_str());
    return OkStatus();
}

}  // namespace

int RunMigrate(const AppConfig& config) {
    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (auto valid = config.Validate(); !valid) return Fail(valid.error());
    auto version = MigrateStorage(config);
    if (!version) return Fail(version.error());
    std::cout << "database " << (config.UsesPostgres() ? "postgresql" : config.SqlitePath()) << " at schema version "
              << *version << "\n";
    return 0;
}

int RunServe(const AppConfig& config) {
    SetUpLogging(config.log_level, config.log_format);
    if (auto valid = config.Validate(); !valid) return Fail(valid.error());
    Log(LogLevel::kInfo, "config", {{"effective", config.ToString()}});

    // Signals are taken by one thread with sigwait, so no handler runs on an arbitrary thread.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::error_code ec;
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) return Fail(Unavailable("cannot create data dir " + config.data_dir + ": " + ec.message()));
    // The embedded mode owns its data dir; a shared database has no single owner to lock.
    if (!config.UsesPostgres()) {
        auto lock = LockDataDir(config.data_dir);
        if (!lock) return Fail(lock.error());
    }

    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    auto storage = OpenStorage(config, std::string(host) + "-" + std::to_string(getpid()));
    if (!storage) return Fail(storage.error());
    auto* repo = &storage->jobs;
    auto* blobs = &storage->blobs;
    EventBus& events = *storage->events;
    JobQueue& queue = *storage->queue;
    SystemClock clock;
    imaging::OpenCvImageCodec codec;
    Metrics metrics;
    metrics.Describe("labhouse_job_duration_seconds", "histogram", "Job run time by backend and outcome.");
    metrics.Describe("labhouse_job_final_write_retries_total", "counter",
                     "Retries of the write that ends a job while the database was unavailable.");
    BackendRegistry backends;
    RegisterBackends(backends, config, codec);

    // Embedded: no other process can hold a lease, so every running job is orphaned. Shared: other
    // workers hold live leases; only expired ones are recovered (by the workers' maintenance).
    if (auto recovered = (*repo)->RecoverExpired(clock.NowMs(), /*all_running=*/!storage->shared); !recovered) {
        return Fail(recovered.error());
    } else if (!recovered->empty()) {
        Log(LogLevel::kWarn, "jobs_recovered", {{"count", std::to_string(recovered->size())}});
    }
    // A crash between storing a blob and committing the row that refers to it (an upload, or a
    // result before "done") leaves a file nobody refers to; the re-run writes its own.
    if (storage->sweep_orphan_blobs) {
        auto swept = storage->sweep_orphan_blobs();
        if (!swept) return Fail(swept.error());
        if (*swept > 0) Log(LogLevel::kWarn, "orphan_blobs_removed", {{"count", std::to_string(*swept)}});
    }

    SubmitJob submit(**repo, **blobs, codec, queue, events, backends, clock,
                     {config.max_upload_bytes, config.max_pixels, config.max_attempts});
    CancelJob cancel(**repo, events, clock);
    // auth=keys: every request (but the UI, health and images) needs a key from `labhouse keys create`.
    std::unique_ptr<KeyRepository> keys;
    std::unique_ptr<RateLimiter> shared_limits;
    std::unique_ptr<AccessControl> access;
    if (config.auth == "keys") {
        // The configured database's keys: in scale-out, every API node reads the same PostgreSQL table.
        auto opened = OpenKeyRepository(config);
        if (!opened) return Fail(opened.error());
        keys = std::move(*opened);
        // Scale-out: one request count per key for all API nodes (Redis); the daily quota is
        // counted from the shared database's jobs either way.
        auto limiter = OpenSharedRateLimiter(config);
        if (!limiter) return Fail(limiter.error());
        shared_limits = std::move(*limiter);
        access = std::make_unique<AccessControl>(*keys, **repo, clock, shared_limits.get());
        auto all = keys->List();
        const bool any_active =
            all && std::any_of(all->begin(), all->end(), [](const ApiKey& k) { return !k.revoked(); });
        if (!any_active) {
            Log(LogLevel::kWarn, "no_api_keys", {{"hint", "create one with `labhouse keys create --name N`"}});
        }
    }
    // Webhooks need a secret: an unsigned event could be forged by anyone who learns the URL.
    const bool webhooks_enabled = !config.webhook_secret.empty();
    webhook::WebhookConfig webhook_config;
    webhook_config.secret = config.webhook_secret;
    webhook_config.allow_private = config.webhook_allow_private;
    webhook_config.take_over_claims_at_start = !storage->shared;
    std::function<Status(const std::string&)> validate_webhook;  // empty: the HTTP layer refuses webhook_url
    if (webhooks_enabled) {
        validate_webhook = [allow = config.webhook_allow_private](const std::string& url) {
            return webhook::ValidateWebhookUrl(url, allow);
        };
    }
    webhook::WebhookDispatcher webhooks(events, **repo, webhook_config);
    if (webhooks_enabled) webhooks.Start();
    http::HttpConfig http_config;
    http_config.host = config.host;
    http_config.port = config.port;
    http_config.threads = config.http_threads;
    http_config.read_timeout_s = config.http_read_timeout_s;
    http_config.write_timeout_s = config.http_write_timeout_s;
    http_config.header_timeout_s = config.http_header_timeout_s;
    http_config.keepalive_timeout_s = config.http_keepalive_timeout_s;
    http_config.min_body_rate = config.http_min_body_rate;
    http_config.max_header_bytes = static_cast<std::size_t>(config.http_max_header_bytes);
    http_config.max_connections = config.http_max_connections;
    http_config.max_uploads = config.max_concurrent_uploads;
    http_config.max_event_streams = config.max_event_streams;
    http_config.max_event_streams_per_client = config.max_event_streams_per_client;
    // Room for the multipart framing and the small text fields around the image.
    http_config.max_body_bytes = config.max_upload_bytes + 1'000'000;
    const std::string data_dir = config.data_dir;
    JobRepository& jobs = **repo;
    http::HttpServer server(http_config, {submit, cancel, jobs, **blobs, backends, events, metrics,
                                          [&jobs, data_dir]() -> Status {
                                              LABHOUSE_RETURN_IF_ERROR(jobs.CountByState());
                                              return CheckWritable(data_dir);
                                          },
                                          kVersion,
                                          [models_dir = config.ModelsDir()] { return models::ListInstalled(models_dir); },
                                          access.get(),
                                          validate_webhook});
    auto port = server.Bind();
    if (!port) return Fail(port.error());

    WorkerPoolOptions pool_options{config.workers, std::int64_t{config.lease_seconds} * 1000,
                                   std::string("labhouse ") + kVersion};
    // Test-only fault (tests/e2e/fault_process_test.cpp): die like kill -9 between "result stored"
    // and "job marked succeeded", to prove a restart neither loses nor duplicates the job.
    if (const char* crash = std::getenv("LABHOUSE_TEST_CRASH_AFTER_RESULT_STORED"); crash && *crash == '1') {
        pool_options.after_result_stored = [] { ::raise(SIGKILL); };
    }
    WorkerPool pool({jobs, **blobs, codec, events, queue, backends, clock, metrics}, pool_options);
    pool.Start();

    std::thread signal_thread([&] {
        int signal = 0;
        sigwait(&signals, &signal);
        Log(LogLevel::kInfo, "shutdown_requested", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
        server.Stop();
    });
    Log(LogLevel::kInfo, "listening",
        {{"url", "http://" + config.host + ":" + std::to_string(*port)}, {"workers", std::to_string(pool.ThreadCount())}});
    std::cout << "labhouse listening on http://" << config.host << ":" << *port << std::endl;
    server.Serve();
    pool.Shutdown(std::chrono::seconds(config.shutdown_grace_seconds));
    webhooks.Stop();
    signal_thread.join();
    Log(LogLevel::kInfo, "stopped");
    return 0;
}

}  // namespace labhouse::app
