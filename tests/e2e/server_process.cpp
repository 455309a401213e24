#include "tests/e2e/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

#ifndef LABHOUSE_BINARY
#error "LABHOUSE_BINARY must name the labhouse executable"
#endif

namespace labhouse::testing {
namespace {

// `labhouse ARGS...` with its output in `log_path`.
pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::filesystem::path& log_path) {
    std::vector<std::string> argv = {LABHOUSE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return SpawnLogged(argv, env, log_path);
}

std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

pid_t SpawnLogged(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                  const std::filesystem::path& log_path, SpawnOptions options) {
    // Everything the child needs is built here, before fork(): in a multithreaded test process
    // the child may only make async-signal-safe calls until exec. A setenv() there (malloc) hung
    // for good under ASan when another thread held the allocator's lock at the fork.
    std::vector<std::string> env_entries;
    for (char** e = environ; e && *e; ++e) {
        const std::string entry = *e;
        const std::string name = entry.substr(0, entry.find('='));
        if (name.rfind("LABHOUSE_", 0) == 0 || env.count(name)) continue;
        env_entries.push_back(entry);
    }
    for (const auto& [k, v] : env) env_entries.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& entry : env_entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    const std::string log = log_path.string();
    const int flags = O_WRONLY | O_CREAT | (options.append_log ? O_APPEND : O_TRUNC);

    const pid_t pid = fork();
    if (pid != 0) return pid;
    const int fd = ::open(log.c_str(), flags, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (options.own_process_group) setpgid(0, 0);
    execvpe(argp[0], argp.data(), envp.data());
    _exit(127);
}

ServerProcess::ServerProcess(std::filesystem::path data_dir, std::vector<std::string> args,
                             std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)), args_(std::move(args)), env_(std::move(env)) {
    static int counter = 0;
    log_path_ = data_dir_.parent_path() / ("server-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".log");
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) Kill();
}

bool ServerProcess::Start() {
    std::vector<std::string> args = {"serve", "--port", "0", "--data-dir", data_dir_.string()};
    args.insert(args.end(), args_.begin(), args_.end());
    pid_ = Spawn(args, env_, log_path_);
    const std::regex listening(R"(listening on http://[0-9.]+:([0-9]+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        std::smatch match;
        const std::string log = Log();
        if (std::regex_search(log, match, listening)) {
            port_ = std::stoi(match[1]);
            return true;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            std::cerr << "server exited early:\n" << log << "\n";
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::cerr << "server did not start:\n" << Log() << "\n";
    return false;
}

void ServerProcess::Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

int WaitForChild(pid_t& pid, int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
}

int ServerProcess::WaitForExit(int timeout_s) {
    if (pid_ <= 0) return -1;
    return WaitForChild(pid_, timeout_s);
}

int ServerProcess::Terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const int status = WaitForChild(pid_, 60);
    if (status < 0) Kill();
    return status;
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

std::unique_ptr<httplib::Client> ServerProcess::Client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(30, 0);
    client->set_connection_timeout(5, 0);
    return client;
}

std::pair<int, std::string> RunLabhouse(const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env) {
    const auto log = std::filesystem::temp_directory_path() / ("labhouse-run-" + std::to_string(getpid()) + ".log");
    const pid_t pid = Spawn(args, env, log);
    int status = 0;
    waitpid(pid, &status, 0);
    std::string output = ReadFile(log);
    std::filesystem::remove(log);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace labhouse::testing
