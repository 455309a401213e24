// The scale-out topology on loopback, for the multi-process tests: a fresh PostgreSQL database (on
// the server of LABHOUSE_TEST_PG_DSN), a Redis of its own (so it can be wiped and restarted
// without disturbing other tests), two API nodes (`labhouse serve --workers 0`), two worker
// processes (`labhouse worker`) and nginx in front with deploy/nginx/labhouse-proxy.conf.
// Everything is stopped and removed by the destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {

// A child process with its output in a log file.
class ChildProcess {
public:
    ChildProcess(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::filesystem::path log_path);
    ~ChildProcess();
    bool Start();
    // Waits until the log contains `needle`; false on timeout or exit.
    bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout);
    void Signal(int signal);
    void Kill();           // SIGKILL and reap
    int Terminate();       // SIGTERM, wait, returns the exit status (-1 on timeout, then SIGKILL)
    bool Running();
    std::string Log() const;
    pid_t pid() const { return pid_; }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    std::vector<std::string> argv_;
    std::map<std::string, std::string> env_;
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
};

struct ClusterOptions {
    int api_nodes = 2;
    int workers = 2;
    int lease_seconds = 3;
    std::vector<std::string> api_args;  // more `serve` flags for the API nodes, e.g. {"--auth", "keys"}
};

class Cluster {
public:
    explicit Cluster(ClusterOptions options = {});
    ~Cluster();
    // Starts everything; false (with logs printed) when something does not come up.
    bool Start();

    std::unique_ptr<httplib::Client> Nginx() const;
    std::unique_ptr<httplib::Client> Api(int index) const;
    // The cluster's PostgreSQL URL (for `labhouse keys --database-url`).
    const std::string& DatabaseUrl() const { return database_url_; }
    ChildProcess& Worker(int index) { return *workers_[index]; }
    int WorkerCount() const { return static_cast<int>(workers_.size()); }
    // Index of the worker whose log shows it started `job_id` (attempt 1), or -1.
    int WorkerRunning(const std::string& job_id) const;
    // Kills Redis (SIGKILL) and starts an empty one on the same port.
    bool RestartRedisWiped();
    void KillRedis();
    std::string AllLogs() const;
    std::string ApiLogs() const;

private:
    bool StartRedis();
    bool StartNginx();

    ClusterOptions options_;
    TempDir dir_;
    std::string database_;
    std::string database_url_;
    int redis_port_ = 0;
    int nginx_port_ = 0;
    std::unique_ptr<ChildProcess> redis_;
    std::vector<std::unique_ptr<ServerProcess>> apis_;
    std::vector<std::unique_ptr<ChildProcess>> workers_;
    std::unique_ptr<ChildProcess> nginx_;
};

// A free loopback TCP port (bound and released; good enough for tests).
int FreePort();
std::string PgDsn();     // LABHOUSE_TEST_PG_DSN or empty
std::string RedisUrl();  // LABHOUSE_TEST_REDIS_URL or empty

}  // namespace labhouse::testing
