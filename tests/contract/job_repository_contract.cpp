#include "tests/contract/job_repository_contract.h"

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>

#include "labhouse/core/base/ids.h"

namespace labhouse::testing {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
const std::string kBlobA(64, 'a');
const std::string kBlobB(64, 'b');

Job NewJob(const std::string& backend = "classic", std::int64_t created = kNow) {
    Job job;
    job.id = NewJobId();
    job.params.backend = backend;
    job.params.style = "cartoon";
    job.params.prompt = "a cat \"quoted\" ünïcode";
    job.params.strength = 0.35;
    job.params.steps = 4;
    job.params.seed = 4294967295LL;
    job.params.options["engine"] = "sd3.5-large";
    job.input_blob = kBlobA;
    job.created_ms = created;
    job.max_attempts = 2;
    return job;
}

Job CreateOk(JobRepository& repo, const Job& job) {
    auto created = repo.Create(job);
    EXPECT_TRUE(created.has_value()) << (created ? "" : created.error().message);
    return created ? created->first : Job{};
}

Job ClaimOk(JobRepository& repo, const std::string& worker, std::int64_t now = kNow, std::int64_t lease = 1000) {
    auto claimed = repo.ClaimNext({worker, now, lease, {}});
    EXPECT_TRUE(claimed.has_value());
    EXPECT_TRUE(claimed && claimed->has_value());
    return claimed && *claimed ? **claimed : Job{};
}

TEST_P(JobRepositoryContract, CreateThenGetRoundTripsEveryField) {
    const Job job = NewJob();
    const Job stored = CreateOk(*repo_, job);
    auto got = repo_->Get(job.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, job.id);
    EXPECT_EQ(got->state, JobState::kQueued);
    EXPECT_EQ(got->params, job.params);
    EXPECT_EQ(got->input_blob, kBlobA);
    EXPECT_EQ(got->created_ms, kNow);
    EXPECT_EQ(got->attempts, 0);
    EXPECT_EQ(got->max_attempts, 2);
    EXPECT_EQ(stored.id, job.id);
}

TEST_P(JobRepositoryContract, TextToImageJobsHaveNoInputBlobAndKeepTheirKindAndSize) {
    Job job = NewJob("sdxl");
    job.params.kind = JobKind::kTextToImage;
    job.params.strength.reset();
    job.params.width = 640;
    job.params.height = 448;
    job.input_blob.clear();
    CreateOk(*repo_, job);
    auto got = repo_->Get(job.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->params, job.params);
    EXPECT_EQ(got->params.kind, JobKind::kTextToImage);
    EXPECT_TRUE(got->input_blob.empty());
    EXPECT_EQ(NewJob().params.kind, JobKind::kImageToImage) << "the default";
    EXPECT_EQ(repo_->Get(CreateOk(*repo_, NewJob()).id)->params.kind, JobKind::kImageToImage);

    // Claimed and finished like any job; deleting it reports only the result blob.
    Job claimed = ClaimOk(*repo_, "w1");
    ASSERT_EQ(claimed.id, job.id);
    EXPECT_EQ(claimed.params.kind, JobKind::kTextToImage);
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {}, kNow + 1));
    auto blobs = repo_->Delete(job.id);
    ASSERT_TRUE(blobs);
    EXPECT_EQ(*blobs, std::vector<std::string>{kBlobB});

    // The kind and the input must agree.
    Job text_with_input = NewJob();
    text_with_input.params.kind = JobKind::kTextToImage;
    EXPECT_EQ(repo_->Create(text_with_input).error().code, ErrorCode::kInvalidArgument);
    Job photo_without_input = NewJob();
    photo_without_input.input_blob.clear();
    EXPECT_EQ(repo_->Create(photo_without_input).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(JobRepositoryContract, GetUnknownIsNotFound) {
    auto got = repo_->Get(NewJobId());
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
}

TEST_P(JobRepositoryContract, IdempotencyKeyReturnsTheSameJobAndRefusesAnotherRequest) {
    Job first = NewJob();
    first.idempotency_key = "key-1";
    first.request_fingerprint = "fp-1";
    CreateOk(*repo_, first);
    Job replay = NewJob();
    replay.idempotency_key = "key-1";
    replay.request_fingerprint = "fp-1";
    auto again = repo_->Create(replay);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->second);
    EXPECT_EQ(again->first.id, first.id);
    Job other = NewJob();
    other.idempotency_key = "key-1";
    other.request_fingerprint = "fp-2";
    auto conflict = repo_->Create(other);
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code, ErrorCode::kAlreadyExists);
    auto counts = repo_->CountByState();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->at(JobState::kQueued), 1);
}

