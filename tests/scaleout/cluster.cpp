#include "tests/scaleout/cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "tests/e2e/server_process.h"

#ifndef LABHOUSE_BINARY
#error "LABHOUSE_BINARY must name the labhouse executable"
#endif
#ifndef LABHOUSE_SOURCE_DIR
#error "LABHOUSE_SOURCE_DIR must name the source tree (for deploy/nginx)"
#endif

namespace labhouse::testing {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Replaces the database name (the last path segment) of a postgresql:// URL.
std::string WithDatabase(const std::string& dsn, const std::string& database) {
    const auto query = dsn.find('?');
    const std::string base = dsn.substr(0, query);
    const std::string rest = query == std::string::npos ? "" : dsn.substr(query);
    const auto slash = base.rfind('/');
    const auto scheme_end = base.find("://");
    if (slash == std::string::npos || slash <= scheme_end + 2) return base + "/" + database + rest;
    return base.substr(0, slash + 1) + database + rest;
}

}  // namespace

std::string PgDsn() {
    const char* v = std::getenv("LABHOUSE_TEST_PG_DSN");
    return v ? v : "";
}

std::string RedisUrl() {
    const char* v = std::getenv("LABHOUSE_TEST_REDIS_URL");
    return v ? v : "";
}

int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

ChildProcess::ChildProcess(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
                           std::filesystem::path log_path)
    : name_(std::move(name)), argv_(std::move(argv)), env_(std::move(env)), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Start() {
    pid_ = SpawnLogged(argv_, env_, log_path_, {/*append_log=*/true, /*own_process_group=*/true});
    return pid_ > 0;
}

bool ChildProcess::Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

bool ChildProcess::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (Log().find(needle) != std::string::npos) return true;
        if (!Running()) return Log().find(needle) != std::string::npos;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

void ChildProcess::Signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
}

void ChildProcess::Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

int ChildProcess::Terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
    ::kill(pid_, SIGTERM);
    const int status = WaitForChild(pid_, 30);
    if (status < 0) Kill();
    return status;
}

std::string ChildProcess::Log() const { return ReadFile(log_path_); }

