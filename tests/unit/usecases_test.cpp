// SubmitJob, CancelJob and JobRunner against fakes (clock, blobs, transformer), the in-process
// bus and queue, and an SQLite repository in a temp dir.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "labhouse/adapters/inproc/inproc_event_bus.h"
#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "labhouse/core/usecases/cancel_job.h"
#include "labhouse/core/usecases/job_runner.h"
#include "labhouse/core/usecases/submit_job.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/testing/fakes.h"
#include "tests/testing/test_images.h"

namespace labhouse {
namespace {

using namespace std::chrono_literals;

// A real repository whose MarkSucceeded answers kUnavailable `failures` times: as a database
// that is down (the write did not happen) or, with `commit_anyway`, as a PostgreSQL commit whose
// reply was lost (the write happened).
class FlakyFinishRepository final : public JobRepository {
public:
    explicit FlakyFinishRepository(JobRepository& real) : real_(real) {}
    int failures = 0;
    bool commit_anyway = false;
    int mark_succeeded_calls = 0;

    Status MarkSucceeded(const std::string& id, const std::string& worker_id, const std::string& result_blob,
                         const std::map<std::string, std::string>& result_meta, std::int64_t now_ms) override {
        ++mark_succeeded_calls;
        if (failures > 0) {
            --failures;
            if (commit_anyway) LABHOUSE_RETURN_IF_ERROR(real_.MarkSucceeded(id, worker_id, result_blob, result_meta, now_ms));
            return Unavailable("PostgreSQL connection lost: server closed the connection unexpectedly");
        }
        return real_.MarkSucceeded(id, worker_id, result_blob, result_meta, now_ms);
    }