TEST_P(JobRepositoryContract, ClaimTakesTheOldestAndLeasesIt) {
    const Job a = CreateOk(*repo_, NewJob("classic", kNow));
    const Job b = CreateOk(*repo_, NewJob("classic", kNow + 1));
    const Job first = ClaimOk(*repo_, "w1", kNow + 10, 5000);
    EXPECT_EQ(first.id, a.id);
    EXPECT_EQ(first.state, JobState::kRunning);
    EXPECT_EQ(first.attempts, 1);
    EXPECT_EQ(first.lease_owner, "w1");
    EXPECT_EQ(first.lease_expires_ms, kNow + 10 + 5000);
    EXPECT_EQ(first.started_ms, kNow + 10);
    EXPECT_EQ(ClaimOk(*repo_, "w2").id, b.id);
    auto none = repo_->ClaimNext({"w3", kNow, 1000, {}});
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TEST_P(JobRepositoryContract, ClaimHonoursTheBackendFilter) {
    CreateOk(*repo_, NewJob("classic", kNow));
    const Job remote = CreateOk(*repo_, NewJob("stability", kNow + 1));
    auto claimed = repo_->ClaimNext({"w", kNow, 1000, {"stability"}});
    ASSERT_TRUE(claimed && *claimed);
    EXPECT_EQ((*claimed)->id, remote.id);
    auto none = repo_->ClaimNext({"w", kNow, 1000, {"sdxl", "stability"}});
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TEST_P(JobRepositoryContract, OnlyTheLeaseHolderReportsProgressAndFinishes) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1");
    auto ok = repo_->ReportProgress(job.id, "w1", {"denoise", 2, 4, 1.5}, kNow + 9000);
    ASSERT_TRUE(ok);
    EXPECT_FALSE(ok->cancel_requested);
    auto got = repo_->Get(job.id);
    EXPECT_EQ(got->progress, (JobProgress{"denoise", 2, 4, 1.5}));
    EXPECT_EQ(got->lease_expires_ms, kNow + 9000);
    auto stranger = repo_->ReportProgress(job.id, "w2", {"x", 1, 1, 0}, kNow);
    ASSERT_FALSE(stranger);
    EXPECT_EQ(stranger.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_FALSE(repo_->MarkSucceeded(job.id, "w2", kBlobB, {}, kNow));
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {{"seed", "7"}}, kNow + 50));
    got = repo_->Get(job.id);
    EXPECT_EQ(got->state, JobState::kSucceeded);
    EXPECT_EQ(got->result_blob, kBlobB);
    EXPECT_EQ(got->result_meta.at("seed"), "7");
    EXPECT_EQ(got->finished_ms, kNow + 50);
    EXPECT_TRUE(got->lease_owner.empty());
    EXPECT_FALSE(repo_->MarkFailed(job.id, "w1", {"X", "y"}, kNow)) << "a finished job cannot finish twice";
}

TEST_P(JobRepositoryContract, FailureRecordsCodeAndMessage) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1");
    ASSERT_TRUE(repo_->MarkFailed(job.id, "w1", {"NO_FACE", "no face found"}, kNow + 5));
    auto got = repo_->Get(job.id);
    EXPECT_EQ(got->state, JobState::kFailed);
    ASSERT_TRUE(got->error.has_value());
    EXPECT_EQ(got->error->code, "NO_FACE");
    EXPECT_EQ(got->error->message, "no face found");
}

TEST_P(JobRepositoryContract, CancelQueuedIsImmediateRunningIsRequestedFinishedIsRefused) {
    const Job queued = CreateOk(*repo_, NewJob("classic", kNow));
    const Job running = CreateOk(*repo_, NewJob("classic", kNow + 1));
    auto canceled = repo_->RequestCancel(queued.id, kNow + 2);
    ASSERT_TRUE(canceled);
    EXPECT_EQ(canceled->state, JobState::kCanceled);
    EXPECT_EQ(canceled->finished_ms, kNow + 2);
    ClaimOk(*repo_, "w1");
    auto requested = repo_->RequestCancel(running.id, kNow + 3);
    ASSERT_TRUE(requested);
    EXPECT_EQ(requested->state, JobState::kRunning);
    EXPECT_TRUE(requested->cancel_requested);
    auto lease = repo_->ExtendLease(running.id, "w1", kNow + 5000);
    ASSERT_TRUE(lease);
    EXPECT_TRUE(lease->cancel_requested);
    ASSERT_TRUE(repo_->MarkCanceled(running.id, "w1", kNow + 4));
    auto again = repo_->RequestCancel(running.id, kNow + 5);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(repo_->RequestCancel(NewJobId(), kNow).error().code, ErrorCode::kNotFound);
}

