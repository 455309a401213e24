#include "labhouse/core/usecases/job_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "labhouse/core/base/log.h"

namespace labhouse {
namespace {

const std::vector<double> kDurationBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

// Reports progress to the repository (which renews the lease) and the event bus, and keeps the
// lease alive from a background thread while a long step runs.
class LeasedReporter final : public ProgressReporter {
public:
    LeasedReporter(JobRepository& jobs, EventBus& events, const ImageCodec& codec, const Clock& clock, const Job& job,
                   const RunnerOptions& options, const std::atomic<bool>& shutdown)
        : jobs_(jobs),
          events_(events),
          codec_(codec),
          clock_(clock),
          job_(job),
          options_(options),
          shutdown_(shutdown),
          last_progress_(job.progress) {
        heartbeat_ = std::thread([this] { HeartbeatLoop(); });
    }
    ~LeasedReporter() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        heartbeat_.join();
    }

    void Report(const JobProgress& progress) override {
        auto status = jobs_.ReportProgress(job_.id, options_.worker_id, progress, clock_.NowMs() + options_.lease_ms);
        Absorb(status);
        {
            std::lock_guard lock(mutex_);
            last_progress_ = progress;
        }
        events_.Publish({job_.id, JobState::kRunning, progress, std::nullopt});
    }

    void ReportPreview(const Image& preview) override {
        // Quality 80: a 512x512 preview is ~30 KB, small enough for every SSE listener and Redis.
        auto jpeg = codec_.EncodeJpeg(preview, 80);
        if (!jpeg) {
            Log(LogLevel::kWarn, "preview_dropped", {{"job_id", job_.id}, {"reason", jpeg.error().message}});
            return;
        }
        JobEvent event{job_.id, JobState::kRunning, {}, std::nullopt, std::move(*jpeg)};
        {
            std::lock_guard lock(mutex_);
            event.progress = last_progress_;
        }
        events_.Publish(event);
    }

    bool CancelRequested() override { return cancel_requested_ || lease_lost_ || shutdown_.load(); }
    bool UserCanceled() const { return cancel_requested_; }
    bool LeaseLost() const { return lease_lost_; }

private:
    void Absorb(const Result<LeaseStatus>& status) {
        if (status) {
            if (status->cancel_requested) cancel_requested_ = true;
        } else if (status.error().code == ErrorCode::kFailedPrecondition ||
                   status.error().code == ErrorCode::kNotFound) {
            lease_lost_ = true;
        }
    }

    void HeartbeatLoop() {
        const auto period = std::chrono::milliseconds(std::max<std::int64_t>(options_.lease_ms / 4, 50));
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
            lock.unlock();
            Absorb(jobs_.ExtendLease(job_.id, options_.worker_id, clock_.NowMs() + options_.lease_ms));
            lock.lock();
        }
    }

    JobRepository& jobs_;
    EventBus& events_;
    const ImageCodec& codec_;
    const Clock& clock_;
    const Job& job_;
    const RunnerOptions& options_;
    const std::atomic<bool>& shutdown_;
    std::atomic<bool> cancel_requested_{false};
    std::atomic<bool> lease_lost_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    JobProgress last_progress_;  // guarded by mutex_
    std::thread heartbeat_;
};

