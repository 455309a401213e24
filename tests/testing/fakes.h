// Test doubles for the core ports: a manual clock, an in-memory blob store, an in-memory job
// repository (which passes the same contract suite as SQLite), and a controllable transformer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/clock.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse::testing {

class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
    std::int64_t NowMs() const override { return now_ms_.load(); }
    void Advance(std::int64_t ms) { now_ms_ += ms; }

private:
    std::atomic<std::int64_t> now_ms_;
};

class MemoryBlobStore final : public BlobStore {
public:
    Result<std::string> Put(std::string_view bytes) override;
    Result<std::string> Get(const std::string& id) const override;
    Result<bool> Exists(const std::string& id) const override;
    Status Remove(const std::string& id) override;
    std::size_t Count() const;
    // The next Put fails with this error (once).
    void FailNextPut(Error error);

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> blobs_;
    std::optional<Error> fail_next_put_;
};

// Inverts the image in `steps` steps. Each step can wait on a gate the test opens, so a test
// can hold a job "running" for as long as it needs.
class FakeTransformer final : public Transformer {
public:
    explicit FakeTransformer(std::string name = "fake", int steps = 3) : name_(std::move(name)), steps_(steps) {}

    std::string_view Name() const override { return name_; }
    BackendStatus Status() const override { return {available_.load(), available_ ? "" : "switched off by the test", {}}; }
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;
    int MaxConcurrency() const override { return concurrency_; }
    bool SupportsTextToImage() const override { return text_to_image_.load(); }

    // Text-to-image jobs then get a mid-grey image of the asked size (inverted like any other).
    void SetTextToImage(bool supported) { text_to_image_ = supported; }
    // Then every step also reports the input image as a preview.
    void SetPreviews(bool previews) { previews_ = previews; }
    void SetAvailable(bool available) { available_ = available; }
    void SetConcurrency(int concurrency) { concurrency_ = concurrency; }
    // While gated, each step waits for Release() (or cancellation).
    void SetGated(bool gated);
    void Release(int steps = 1);
    // Blocks until a transform is inside a step (running), up to the timeout.
    bool WaitUntilRunning(std::chrono::milliseconds timeout);
    void FailWith(std::optional<Error> error) {
        std::lock_guard lock(mutex_);
        fail_with_ = std::move(error);
    }
    int Calls() const { return calls_.load(); }

private:
    std::string name_;
    int steps_;
    int concurrency_ = 1;
    std::atomic<bool> available_{true};
    std::atomic<bool> text_to_image_{false};
    std::atomic<bool> previews_{false};
    std::atomic<int> calls_{0};
    std::mutex mutex_;
    std::condition_variable cv_;
    bool gated_ = false;
    int permits_ = 0;
    int running_ = 0;
    std::optional<Error> fail_with_;
};

}  // namespace labhouse::testing