TEST_P(JobRepositoryContract, ExpiredLeasesRequeueThenFailAfterMaxAttempts) {
    const Job job = CreateOk(*repo_, NewJob());  // max_attempts = 2
    ClaimOk(*repo_, "w1", kNow, 1000);
    auto early = repo_->RecoverExpired(kNow + 500, false);
    ASSERT_TRUE(early);
    EXPECT_TRUE(early->empty()) << "a live lease is left alone";
    auto recovered = repo_->RecoverExpired(kNow + 1001, false);
    ASSERT_TRUE(recovered);
    ASSERT_EQ(recovered->size(), 1u);
    auto got = repo_->Get(job.id);
    EXPECT_EQ(got->state, JobState::kQueued);
    EXPECT_EQ(got->attempts, 1);
    EXPECT_FALSE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {}, kNow)) << "the dead worker lost its lease";
    ClaimOk(*repo_, "w2", kNow + 2000, 1000);
    ASSERT_TRUE(repo_->RecoverExpired(kNow + 3001, false));
    got = repo_->Get(job.id);
    EXPECT_EQ(got->state, JobState::kFailed);
    EXPECT_EQ(got->attempts, 2);
    ASSERT_TRUE(got->error);
    EXPECT_EQ(got->error->code, "WORKER_LOST");
}

TEST_P(JobRepositoryContract, RecoverAllRunningIgnoresLeaseTimes) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1", kNow, 60'000);
    auto recovered = repo_->RecoverExpired(kNow, true);
    ASSERT_TRUE(recovered);
    EXPECT_EQ(recovered->size(), 1u);
    EXPECT_EQ(repo_->Get(job.id)->state, JobState::kQueued);
}

TEST_P(JobRepositoryContract, ReleaseRequeuesWithoutCountingTheAttempt) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1");
    ASSERT_TRUE(repo_->Release(job.id, "w1"));
    auto got = repo_->Get(job.id);
    EXPECT_EQ(got->state, JobState::kQueued);
    EXPECT_EQ(got->attempts, 0);
}

TEST_P(JobRepositoryContract, ListPagesNewestFirstAndFiltersByState) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(CreateOk(*repo_, NewJob("classic", kNow + i)).id);
    ClaimOk(*repo_, "w1");  // ids[0] running
    auto page1 = repo_->List({std::nullopt, 2, "", std::nullopt});
    ASSERT_TRUE(page1);
    ASSERT_EQ(page1->jobs.size(), 2u);
    EXPECT_EQ(page1->jobs[0].id, ids[4]);
    EXPECT_EQ(page1->jobs[1].id, ids[3]);
    ASSERT_FALSE(page1->next_cursor.empty());
    auto page2 = repo_->List({std::nullopt, 2, page1->next_cursor, std::nullopt});
    ASSERT_TRUE(page2);
    EXPECT_EQ(page2->jobs[0].id, ids[2]);
    auto page3 = repo_->List({std::nullopt, 2, page2->next_cursor, std::nullopt});
    ASSERT_TRUE(page3);
    ASSERT_EQ(page3->jobs.size(), 1u);
    EXPECT_EQ(page3->jobs[0].id, ids[0]);
    EXPECT_TRUE(page3->next_cursor.empty());
    auto running = repo_->List({JobState::kRunning, 10, "", std::nullopt});
    ASSERT_TRUE(running);
    ASSERT_EQ(running->jobs.size(), 1u);
    EXPECT_EQ(running->jobs[0].id, ids[0]);
    EXPECT_EQ(repo_->List({std::nullopt, 0, "", std::nullopt}).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(repo_->List({std::nullopt, 10, "not-a-cursor", std::nullopt}).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(JobRepositoryContract, CountsAndQueuePositions) {
    const Job a = CreateOk(*repo_, NewJob("classic", kNow));
    const Job b = CreateOk(*repo_, NewJob("classic", kNow + 1));
    const Job c = CreateOk(*repo_, NewJob("classic", kNow + 2));
    EXPECT_EQ(*repo_->QueuePosition(a.id), 0);
    EXPECT_EQ(*repo_->QueuePosition(c.id), 2);
    ClaimOk(*repo_, "w1");
    EXPECT_EQ(*repo_->QueuePosition(b.id), 0);
    EXPECT_EQ(repo_->QueuePosition(a.id).error().code, ErrorCode::kFailedPrecondition);
    auto counts = repo_->CountByState();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->at(JobState::kQueued), 2);
    EXPECT_EQ(counts->at(JobState::kRunning), 1);
    EXPECT_EQ(counts->at(JobState::kSucceeded), 0);
}

TEST_P(JobRepositoryContract, DeleteOnlyFinishedJobsAndReportTheirBlobs) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1");
    EXPECT_EQ(repo_->Delete(job.id).error().code, ErrorCode::kFailedPrecondition);
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {}, kNow));
    EXPECT_TRUE(*repo_->BlobInUse(kBlobB));
    auto blobs = repo_->Delete(job.id);
    ASSERT_TRUE(blobs);
    EXPECT_EQ(std::set<std::string>(blobs->begin(), blobs->end()), (std::set<std::string>{kBlobA, kBlobB}));
    EXPECT_EQ(repo_->Get(job.id).error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(*repo_->BlobInUse(kBlobB));
}

