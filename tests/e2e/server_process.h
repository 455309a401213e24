// Runs the real `labhouse` binary as a child process for end-to-end tests: starts it on a free
// port, reads the port from its "listening on" line, and stops it politely (SIGTERM) or not
// (SIGKILL).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

namespace labhouse::testing {

struct SpawnOptions {
    bool append_log = false;          // else the log starts empty
    bool own_process_group = false;   // a Ctrl-C of the test runner does not reach it twice
};
// Starts argv (argv[0] looked up in PATH) with stdout and stderr in `log_path`, and this process's
// environment without its LABHOUSE_* variables, plus `env`. Returns the child's pid (-1 on failure).
pid_t SpawnLogged(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                  const std::filesystem::path& log_path, SpawnOptions options = {});

class ServerProcess {
public:
    // `args` follow "serve"; --port 0 and the data dir are added unless given.
    ServerProcess(std::filesystem::path data_dir, std::vector<std::string> args = {},
                  std::map<std::string, std::string> env = {});
    ~ServerProcess();

    // Starts and waits until it listens. False (with the log printed) when it exits or times out.
    bool Start();
    void Kill();          // SIGKILL, and reap
    int Terminate();      // SIGTERM; returns the exit status (-1 on timeout)
    // Waits for the process to end on its own; its exit status (128+signal when killed), or -1 on
    // timeout.
    int WaitForExit(int timeout_s);
    bool Running() const { return pid_ > 0; }
    int port() const { return port_; }
    std::string Log() const;
    std::unique_ptr<httplib::Client> Client() const;

private:
    std::filesystem::path data_dir_;
    std::vector<std::string> args_;
    std::map<std::string, std::string> env_;
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
    int port_ = 0;
};

// Waits up to timeout_s for the child `pid` to end and reaps it: its exit status (128+signal when
// killed), with `pid` set to -1; or -1 on timeout, with `pid` left as it was.
int WaitForChild(pid_t& pid, int timeout_s);

// Runs the binary with these arguments to completion; returns its exit code and output.
std::pair<int, std::string> RunLabhouse(const std::vector<std::string>& args,
                                        const std::map<std::string, std::string>& env = {});

}  // namespace labhouse::testing