std::string FormatDouble(double value) {
    std::string s = std::to_string(value);
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

JobRunner::JobRunner(JobRepository& jobs, BlobStore& blobs, const ImageCodec& codec, EventBus& events,
                     const BackendRegistry& backends, const Clock& clock, Metrics* metrics, RunnerOptions options)
    : jobs_(jobs),
      blobs_(blobs),
      codec_(codec),
      events_(events),
      backends_(backends),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

Result<RunOutcome> JobRunner::RunNext(const std::atomic<bool>& shutdown) {
    ClaimRequest claim{options_.worker_id, clock_.NowMs(), options_.lease_ms, options_.backends};
    LABHOUSE_ASSIGN_OR_RETURN(std::optional<Job> job, jobs_.ClaimNext(claim));
    if (!job) return RunOutcome::kIdle;
    return Execute(std::move(*job), shutdown);
}

Result<TransformOutput> JobRunner::Transform(const Job& job, Transformer& backend, ProgressReporter& reporter) {
    // A text-to-image job has no input blob: the backend gets an empty image and the job's size.
    Image input;
    if (job.params.kind == JobKind::kImageToImage) {
        LABHOUSE_ASSIGN_OR_RETURN(std::string input_bytes, blobs_.Get(job.input_blob));
        LABHOUSE_ASSIGN_OR_RETURN(input, codec_.Decode(input_bytes));
    } else if (!backend.SupportsTextToImage()) {
        return FailedPrecondition("backend '" + job.params.backend + "' cannot make an image from text alone");
    }
    std::map<std::string, Image> extra_images;
    for (const auto& [name, value] : job.params.options) {
        if (name.size() < 6 || name.substr(name.size() - 6) != "_image") continue;
        LABHOUSE_ASSIGN_OR_RETURN(std::string bytes, blobs_.Get(value));
        LABHOUSE_ASSIGN_OR_RETURN(extra_images[name], codec_.Decode(bytes));
    }
    const Style* style = job.params.style.empty() ? nullptr : FindStyle(job.params.style);
    TransformInput transform_input{input, job.params, style, extra_images};
    return backend.Transform(transform_input, reporter);
}

Status JobRunner::FinishWithRetry(const Job& job, JobState done_state, const std::string& result_blob,
                                  const std::function<Status()>& write, const std::atomic<bool>& shutdown) {
    const std::int64_t budget_ms = options_.final_write_retry_ms < 0 ? options_.lease_ms : options_.final_write_retry_ms;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
    auto pause = std::chrono::milliseconds(100);
    Status status = write();
    for (int retry = 1; !status && status.error().code == ErrorCode::kUnavailable; ++retry) {
        // A shutting-down worker tries once more, then leaves the job to its lease's expiry.
        if ((shutdown.load() && retry > 1) || std::chrono::steady_clock::now() + pause > deadline) break;
        Log(LogLevel::kWarn, "job_final_write_retry",
            {{"job_id", job.id}, {"retry", std::to_string(retry)}, {"reason", status.error().message}});
        if (metrics_ != nullptr) {
            metrics_->IncrementCounter("labhouse_job_final_write_retries_total", {{"backend", job.params.backend}});
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(2000));
        status = write();
        if (!status && status.error().code == ErrorCode::kFailedPrecondition) {
            // The attempt that answered kUnavailable may have committed (a PostgreSQL commit in doubt).
            auto now = jobs_.Get(job.id);
            if (now && now->state == done_state && now->result_blob == result_blob) return OkStatus();
        }
    }
    if (!status && status.error().code == ErrorCode::kUnavailable) {
        Log(LogLevel::kError, "job_final_write_gave_up",
            {{"job_id", job.id}, {"state", std::string(JobStateName(done_state))}, {"reason", status.error().message}});
    }
    return status;
}

Result<RunOutcome> JobRunner::Execute(Job job, const std::atomic<bool>& shutdown) {
    const std::int64_t started_ms = clock_.NowMs();
    const LogFields ids = {{"job_id", job.id}, {"backend", job.params.backend}, {"worker", options_.worker_id}};
    Log(LogLevel::kInfo, "job_started",
        {{"job_id", job.id}, {"backend", job.params.backend}, {"attempt", std::to_string(job.attempts)}});
    events_.Publish({job.id, JobState::kRunning, job.progress, std::nullopt});

    auto finish = [&](RunOutcome outcome, const std::string& state_label) -> Result<RunOutcome> {
        if (metrics_ != nullptr) {
            const double seconds = (clock_.NowMs() - started_ms) / 1000.0;
            metrics_->Observe("labhouse_job_duration_seconds", {{"backend", job.params.backend}, {"state", state_label}},
                              seconds, kDurationBuckets);
        }
        return outcome;
    };
    auto fail = [&](const Error& error) -> Result<RunOutcome> {
        JobError job_error{error.Name(), error.message};
        Log(LogLevel::kWarn, "job_failed",
            {{"job_id", job.id}, {"code", job_error.code}, {"message", job_error.message}});
        LABHOUSE_RETURN_IF_ERROR(FinishWithRetry(
            job, JobState::kFailed, "",
            [&] { return jobs_.MarkFailed(job.id, options_.worker_id, job_error, clock_.NowMs()); }, shutdown));
        events_.Publish({job.id, JobState::kFailed, job.progress, job_error});
        return finish(RunOutcome::kFailed, "failed");
    };

    auto mark_canceled = [&] {
        return FinishWithRetry(
            job, JobState::kCanceled, "", [&] { return jobs_.MarkCanceled(job.id, options_.worker_id, clock_.NowMs()); },
            shutdown);
    };

    Transformer* backend = backends_.Find(job.params.backend);
    if (backend == nullptr) {
        return fail(FailedPrecondition("backend '" + job.params.backend + "' is not configured in this worker"));
    }

    Result<TransformOutput> output = Internal("not run");
    bool user_canceled = false;
    bool lease_lost = false;
    {
        LeasedReporter reporter(jobs_, events_, codec_, clock_, job, options_, shutdown);
        try {
            output = Transform(job, *backend, reporter);
        } catch (const std::exception& e) {  // the worker's firewall: a throwing backend fails one job
            output = Internal(std::string("backend threw: ") + e.what());
        }
        user_canceled = reporter.UserCanceled();
        lease_lost = reporter.LeaseLost();
    }

    if (lease_lost) {
        Log(LogLevel::kWarn, "job_lease_lost", ids);
        return finish(RunOutcome::kLeaseLost, "lease_lost");
    }
    if (!output && output.error().code == ErrorCode::kCancelled) {
        if (user_canceled) {
            LABHOUSE_RETURN_IF_ERROR(mark_canceled());
            Log(LogLevel::kInfo, "job_canceled", ids);
            events_.Publish({job.id, JobState::kCanceled, job.progress, std::nullopt});
            return finish(RunOutcome::kCanceled, "canceled");
        }
        if (shutdown.load()) {
            LABHOUSE_RETURN_IF_ERROR(FinishWithRetry(
                job, JobState::kQueued, "", [&] { return jobs_.Release(job.id, options_.worker_id); }, shutdown));
            Log(LogLevel::kInfo, "job_released", ids);
            events_.Publish({job.id, JobState::kQueued, JobProgress{"queued", 0, 0, 0}, std::nullopt});
            return finish(RunOutcome::kReleased, "released");
        }
    }
    if (!output) return fail(output.error());
    // A cancel that arrived during the last step has had no step left to stop at: honour it now,
    // before the result is stored, rather than report a job the user canceled as succeeded.
    if (auto lease = jobs_.ExtendLease(job.id, options_.worker_id, clock_.NowMs() + options_.lease_ms);
        lease && lease->cancel_requested) {
        LABHOUSE_RETURN_IF_ERROR(mark_canceled());
        Log(LogLevel::kInfo, "job_canceled", ids);
        events_.Publish({job.id, JobState::kCanceled, job.progress, std::nullopt});
        return finish(RunOutcome::kCanceled, "canceled");
    }

    std::map<std::string, std::string> meta = output->meta;
    meta["backend"] = job.params.backend;
    meta["engine_version"] = options_.engine_version;
    if (!job.params.style.empty()) meta["style"] = job.params.style;
    if (!job.params.prompt.empty() && !meta.count("prompt")) meta["prompt"] = job.params.prompt;
    if (job.params.strength && !meta.count("strength")) meta["strength"] = FormatDouble(*job.params.strength);
    meta["job_id"] = job.id;
    meta["duration_ms"] = std::to_string(clock_.NowMs() - started_ms);

    std::map<std::string, std::string> png_text;
    for (const auto& [k, v] : meta) png_text["labhouse:" + k] = v;
    auto png = codec_.EncodePng(output->image, png_text);
    if (!png) return fail(png.error());
    auto blob = blobs_.Put(*png);
    // A full disk or a storage outage fails the job cleanly: no result row points at a partial file.
    if (!blob) return fail(blob.error());
    if (options_.after_result_stored) options_.after_result_stored();
    LABHOUSE_RETURN_IF_ERROR(FinishWithRetry(
        job, JobState::kSucceeded, *blob,
        [&] { return jobs_.MarkSucceeded(job.id, options_.worker_id, *blob, meta, clock_.NowMs()); }, shutdown));
    Log(LogLevel::kInfo, "job_succeeded",
        {{"job_id", job.id}, {"backend", job.params.backend}, {"duration_ms", meta["duration_ms"]}});
    JobProgress done{"done", job.progress.total, job.progress.total, 0};
    events_.Publish({job.id, JobState::kSucceeded, done, std::nullopt});
    return finish(RunOutcome::kSucceeded, "succeeded");
}

}  // namespace labhouse