TEST_P(JobRepositoryContract, ConcurrentWorkersClaimEachJobExactlyOnce) {
    constexpr int kJobs = 40;
    for (int i = 0; i < kJobs; ++i) CreateOk(*repo_, NewJob("classic", kNow + i));
    std::mutex mutex;
    std::multiset<std::string> claimed;
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            while (true) {
                auto job = repo_->ClaimNext({"w" + std::to_string(w), kNow, 60000, {}});
                if (!job) continue;  // busy: try again
                if (!*job) return;
                std::lock_guard lock(mutex);
                claimed.insert((*job)->id);
            }
        });
    }
    for (auto& t : workers) t.join();
    EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kJobs));
    EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), static_cast<std::size_t>(kJobs));
}

// Owners (API keys): stored with the job, filter the list, and count toward daily quotas.
TEST_P(JobRepositoryContract, OwnerRoundTripsAndFiltersTheList) {
    Job mine = NewJob("classic", kNow);
    mine.owner = "key_a";
    Job theirs = NewJob("classic", kNow + 1);
    theirs.owner = "key_b";
    Job anonymous = NewJob("classic", kNow + 2);
    CreateOk(*repo_, mine);
    CreateOk(*repo_, theirs);
    CreateOk(*repo_, anonymous);
    EXPECT_EQ(repo_->Get(mine.id)->owner, "key_a");
    EXPECT_EQ(repo_->Get(anonymous.id)->owner, "");

    JobListQuery query;
    query.owner = "key_a";
    auto page = repo_->List(query);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->jobs.size(), 1u);
    EXPECT_EQ(page->jobs[0].id, mine.id);
    query.owner = "key_nobody";
    EXPECT_TRUE(repo_->List(query)->jobs.empty());
    query.owner.reset();
    EXPECT_EQ(repo_->List(query)->jobs.size(), 3u);
}

TEST_P(JobRepositoryContract, OwnerFilterPagesWithCursor) {
    for (int i = 0; i < 5; ++i) {
        Job job = NewJob("classic", kNow + i);
        job.owner = i % 2 == 0 ? "key_even" : "key_odd";
        CreateOk(*repo_, job);
    }
    JobListQuery query;
    query.owner = "key_even";
    query.limit = 2;
    auto first = repo_->List(query);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->jobs.size(), 2u);
    ASSERT_FALSE(first->next_cursor.empty());
    query.cursor = first->next_cursor;
    auto second = repo_->List(query);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->jobs.size(), 1u);
    EXPECT_TRUE(second->next_cursor.empty());
    for (const auto& job : second->jobs) EXPECT_EQ(job.owner, "key_even");
}

