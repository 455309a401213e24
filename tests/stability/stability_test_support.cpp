#include "tests/stability/stability_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

namespace labhouse::stability::testing {

void RecordingReporter::Report(const JobProgress& progress) {
    std::lock_guard lock(mutex_);
    stages_.push_back(progress.stage);
    reports_.push_back(progress);
    if (!cancel_stage_.empty() && progress.stage == cancel_stage_) cancelled_ = true;
}

bool RecordingReporter::CancelRequested() {
    if (cancelled_) return true;
    if (cancel_condition_ && cancel_condition_()) cancelled_ = true;
    return cancelled_;
}

void RecordingReporter::CancelWhen(std::function<bool()> condition) { cancel_condition_ = std::move(condition); }

void RecordingReporter::CancelOnStage(const std::string& stage) {
    std::lock_guard lock(mutex_);
    cancel_stage_ = stage;
}

std::vector<std::string> RecordingReporter::Stages() const {
    std::lock_guard lock(mutex_);
    return stages_;
}

std::vector<JobProgress> RecordingReporter::Reports() const {
    std::lock_guard lock(mutex_);
    return reports_;
}

bool RecordingReporter::Saw(const std::string& stage) const {
    std::lock_guard lock(mutex_);
    return std::find(stages_.begin(), stages_.end(), stage) != stages_.end();
}

struct LogCapture::State {
    std::mutex mutex;
    std::vector<std::string> lines;
    std::vector<std::string> events;
};

LogCapture::LogCapture() : state_(std::make_shared<State>()) {
    SetLogSink([state = state_](LogLevel, std::string_view event, const LogFields& fields) {
        std::lock_guard lock(state->mutex);
        state->lines.push_back(FormatLogLine(event, fields));
        state->events.emplace_back(event);
    });
}

LogCapture::~LogCapture() { SetLogSink(nullptr); }

std::string LogCapture::Text() const {
    std::lock_guard lock(state_->mutex);
    std::string text;
    for (const auto& line : state_->lines) text += line + "\n";
    return text;
}

int LogCapture::Count(const std::string& event) const {
    std::lock_guard lock(state_->mutex);
    return static_cast<int>(std::count(state_->events.begin(), state_->events.end(), event));
}

StabilityConfig TestConfig(const FakeStabilityServer& fake) {
    StabilityConfig config;
    config.api_key = fake.api_key();
    config.base_url = fake.BaseUrl();
    config.connect_timeout = std::chrono::milliseconds(1'000);
    config.request_timeout = std::chrono::milliseconds(10'000);
    config.balance_timeout = std::chrono::milliseconds(2'000);
    config.backoff_base = std::chrono::milliseconds(20);
    config.backoff_max = std::chrono::milliseconds(100);
    config.rate_limit_wait = std::chrono::milliseconds(200);
    config.rate_limit_jitter = std::chrono::milliseconds(50);
    return config;
}

int UnusedPort() {
    // Bound but never listening, then closed: connecting to it is refused.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

Result<TransformOutput> RunTransform(Transformer& transformer, const Image& image, const JobParams& params,
                                     ProgressReporter& reporter, const Style* style) {
    static const std::map<std::string, Image> kNoExtras;
    TransformInput input{image, params, style, kNoExtras};
    return transformer.Transform(input, reporter);
}

JobParams PromptParams(const std::string& prompt, const std::string& engine) {
    JobParams params;
    params.backend = "stability";
    params.prompt = prompt;
    if (!engine.empty()) params.options["engine"] = engine;
    return params;
}

}  // namespace labhouse::stability::testing
