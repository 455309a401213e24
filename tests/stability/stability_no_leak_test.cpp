// The key must never be written anywhere: jobs run through the real submit/run path (SQLite
// repository, file blob store) against the fake, in every outcome, and then every log line, job
// record, status, metric and file on disk is searched for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "labhouse/adapters/fs/fs_blob_store.h"
#include "labhouse/adapters/inproc/inproc_event_bus.h"
#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "labhouse/adapters/stability/stability_transformer.h"
#include "labhouse/core/base/metrics.h"
#include "labhouse/core/usecases/job_runner.h"
#include "labhouse/core/usecases/submit_job.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/stability/fake_stability_server.h"
#include "tests/stability/stability_test_support.h"
#include "tests/testing/test_images.h"

namespace labhouse::stability::testing {
namespace {

using std::chrono::milliseconds;

std::string ReadAll(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string Describe(const Job& job) {
    std::string text = job.id + " " + std::string(JobStateName(job.state));
    if (job.error) text += " " + job.error->code + " " + job.error->message;
    for (const auto& [k, v] : job.result_meta) text += " " + k + "=" + v;
    text += " stage=" + job.progress.stage;
    return text;
}

TEST(StabilityNoLeak, TheKeyAppearsInNoLogRecordFileStatusOrMetric) {
    LogCapture logs;
    FakeStabilityServer fake;
    const std::string key = fake.api_key();
    labhouse::testing::TempDir dir;
    auto jobs = sqlite::SqliteJobRepository::Open((dir.path() / "jobs.db").string());
    ASSERT_TRUE(jobs) << jobs.error().message;
    auto blobs = fs::FsBlobStore::Open(dir.path() / "blobs");
    ASSERT_TRUE(blobs);
    imaging::OpenCvImageCodec codec;
    inproc::InprocEventBus events;
    inproc::InprocJobQueue queue;
    SystemClock clock;
    Metrics metrics;
    StabilityConfig config = TestConfig(fake);
    config.balance_cache_ttl = milliseconds(0);
    config.max_retries = 1;
    auto transformer = std::make_shared<StabilityTransformer>(config, codec);
    BackendRegistry registry;
    registry.Add(transformer);
    SubmitJob submit(**jobs, **blobs, codec, queue, events, registry, clock, SubmitLimits{});
    JobRunner runner(**jobs, **blobs, codec, events, registry, clock, &metrics, RunnerOptions{"w1", 60'000, {}, "test"});

    std::vector<std::string> ids;
    auto run = [&](const std::string& prompt, const std::string& engine,
                   const std::function<void()>& before_run = {}) -> std::string {
        SubmitRequest request;
        request.image_bytes = labhouse::testing::PngBytes(640, 480);
        request.params = PromptParams(prompt, engine);
        auto submitted = submit.Submit(request);
        EXPECT_TRUE(submitted) << (submitted ? "" : submitted.error().message);
        if (!submitted) return "";
        if (before_run) before_run();
        std::atomic<bool> shutdown{false};
        auto outcome = runner.RunNext(shutdown);
        EXPECT_TRUE(outcome) << (outcome ? "" : outcome.error().message);
        ids.push_back(submitted->job.id);
        return submitted->job.id;
    };

    const std::string ok_v1 = run("a harbour", "");
    const std::string ok_v2 = run("a harbour", "sd3.5-medium");
    fake.FailNext(Fault::kContentFiltered);
    const std::string filtered = run("a harbour", "");
    const std::string rejected = run("forbidden", "");
    fake.FailNext(Fault::kServerError, 2);  // the first try and the one retry
    const std::string exhausted = run("a harbour", "ultra");
    fake.FailNext(Fault::kOutOfCredits);
    const std::string broke = run("a harbour", "");
    // Revoked between submit and run; v1 401 bodies echo the key back.
    const std::string revoked = run("a harbour", "", [&] { fake.SetKeyRevoked(true); });

    // The key really was sent (so the search below means something) ...
    ASSERT_FALSE(fake.Requests("/v1/generation").empty());
    EXPECT_EQ(fake.Requests("/v1/generation").back().headers.at("Authorization"), "Bearer " + key);
    // ... and the jobs ended as the contract says.
    std::map<std::string, Job> by_id;
    for (const auto& id : ids) by_id[id] = *(*jobs)->Get(id);
    EXPECT_EQ(by_id[ok_v1].state, JobState::kSucceeded);
    EXPECT_EQ(by_id[ok_v2].state, JobState::kSucceeded);
    EXPECT_EQ(by_id[ok_v1].result_meta.at("backend"), "stability");
    EXPECT_EQ(by_id[filtered].error->code, "CONTENT_FILTERED");
    EXPECT_EQ(by_id[rejected].error->code, "INVALID_ARGUMENT");
    EXPECT_EQ(by_id[exhausted].error->code, "UNAVAILABLE");
    EXPECT_EQ(by_id[broke].error->code, "RESOURCE_EXHAUSTED");
    EXPECT_EQ(by_id[revoked].state, JobState::kFailed);
    EXPECT_TRUE(by_id[filtered].result_blob.empty());  // the blurred image is not kept

    std::string everything = logs.Text();
    for (const auto& [id, job] : by_id) everything += Describe(job) + "\n";
    const BackendStatus status = transformer->Status();
    EXPECT_FALSE(status.available);
    everything += status.reason;
    for (const auto& [k, v] : status.details) everything += k + "=" + v + "\n";
    everything += metrics.RenderPrometheus();
    everything += config.ToString();
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
        if (entry.is_regular_file()) everything += ReadAll(entry.path());
    }
    EXPECT_GT(logs.Count("stability_request"), 7);
    EXPECT_EQ(everything.find(key), std::string::npos);
    EXPECT_EQ(everything.find(key.substr(3, 12)), std::string::npos);  // not even a fragment
}

}  // namespace
}  // namespace labhouse::stability::testing