TEST_P(JobRepositoryContract, CountCreatedSinceCountsOneOwnersJobsInTheWindow) {
    for (int i = 0; i < 4; ++i) {
        Job job = NewJob("classic", kNow + i * 1000);
        job.owner = "key_q";
        CreateOk(*repo_, job);
    }
    Job other = NewJob("classic", kNow + 5000);
    other.owner = "key_r";
    CreateOk(*repo_, other);
    // Finished jobs still count: a quota limits submissions, not what is queued now.
    ClaimOk(*repo_, "w1", kNow + 6000);
    EXPECT_EQ(*repo_->CountCreatedSince("key_q", kNow), 4);
    EXPECT_EQ(*repo_->CountCreatedSince("key_q", kNow + 2000), 2);
    EXPECT_EQ(*repo_->CountCreatedSince("key_r", kNow), 1);
    EXPECT_EQ(*repo_->CountCreatedSince("key_none", 0), 0);
}

TEST_P(JobRepositoryContract, RecordWebhookDeliveryKeepsTheOtherMeta) {
    const Job job = CreateOk(*repo_, NewJob());
    ClaimOk(*repo_, "w1");
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {{"seed", "7"}}, kNow + 10));
    ASSERT_TRUE(repo_->RecordWebhookDelivery(job.id, R"({"outcome":"delivered","attempts":2})"));
    auto got = repo_->Get(job.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->result_meta.at("seed"), "7");
    EXPECT_EQ(got->result_meta.at("webhook"), R"({"outcome":"delivered","attempts":2})");
    ASSERT_TRUE(repo_->RecordWebhookDelivery(job.id, "second"));
    EXPECT_EQ(repo_->Get(job.id)->result_meta.at("webhook"), "second");
    EXPECT_EQ(repo_->RecordWebhookDelivery(NewJobId(), "x").error().code, ErrorCode::kNotFound);
}

// Webhook deliveries: due once a job with a webhook_url has ended, claimed by one node at a time,
// taken over when the claim runs out, settled by the record.
TEST_P(JobRepositoryContract, WebhookDeliveriesAreClaimedOnceAndSettledByTheRecord) {
    Job hooked = NewJob("classic", kNow);
    hooked.params.options["webhook_url"] = "https://hooks.example.com/labhouse";
    const Job job = CreateOk(*repo_, hooked);
    const Job plain = CreateOk(*repo_, NewJob("classic", kNow + 1));
    Job queued_hooked = NewJob("classic", kNow + 2);
    queued_hooked.params.options["webhook_url"] = "https://hooks.example.com/other";
    const Job canceled = CreateOk(*repo_, queued_hooked);
    EXPECT_TRUE(repo_->DueWebhookDeliveries(kNow, 10)->empty()) << "nothing has ended";
    EXPECT_FALSE(*repo_->ClaimWebhookDelivery(job.id, kNow, kNow + 1000)) << "the job is queued";

    ClaimOk(*repo_, "w1");
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {}, kNow + 10));
    ClaimOk(*repo_, "w2");
    ASSERT_TRUE(repo_->MarkFailed(plain.id, "w2", {"INTERNAL", "boom"}, kNow + 11));
    ASSERT_TRUE(repo_->RequestCancel(canceled.id, kNow + 12));
    EXPECT_EQ(*repo_->DueWebhookDeliveries(kNow, 10), (std::vector<std::string>{job.id, canceled.id}));
    EXPECT_EQ(*repo_->DueWebhookDeliveries(kNow, 1), (std::vector<std::string>{job.id}));

    EXPECT_TRUE(*repo_->ClaimWebhookDelivery(job.id, kNow, kNow + 1000));
    EXPECT_FALSE(*repo_->ClaimWebhookDelivery(job.id, kNow + 500, kNow + 1500)) << "another node holds it";
    EXPECT_EQ(*repo_->DueWebhookDeliveries(kNow + 500, 10), (std::vector<std::string>{canceled.id}));
    // The claim ran out (its node died): due again, and another node takes it.
    EXPECT_EQ(repo_->DueWebhookDeliveries(kNow + 1000, 10)->front(), job.id);
    EXPECT_TRUE(*repo_->ClaimWebhookDelivery(job.id, kNow + 1000, kNow + 2000));
    EXPECT_FALSE(*repo_->ClaimWebhookDelivery(plain.id, kNow, kNow + 1000)) << "no webhook_url";
    EXPECT_FALSE(*repo_->ClaimWebhookDelivery(NewJobId(), kNow, kNow + 1000));

    ASSERT_TRUE(repo_->RecordWebhookDelivery(job.id, R"({"outcome":"delivered"})"));
    EXPECT_FALSE(*repo_->ClaimWebhookDelivery(job.id, INT64_MAX, INT64_MAX)) << "settled";
    EXPECT_EQ(*repo_->DueWebhookDeliveries(INT64_MAX, 10), (std::vector<std::string>{canceled.id}));
}