Cluster::Cluster(ClusterOptions options) : options_(options) {
    static int counter = 0;
    database_ = "lh_scaleout_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

Cluster::~Cluster() {
    if (nginx_) nginx_->Terminate();
    for (auto& w : workers_) w->Terminate();
    for (auto& a : apis_) a->Terminate();
    if (redis_) redis_->Kill();
    if (!database_url_.empty()) {
        try {
            pqxx::connection conn(PgDsn());
            pqxx::nontransaction tx(conn);
            tx.exec("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
        } catch (const std::exception& e) {
            std::cerr << "could not drop " << database_ << ": " << e.what() << "\n";
        }
    }
}

bool Cluster::StartRedis() {
    redis_ = std::make_unique<ChildProcess>(
        "redis",
        std::vector<std::string>{"redis-server", "--bind", "127.0.0.1", "--port", std::to_string(redis_port_), "--save",
                                 "", "--appendonly", "no", "--dir", dir_.path().string()},
        std::map<std::string, std::string>{}, dir_.path() / "redis.log");
    if (!redis_->Start() || !redis_->WaitForLog("Ready to accept connections", std::chrono::seconds(10))) {
        std::cerr << "redis did not start:\n" << redis_->Log() << "\n";
        return false;
    }
    return true;
}

void Cluster::KillRedis() { redis_->Kill(); }

bool Cluster::RestartRedisWiped() {
    redis_->Kill();
    std::filesystem::remove(dir_.path() / "redis.log");
    return StartRedis();
}

bool Cluster::StartNginx() {
    nginx_port_ = FreePort();
    const auto root = dir_.path() / "nginx";
    std::filesystem::create_directories(root / "logs");
    std::ostringstream conf;
    // The upstream and listen lines are what differ from deploy/nginx/nginx.conf; the proxy rules
    // are the shipped file itself.
    if (geteuid() == 0) conf << "user root;\n";
    conf << "worker_processes 2;\npid " << (root / "nginx.pid").string() << ";\n"
         << "error_log " << (root / "logs/error.log").string() << " warn;\n"
         << "events { worker_connections 1024; }\n"
         << "http {\n  access_log off;\n"
         << "  client_body_temp_path " << (root / "body").string() << ";\n"
         << "  proxy_temp_path " << (root / "proxy").string() << ";\n"
         << "  fastcgi_temp_path " << (root / "fastcgi").string() << ";\n"
         << "  uwsgi_temp_path " << (root / "uwsgi").string() << ";\n"
         << "  scgi_temp_path " << (root / "scgi").string() << ";\n"
         << "  upstream labhouse_api {\n";
    for (const auto& api : apis_) conf << "    server 127.0.0.1:" << api->port() << " max_fails=3 fail_timeout=10s;\n";
    conf << "    keepalive 32;\n  }\n"
         << "  server {\n    listen 127.0.0.1:" << nginx_port_ << ";\n"
         << "    include " << LABHOUSE_SOURCE_DIR << "/deploy/nginx/labhouse-proxy.conf;\n  }\n}\n";
    std::ofstream(root / "nginx.conf") << conf.str();
    nginx_ = std::make_unique<ChildProcess>(
        "nginx",
        std::vector<std::string>{"nginx", "-p", root.string(), "-e", (root / "logs/error.log").string(), "-c",
                                 (root / "nginx.conf").string(), "-g", "daemon off;"},
        std::map<std::string, std::string>{}, dir_.path() / "nginx.log");
    if (!nginx_->Start()) return false;
    httplib::Client probe("127.0.0.1", nginx_port_);
    probe.set_connection_timeout(1, 0);
    for (int i = 0; i < 200; ++i) {
        auto res = probe.Get("/healthz");
        if (res && res->status == 200) return true;
        if (!nginx_->Running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::cerr << "nginx did not start:\n" << nginx_->Log() << ReadFile(root / "logs/error.log") << "\n";
    return false;
}

bool Cluster::Start() {
    if (PgDsn().empty()) return false;
    try {
        pqxx::connection conn(PgDsn());
        pqxx::nontransaction tx(conn);
        tx.exec("CREATE DATABASE " + database_);
    } catch (const std::exception& e) {
        std::cerr << "cannot create database " << database_ << ": " << e.what() << "\n";
        return false;
    }
    database_url_ = WithDatabase(PgDsn(), database_);
    redis_port_ = FreePort();
    if (!StartRedis()) return false;
    const std::map<std::string, std::string> env = {
        {"LABHOUSE_DATABASE_URL", database_url_},
        {"LABHOUSE_QUEUE_URL", "redis://127.0.0.1:" + std::to_string(redis_port_)},
        {"LABHOUSE_LEASE_SECONDS", std::to_string(options_.lease_seconds)},
        {"LABHOUSE_SHUTDOWN_GRACE_SECONDS", "0"},
    };
    for (int i = 0; i < options_.api_nodes; ++i) {
        std::vector<std::string> args = {"--workers", "0"};
        args.insert(args.end(), options_.api_args.begin(), options_.api_args.end());
        apis_.push_back(std::make_unique<ServerProcess>(dir_.path() / ("api" + std::to_string(i)), args, env));
        if (!apis_.back()->Start()) return false;
    }
    for (int i = 0; i < options_.workers; ++i) {
        workers_.push_back(std::make_unique<ChildProcess>(
            "worker" + std::to_string(i),
            std::vector<std::string>{LABHOUSE_BINARY, "worker", "--workers", "1", "--data-dir",
                                     (dir_.path() / ("worker" + std::to_string(i))).string()},
            env, dir_.path() / ("worker" + std::to_string(i) + ".log")));
        if (!workers_.back()->Start() ||
            !workers_.back()->WaitForLog("labhouse worker ready", std::chrono::seconds(20))) {
            std::cerr << "worker did not start:\n" << workers_.back()->Log() << "\n";
            return false;
        }
    }
    return StartNginx();
}

std::unique_ptr<httplib::Client> Cluster::Nginx() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", nginx_port_);
    client->set_read_timeout(30, 0);
    client->set_connection_timeout(5, 0);
    return client;
}

std::unique_ptr<httplib::Client> Cluster::Api(int index) const { return apis_[index]->Client(); }

int Cluster::WorkerRunning(const std::string& job_id) const {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (workers_[i]->Log().find("job_started job_id=" + job_id) != std::string::npos) return static_cast<int>(i);
    }
    return -1;
}

std::string Cluster::ApiLogs() const {
    std::string all;
    for (const auto& api : apis_) all += api->Log();
    return all;
}

std::string Cluster::AllLogs() const {
    std::string all;
    for (const auto& w : workers_) all += "--- " + w->name() + "\n" + w->Log();
    for (std::size_t i = 0; i < apis_.size(); ++i) all += "--- api" + std::to_string(i) + "\n" + apis_[i]->Log();
    if (redis_) all += "--- redis\n" + redis_->Log();
    if (nginx_) all += "--- nginx\n" + nginx_->Log() + ReadFile(dir_.path() / "nginx/logs/error.log");
    return all;
}

}  // namespace labhouse::testing
