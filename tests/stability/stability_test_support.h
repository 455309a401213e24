// Helpers shared by the Stability suites: a progress reporter that records stages and can cancel
// on cue, a log capture, and a config whose waits are short enough for tests.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "labhouse/adapters/stability/stability_config.h"
#include "labhouse/core/base/log.h"
#include "labhouse/core/ports/transformer.h"
#include "tests/stability/fake_stability_server.h"

namespace labhouse::stability::testing {

class RecordingReporter final : public ProgressReporter {
public:
    void Report(const JobProgress& progress) override;
    bool CancelRequested() override;
    // Cancels once `condition` holds (checked on every CancelRequested poll).
    void CancelWhen(std::function<bool()> condition);
    // Cancels as soon as `stage` is reported.
    void CancelOnStage(const std::string& stage);
    std::vector<std::string> Stages() const;
    std::vector<JobProgress> Reports() const;
    bool Saw(const std::string& stage) const;

private:
    mutable std::mutex mutex_;
    std::vector<std::string> stages_;
    std::vector<JobProgress> reports_;
    std::string cancel_stage_;
    std::atomic<bool> cancelled_{false};
    std::function<bool()> cancel_condition_;  // set before the transform starts
};

// Captures every log record while alive (and restores the default sink after).
class LogCapture {
public:
    LogCapture();
    ~LogCapture();
    std::string Text() const;  // one formatted line per record
    int Count(const std::string& event) const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

// Points at the fake, with millisecond waits so the whole suite stays fast.
StabilityConfig TestConfig(const FakeStabilityServer& fake);
// A loopback port nothing listens on (bound, then released).
int UnusedPort();
// Runs one transform the way the worker does (no extra images).
Result<TransformOutput> RunTransform(Transformer& transformer, const Image& image, const JobParams& params,
                                     ProgressReporter& reporter, const Style* style = nullptr);
JobParams PromptParams(const std::string& prompt, const std::string& engine = "");

}  // namespace labhouse::stability::testing