TEST_P(JobRepositoryContract, ConcurrentNodesClaimAWebhookDeliveryExactlyOnce) {
    Job hooked = NewJob();
    hooked.params.options["webhook_url"] = "https://hooks.example.com/labhouse";
    const Job job = CreateOk(*repo_, hooked);
    ClaimOk(*repo_, "w1");
    ASSERT_TRUE(repo_->MarkSucceeded(job.id, "w1", kBlobB, {}, kNow + 10));
    std::atomic<int> won{0};
    std::vector<std::thread> nodes;
    for (int n = 0; n < 8; ++n) {
        nodes.emplace_back([&] {
            while (true) {
                auto claimed = repo_->ClaimWebhookDelivery(job.id, kNow + 20, kNow + 60000);
                if (!claimed) continue;  // busy: try again
                if (*claimed) ++won;
                return;
            }
        });
    }
    for (auto& t : nodes) t.join();
    EXPECT_EQ(won.load(), 1);
}

// Daily quotas are enforced by the insert itself: what the HTTP layer checks first can be passed
// by simultaneous requests, this cannot.
TEST_P(JobRepositoryContract, CreateWithAQuotaCountsTheOwnersJobsInTheWindow) {
    const CreateQuota quota{2, kNow};
    auto owned = [](const std::string& owner, std::int64_t created, const std::string& idempotency_key = "") {
        Job job = NewJob("classic", created);
        job.owner = owner;
        job.idempotency_key = idempotency_key;
        job.request_fingerprint = "fp";
        return job;
    };
    ASSERT_TRUE(repo_->Create(owned("key_q", kNow - 1), quota)) << "before the window: not counted";
    ASSERT_TRUE(repo_->Create(owned("key_q", kNow, "key_q:first"), quota));
    ASSERT_TRUE(repo_->Create(owned("key_q", kNow + 1), quota));
    auto refused = repo_->Create(owned("key_q", kNow + 2), quota);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
    EXPECT_EQ(refused.error().reason, "DAILY_QUOTA");
    EXPECT_EQ(*repo_->CountCreatedSince("key_q", kNow), 2) << "nothing was inserted";
    auto replay = repo_->Create(owned("key_q", kNow + 3, "key_q:first"), quota);
    ASSERT_TRUE(replay) << replay.error().message;
    EXPECT_FALSE(replay->second) << "a replay creates nothing, so the quota does not stop it";
    EXPECT_TRUE(repo_->Create(owned("key_r", kNow + 4), quota)) << "another owner's quota";
    EXPECT_TRUE(repo_->Create(owned("key_q", kNow + 5))) << "no quota given";
}

TEST_P(JobRepositoryContract, SimultaneousCreatesNeverOvershootAQuota) {
    // Rounds of 8 inserts at once for one owner each, a quota of 3: without the per-owner
    // serialization some round lets a fourth in (two inserts read the same count).
    const CreateQuota quota{3, kNow};
    for (int round = 0; round < 12; ++round) {
        const std::string owner = "key_burst_" + std::to_string(round);
        std::atomic<int> created{0}, refused{0}, ready{0};
        std::vector<std::thread> nodes;
        for (int n = 0; n < 8; ++n) {
            nodes.emplace_back([&, n] {
                Job job = NewJob("classic", kNow + n);
                job.owner = owner;
                ++ready;
                while (ready.load() < 8) std::this_thread::yield();  // start together
                while (true) {
                    auto result = repo_->Create(job, quota);
                    if (!result && result.error().code == ErrorCode::kUnavailable) continue;  // busy: try again
                    if (result) ++created;
                    else if (result.error().code == ErrorCode::kResourceExhausted) ++refused;
                    return;
                }
            });
        }
        for (auto& t : nodes) t.join();
        EXPECT_EQ(created.load(), 3) << "round " << round;
        EXPECT_EQ(refused.load(), 5) << "round " << round;
    }
}

}  // namespace
}  // namespace labhouse::testing