    using JobRepository::Create;
    Result<std::pair<Job, bool>> Create(const Job& job, const std::optional<CreateQuota>& quota) override {
        return real_.Create(job, quota);
    }
    Result<Job> Get(const std::string& id) const override { return real_.Get(id); }
    Result<JobPage> List(const JobListQuery& query) const override { return real_.List(query); }
    Result<std::map<JobState, std::int64_t>> CountByState() const override { return real_.CountByState(); }
    Result<std::int64_t> QueuePosition(const std::string& id) const override { return real_.QueuePosition(id); }
    Result<std::optional<Job>> ClaimNext(const ClaimRequest& request) override { return real_.ClaimNext(request); }
    Result<LeaseStatus> ReportProgress(const std::string& id, const std::string& worker_id, const JobProgress& progress,
                                       std::int64_t lease_until_ms) override {
        return real_.ReportProgress(id, worker_id, progress, lease_until_ms);
    }
    Result<LeaseStatus> ExtendLease(const std::string& id, const std::string& worker_id,
                                    std::int64_t lease_until_ms) override {
        return real_.ExtendLease(id, worker_id, lease_until_ms);
    }
    Status MarkFailed(const std::string& id, const std::string& worker_id, const JobError& error,
                      std::int64_t now_ms) override {
        return real_.MarkFailed(id, worker_id, error, now_ms);
    }
    Status MarkCanceled(const std::string& id, const std::string& worker_id, std::int64_t now_ms) override {
        return real_.MarkCanceled(id, worker_id, now_ms);
    }
    Status Release(const std::string& id, const std::string& worker_id) override { return real_.Release(id, worker_id); }
    Result<Job> RequestCancel(const std::string& id, std::int64_t now_ms) override {
        return real_.RequestCancel(id, now_ms);
    }
    Result<std::vector<std::string>> RecoverExpired(std::int64_t now_ms, bool all_running) override {
        return real_.RecoverExpired(now_ms, all_running);
    }
    Result<std::vector<std::string>> Delete(const std::string& id) override { return real_.Delete(id); }
    Result<bool> BlobInUse(const std::string& blob_id) const override { return real_.BlobInUse(blob_id); }
    Result<std::int64_t> CountCreatedSince(const std::string& owner, std::int64_t since_ms) const override {
        return real_.CountCreatedSince(owner, since_ms);
    }

private:
    JobRepository& real_;
};

class UseCaseTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto repo = sqlite::SqliteJobRepository::Open((dir_.path() / "jobs.db").string());
        ASSERT_TRUE(repo);
        repo_ = std::move(*repo);
        fake_ = std::make_shared<testing::FakeTransformer>("fake", 3);
        spare_ = std::make_shared<testing::FakeTransformer>("spare", 1);
        backends_.Add(fake_);
        backends_.Add(spare_);
        submit_ = std::make_unique<SubmitJob>(*repo_, blobs_, codec_, queue_, events_, backends_, clock_,
                                              SubmitLimits{200'000, 1'000'000, 3});
        runner_ = std::make_unique<JobRunner>(*repo_, blobs_, codec_, events_, backends_, clock_, &metrics_,
                                              RunnerOptions{"worker-1", 60'000, {}, "test"});
    }

    SubmitRequest Request(const std::string& backend = "fake") {
        SubmitRequest request;
        request.image_bytes = testing::PngBytes(48, 32);
        request.params.backend = backend;
        request.params.prompt = "a lighthouse";
        return request;
    }

    Job SubmitOk(SubmitRequest request) {
        auto result = submit_->Submit(std::move(request));
        EXPECT_TRUE(result) << (result ? "" : result.error().message);
        return result ? result->job : Job{};
    }

    testing::TempDir dir_;
    std::unique_ptr<sqlite::SqliteJobRepository> repo_;
    testing::MemoryBlobStore blobs_;
    imaging::OpenCvImageCodec codec_;
    inproc::InprocJobQueue queue_;
    inproc::InprocEventBus events_;
    testing::ManualClock clock_;
    Metrics metrics_;
    BackendRegistry backends_;
    std::shared_ptr<testing::FakeTransformer> fake_;
    std::shared_ptr<testing::FakeTransformer> spare_;
    std::unique_ptr<SubmitJob> submit_;
    std::unique_ptr<JobRunner> runner_;
    std::atomic<bool> shutdown_{false};

    std::unique_ptr<JobRunner> RunnerOn(JobRepository& jobs, RunnerOptions options) {
        return std::make_unique<JobRunner>(jobs, blobs_, codec_, events_, backends_, clock_, &metrics_,
                                           std::move(options));
    }
    std::string RetriesCounted() {
        const std::string text = metrics_.RenderPrometheus();
        const std::string series = "labhouse_job_final_write_retries_total{backend=\"fake\"} ";
        const auto at = text.find(series);
        return at == std::string::npos ? "0" : text.substr(at + series.size(), text.find('\n', at) - at - series.size());
    }
};

TEST_F(UseCaseTest, SubmitStoresANormalizedPngAndQueuesTheJob) {
    auto request = Request();
    request.image_bytes = testing::JpegBytes(48, 32);
    const Job job = SubmitOk(request);
    EXPECT_EQ(job.state, JobState::kQueued);
    EXPECT_EQ(job.params.backend, "fake");
    auto stored = blobs_.Get(job.input_blob);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->substr(1, 3), "PNG") << "uploads are re-encoded, dropping EXIF and other metadata";
    EXPECT_EQ(queue_.Wait(0ms), job.id) << "workers are told";
}

TEST_F(UseCaseTest, SubmitRejectsBadParametersBeforeStoringAnything) {
    auto bad_strength = Request();
    bad_strength.params.strength = 1.5;
    EXPECT_EQ(submit_->Submit(bad_strength).error().code, ErrorCode::kInvalidArgument);
    auto bad_style = Request();
    bad_style.params.style = "vaporwave";
    EXPECT_EQ(submit_->Submit(bad_style).error().code, ErrorCode::kInvalidArgument);
    auto unknown_backend = Request("dalle");
    auto error = submit_->Submit(unknown_backend).error();
    EXPECT_EQ(error.code, ErrorCode::kInvalidArgument);
    EXPECT_NE(error.message.find("fake"), std::string::npos) << "lists the known backends";
    auto refused = Request();
    refused.params.prompt = "invalid-for-fake";
    EXPECT_EQ(submit_->Submit(refused).error().code, ErrorCode::kInvalidArgument);
    auto not_image = Request();
    not_image.image_bytes = "just some text";
    EXPECT_EQ(submit_->Submit(not_image).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(blobs_.Count(), 0u);
    EXPECT_EQ(repo_->CountByState()->at(JobState::kQueued), 0);
}

TEST_F(UseCaseTest, BackendsSeeUploadedExtraImagesWhenValidating) {
    auto request = Request();
    request.params.prompt = "needs-reference";
    EXPECT_EQ(submit_->Submit(request).error().code, ErrorCode::kInvalidArgument);
    request.extra_images["reference_image"] = testing::PngBytes(20, 20);
    const Job job = SubmitOk(request);
    ASSERT_TRUE(job.params.options.count("reference_image"));
    EXPECT_TRUE(blobs_.Get(job.params.options.at("reference_image"))) << "stored under its blob id";
    request.extra_images["evil"] = "x";
    EXPECT_EQ(submit_->Submit(request).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(UseCaseTest, SubmitEnforcesByteAndPixelLimits) {
    auto big = Request();
    big.image_bytes = testing::PngBytes(1200, 1000);  // > 1 megapixel limit of this fixture
    EXPECT_EQ(submit_->Submit(big).error().code, ErrorCode::kPayloadTooLarge);
    auto heavy = Request();
    heavy.image_bytes = std::string(300'000, 'x');
    EXPECT_EQ(submit_->Submit(heavy).error().code, ErrorCode::kPayloadTooLarge);
}

TEST_F(UseCaseTest, UnavailableBackendIsRefusedAndAutoFallsBack) {
    fake_->SetAvailable(false);
    auto refused = submit_->Submit(Request("fake"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.error().message.find("switched off"), std::string::npos);
    EXPECT_EQ(SubmitOk(Request("auto")).params.backend, "spare");
}

TEST_F(UseCaseTest, IdempotencyKeyReplaysAndDetectsReuse) {
    auto request = Request();
    request.idempotency_key = "abc";
    const Job first = SubmitOk(request);
    auto replay = submit_->Submit(request);
    ASSERT_TRUE(replay);
    EXPECT_FALSE(replay->created);
    EXPECT_EQ(replay->job.id, first.id);
    request.params.prompt = "something else";
    EXPECT_EQ(submit_->Submit(request).error().code, ErrorCode::kAlreadyExists);
}

TEST_F(UseCaseTest, RunnerCompletesAJobWithResultAndReproducibilityText) {
    auto subscription = events_.Subscribe("");
    const Job job = SubmitOk(Request());
    auto outcome = runner_->RunNext(shutdown_);
    ASSERT_TRUE(outcome);
    EXPECT_EQ(*outcome, RunOutcome::kSucceeded);
    auto done = repo_->Get(job.id);
    EXPECT_EQ(done->state, JobState::kSucceeded);
    EXPECT_EQ(done->result_meta.at("seed"), "42");
    EXPECT_EQ(done->result_meta.at("backend"), "fake");
    auto png = blobs_.Get(done->result_blob);
    ASSERT_TRUE(png);
    auto text = imaging::ReadPngText(*png);
    EXPECT_EQ(text["labhouse:seed"], "42");
    EXPECT_EQ(text["labhouse:prompt"], "a lighthouse");
    auto decoded = codec_.Decode(*png);
    auto input = codec_.Decode(*blobs_.Get(job.input_blob));
    ASSERT_TRUE(decoded && input);
    EXPECT_EQ(decoded->rgb[0], 255 - input->rgb[0]) << "the fake inverts";
    int progress_events = 0;
    while (auto event = subscription->Next(10ms)) {
        if (event->state == JobState::kRunning && event->progress.stage == "invert") ++progress_events;
    }
    EXPECT_EQ(progress_events, 3);
    EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kIdle);
}

TEST_F(UseCaseTest, PreviewsReachListenersAsJpegEventsAndAreNotStored) {
    fake_->SetPreviews(true);
    auto subscription = events_.Subscribe("");
    const Job job = SubmitOk(Request());
    const std::size_t blobs_before = blobs_.Count();
    ASSERT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kSucceeded);
    std::vector<JobEvent> previews;
    while (auto event = subscription->Next(10ms)) {
        if (!event->preview_jpeg.empty()) previews.push_back(*event);
    }
    ASSERT_EQ(previews.size(), 3u);
    for (std::size_t i = 0; i < previews.size(); ++i) {
        EXPECT_EQ(previews[i].job_id, job.id);
        EXPECT_EQ(previews[i].state, JobState::kRunning);
        EXPECT_EQ(previews[i].progress.step, static_cast<int>(i) + 1) << "carries the step it follows";
        auto info = codec_.Probe(previews[i].preview_jpeg);
        ASSERT_TRUE(info) << info.error().message;
        EXPECT_EQ(info->format, "jpeg");
        EXPECT_EQ(info->width, 48);
        EXPECT_EQ(info->height, 32);
    }
    EXPECT_EQ(blobs_.Count(), blobs_before + 1) << "only the result is stored, no preview";
}

SubmitRequest TextToImage(const std::string& backend, int width = 64, int height = 80) {
    SubmitRequest request;
    request.params.kind = JobKind::kTextToImage;
    request.params.backend = backend;
    request.params.prompt = "a lighthouse at night";
    request.params.width = width;
    request.params.height = height;
    return request;
}

TEST_F(UseCaseTest, TextToImageJobHasNoInputAndRunsAtTheAskedSize) {
    fake_->SetTextToImage(true);
    const Job job = SubmitOk(TextToImage("fake", 64, 80));
    EXPECT_EQ(job.params.kind, JobKind::kTextToImage);
    EXPECT_TRUE(job.input_blob.empty());
    EXPECT_EQ(blobs_.Count(), 0u) << "nothing stored at submit";
    ASSERT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kSucceeded);
    auto done = repo_->Get(job.id);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->state, JobState::kSucceeded) << (done->error ? done->error->message : "");
    EXPECT_EQ(done->params.kind, JobKind::kTextToImage);
    EXPECT_EQ(done->params.width, 64);
    auto decoded = codec_.Decode(*blobs_.Get(done->result_blob));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->width, 64);
    EXPECT_EQ(decoded->height, 80);
}

TEST_F(UseCaseTest, TextToImageIsRefusedByBackendsThatCannotDoItNamingThem) {
    fake_->SetTextToImage(true);
    auto refused = submit_->Submit(TextToImage("spare"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.error().message.find("'spare'"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("fake"), std::string::npos) << "names those that can";
    // "auto" skips backends that cannot, and says so when none can.
    EXPECT_EQ(SubmitOk(TextToImage("auto")).params.backend, "fake");
    fake_->SetTextToImage(false);
    auto none = submit_->Submit(TextToImage("auto"));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(none.error().message.find("text-to-image"), std::string::npos) << none.error().message;
}

TEST_F(UseCaseTest, TextToImageValidatesSizeAndRefusesPhotoFields) {
    fake_->SetTextToImage(true);
    // kInternal stands for "accepted" here: Submit never returns it for these requests.
    auto code = [&](SubmitRequest request) {
        auto result = submit_->Submit(std::move(request));
        return result ? ErrorCode::kInternal : result.error().code;
    };
    auto no_height = TextToImage("fake");
    no_height.params.height.reset();
    EXPECT_EQ(code(no_height), ErrorCode::kInvalidArgument);
    EXPECT_EQ(code(TextToImage("fake", 63, 64)), ErrorCode::kInvalidArgument);
    EXPECT_EQ(code(TextToImage("fake", 64, 4096)), ErrorCode::kInvalidArgument);
    EXPECT_EQ(code(TextToImage("fake", 100, 64)), ErrorCode::kInvalidArgument) << "not a multiple of 8";
    auto with_image = TextToImage("fake");
    with_image.image_bytes = testing::PngBytes(8, 8);
    EXPECT_EQ(code(with_image), ErrorCode::kInvalidArgument);
    auto with_strength = TextToImage("fake");
    with_strength.params.strength = 0.5;
    EXPECT_EQ(code(with_strength), ErrorCode::kInvalidArgument);
    auto no_prompt = TextToImage("fake");
    no_prompt.params.prompt.clear();
    EXPECT_EQ(code(no_prompt), ErrorCode::kInvalidArgument);
    auto sized_photo = Request();
    sized_photo.params.width = 64;
    EXPECT_EQ(code(sized_photo), ErrorCode::kInvalidArgument) << "a photo job keeps the photo's size";
    EXPECT_EQ(code(TextToImage("fake", 2048, 64)), ErrorCode::kInternal) << "accepted";
}

TEST_F(UseCaseTest, BackendErrorsFailTheJobWithTheirReason) {
    Error no_face = FailedPrecondition("no face in the photo");
    no_face.reason = "NO_FACE";
    fake_->FailWith(no_face);
    const Job job = SubmitOk(Request());
    EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kFailed);
    auto failed = repo_->Get(job.id);
    EXPECT_EQ(failed->state, JobState::kFailed);
    EXPECT_EQ(failed->error->code, "NO_FACE");
}

TEST_F(UseCaseTest, CancelStopsARunningJobAtTheNextStep) {
    fake_->SetGated(true);
    const Job job = SubmitOk(Request());
    std::thread worker([&] { EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kCanceled); });
    ASSERT_TRUE(fake_->WaitUntilRunning(5s));
    CancelJob cancel(*repo_, events_, clock_);
    auto requested = cancel.Cancel(job.id);
    ASSERT_TRUE(requested);
    EXPECT_TRUE(requested->cancel_requested);
    fake_->Release(1);  // the next progress report carries the cancel flag back
    worker.join();
    EXPECT_EQ(repo_->Get(job.id)->state, JobState::kCanceled);
    EXPECT_EQ(cancel.Cancel(job.id).error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(UseCaseTest, ACancelDuringTheLastStepStillCancels) {
    fake_->SetGated(true);
    const Job job = SubmitOk(Request());
    std::thread worker([&] { EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kCanceled); });
    fake_->Release(2);  // steps 1 and 2 run
    ASSERT_TRUE(fake_->WaitUntilRunning(5s));
    std::this_thread::sleep_for(50ms);  // the worker now waits inside its last step
    ASSERT_TRUE(CancelJob(*repo_, events_, clock_).Cancel(job.id));
    fake_->Release(1);  // the last step finishes without another progress check
    worker.join();
    auto canceled = repo_->Get(job.id);
    EXPECT_EQ(canceled->state, JobState::kCanceled);
    EXPECT_TRUE(canceled->result_blob.empty());
}

TEST_F(UseCaseTest, ShutdownReturnsARunningJobToTheQueue) {
    fake_->SetGated(true);
    const Job job = SubmitOk(Request());
    std::thread worker([&] { EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kReleased); });
    ASSERT_TRUE(fake_->WaitUntilRunning(5s));
    shutdown_ = true;
    worker.join();
    auto queued = repo_->Get(job.id);
    EXPECT_EQ(queued->state, JobState::kQueued);
    EXPECT_EQ(queued->attempts, 0) << "a shutdown is not the job's fault";
}

TEST_F(UseCaseTest, AWorkerThatLostItsLeaseDoesNotFinishTheJob) {
    fake_->SetGated(true);
    const Job job = SubmitOk(Request());
    std::thread worker([&] { EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kLeaseLost); });
    ASSERT_TRUE(fake_->WaitUntilRunning(5s));
    clock_.Advance(120'000);
    ASSERT_TRUE(repo_->RecoverExpired(clock_.NowMs(), false));
    fake_->Release(3);
    worker.join();
    auto requeued = repo_->Get(job.id);
    EXPECT_EQ(requeued->state, JobState::kQueued);
    EXPECT_TRUE(requeued->result_blob.empty());
}

TEST_F(UseCaseTest, AFailedResultWriteFailsTheJobCleanly) {
    const Job job = SubmitOk(Request());
    blobs_.FailNextPut(ResourceExhausted("disk full"));
    EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kFailed);
    auto failed = repo_->Get(job.id);
    EXPECT_EQ(failed->state, JobState::kFailed);
    EXPECT_EQ(failed->error->code, "RESOURCE_EXHAUSTED");
    EXPECT_TRUE(failed->result_blob.empty());
}

TEST_F(UseCaseTest, AFinalWriteBlockedPastTheBusyTimeoutIsRetriedNotThrownAway) {
    // Another process takes SQLite's write lock right after the result is stored and keeps it
    // longer than the 5 s busy timeout: the first MarkSucceeded gives up, a retry goes through.
    const Job job = SubmitOk(Request());
    const std::string db_path = (dir_.path() / "jobs.db").string();
    sqlite3* other = nullptr;
    std::thread unlocker;
    RunnerOptions options{"worker-1", 60'000, {}, "test"};
    options.after_result_stored = [&] {
        ASSERT_EQ(sqlite3_open(db_path.c_str(), &other), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
        unlocker = std::thread([&] {
            std::this_thread::sleep_for(6500ms);
            sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
            sqlite3_close(other);
        });
    };
    auto runner = RunnerOn(*repo_, options);
    auto outcome = runner->RunNext(shutdown_);
    unlocker.join();
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, RunOutcome::kSucceeded);
    auto done = repo_->Get(job.id);
    EXPECT_EQ(done->state, JobState::kSucceeded);
    EXPECT_EQ(done->attempts, 1) << "the run was not repeated";
    EXPECT_FALSE(done->result_blob.empty());
    EXPECT_NE(RetriesCounted(), "0");
}

TEST_F(UseCaseTest, AFinalWriteThatCommittedButAnsweredUnavailableIsNotRepeated) {
    const Job job = SubmitOk(Request());
    FlakyFinishRepository flaky(*repo_);
    flaky.failures = 1;
    flaky.commit_anyway = true;
    auto outcome = RunnerOn(flaky, {"worker-1", 60'000, {}, "test"})->RunNext(shutdown_);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, RunOutcome::kSucceeded);
    EXPECT_EQ(flaky.mark_succeeded_calls, 2);
    auto done = repo_->Get(job.id);
    EXPECT_EQ(done->state, JobState::kSucceeded);
    EXPECT_EQ(done->attempts, 1);
    EXPECT_EQ(RetriesCounted(), "1");
}

TEST_F(UseCaseTest, AFinalWriteThatNeverGoesThroughLeavesTheJobToItsLease) {
    const Job job = SubmitOk(Request());
    FlakyFinishRepository flaky(*repo_);
    flaky.failures = 1000;
    RunnerOptions options{"worker-1", 60'000, {}, "test"};
    options.final_write_retry_ms = 400;
    auto outcome = RunnerOn(flaky, options)->RunNext(shutdown_);
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code, ErrorCode::kUnavailable);
    EXPECT_GE(flaky.mark_succeeded_calls, 2);
    EXPECT_LE(flaky.mark_succeeded_calls, 4) << "retries back off";
    EXPECT_EQ(repo_->Get(job.id)->state, JobState::kRunning);
    // Nothing is lost: the lease expires, the job is queued again and the next run finishes it.
    clock_.Advance(120'000);
    ASSERT_TRUE(repo_->RecoverExpired(clock_.NowMs(), false));
    EXPECT_EQ(*runner_->RunNext(shutdown_), RunOutcome::kSucceeded);
    auto done = repo_->Get(job.id);
    EXPECT_EQ(done->state, JobState::kSucceeded);
    EXPECT_EQ(done->attempts, 2);
}

}  // namespace
}  // namespace labhouse
