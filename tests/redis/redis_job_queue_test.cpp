// RedisJobQueue against a real Redis: delivery to one consumer of the group, acknowledgement once
// the job ends, takeover of a dead consumer's entries, and rebuilding a wiped stream from the
// repository (SQLite here: the queue only needs some JobRepository).
#include "labhouse/adapters/redis/redis_job_queue.h"

#include <set>
#include <thread>

#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "labhouse/core/base/ids.h"
#include "tests/redis/redis_test_support.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kNow = 1'700'000'000'000;

class RedisJobQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        LABHOUSE_REQUIRE_REDIS();
        ASSERT_TRUE(probe_.ok()) << "cannot reach " << RedisUrl();
        auto repo = sqlite::SqliteJobRepository::Open((dir_.path() / "jobs.db").string());
        ASSERT_TRUE(repo);
        repo_ = std::move(*repo);
        stream_ = probe_.Key("stream");
    }

    std::unique_ptr<redis::RedisJobQueue> OpenQueue(const std::string& consumer, std::int64_t claim_idle_ms = 60000) {
        auto queue = redis::RedisJobQueue::Open({RedisUrl(), stream_, "workers", consumer, claim_idle_ms}, *repo_);
        EXPECT_TRUE(queue) << (queue ? "" : queue.error().message);
        return queue ? std::move(*queue) : nullptr;
    }

    std::string NewQueuedJob() {
        Job job;
        job.id = NewJobId();
        job.params.backend = "classic";
        job.input_blob = std::string(64, 'a');
        job.created_ms = kNow;
        EXPECT_TRUE(repo_->Create(job));
        return job.id;
    }

    long long Pending() {
        auto reply = probe_.Command({"XPENDING", stream_, "workers"});
        return reply.elements.empty() ? -1 : reply.elements[0].integer;
    }

    TempDir dir_;
    RedisProbe probe_;
    std::unique_ptr<JobRepository> repo_;
    std::string stream_;
};

TEST_F(RedisJobQueueTest, AnnouncedIdIsDeliveredAndAckedOnceTheJobEnds) {
    auto queue = OpenQueue("c1");
    ASSERT_NE(queue, nullptr);
    const std::string id = NewQueuedJob();
    queue->Announce(id);
    EXPECT_EQ(queue->Wait(2s), id);
    EXPECT_EQ(Pending(), 1) << "not acknowledged while the job has not ended";
    EXPECT_EQ(queue->AckFinished(), 0);
    auto claimed = repo_->ClaimNext({"w", kNow, 60000, {}});
    ASSERT_TRUE(claimed && *claimed);
    ASSERT_TRUE(repo_->MarkSucceeded(id, "w", std::string(64, 'b'), {}, kNow));
    EXPECT_EQ(queue->AckFinished(), 1);
    EXPECT_EQ(Pending(), 0);
    EXPECT_FALSE(queue->Wait(300ms).has_value()) << "nothing else was announced";
}

TEST_F(RedisJobQueueTest, EachEntryGoesToOneConsumerOfTheGroup) {
    auto a = OpenQueue("a");
    auto b = OpenQueue("b");
    ASSERT_TRUE(a && b);
    std::set<std::string> ids;
    for (int i = 0; i < 10; ++i) {
        ids.insert(NewQueuedJob());
    }
    for (const auto& id : ids) a->Announce(id);
    std::multiset<std::string> got;
    std::mutex mutex;
    auto drain = [&](redis::RedisJobQueue& q) {
        while (auto id = q.Wait(400ms)) {
            std::lock_guard lock(mutex);
            got.insert(*id);
        }
    };
    std::thread ta(drain, std::ref(*a));
    std::thread tb(drain, std::ref(*b));
    ta.join();
    tb.join();
    EXPECT_EQ(got.size(), ids.size()) << "every id delivered exactly once across the group";
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), ids);
}

TEST_F(RedisJobQueueTest, AnEndedJobsEntryIsAckedWithoutBeingHandedOut) {
    auto queue = OpenQueue("c1");
    ASSERT_NE(queue, nullptr);
    const std::string id = NewQueuedJob();
    ASSERT_TRUE(repo_->RequestCancel(id, kNow));  // queued -> canceled at once
    queue->Announce(id);
    EXPECT_FALSE(queue->Wait(500ms).has_value());
    EXPECT_EQ(Pending(), 0);
}

TEST_F(RedisJobQueueTest, ADeadConsumersEntryIsClaimedByAnotherAfterTheIdleTime) {
    const std::string id = NewQueuedJob();
    {
        auto dying = OpenQueue("dying", 200);
        ASSERT_NE(dying, nullptr);
        dying->Announce(id);
        ASSERT_EQ(dying->Wait(2s), id);
    }  // gone without acknowledging: the entry stays pending under "dying"
    auto reply = probe_.Command({"XPENDING", stream_, "workers", "-", "+", "10", "dying"});
    ASSERT_EQ(reply.elements.size(), 1u);
    auto survivor = OpenQueue("survivor", 200);
    ASSERT_NE(survivor, nullptr);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(survivor->Reclaim(), id);
    reply = probe_.Command({"XPENDING", stream_, "workers", "-", "+", "10", "survivor"});
    EXPECT_EQ(reply.elements.size(), 1u) << "the survivor now holds the entry";
}

TEST_F(RedisJobQueueTest, AWipedStreamIsRebuiltFromTheRepository) {
    const std::string first = NewQueuedJob();
    const std::string second = NewQueuedJob();
    auto queue = OpenQueue("c1");  // the group was missing: both queued jobs are re-added
    ASSERT_NE(queue, nullptr);
    EXPECT_EQ(probe_.Command({"XLEN", stream_}).integer, 2);
    EXPECT_EQ(queue->Wait(2s), first) << "oldest first";
    // Redis loses everything (restart without persistence).
    probe_.Command({"DEL", stream_});
    const std::string third = NewQueuedJob();
    std::set<std::string> seen;
    for (int i = 0; i < 5; ++i) {
        if (auto id = queue->Wait(1s)) seen.insert(*id);
    }
    EXPECT_EQ(seen, (std::set<std::string>{first, second, third}));
    EXPECT_EQ(queue->EnsureGroup().value_or(-1), 0) << "an existing group is left alone";
}

TEST_F(RedisJobQueueTest, WakeAllEndsAWaitEarly) {
    auto queue = OpenQueue("c1");
    ASSERT_NE(queue, nullptr);
    std::thread waker([&] {
        std::this_thread::sleep_for(100ms);
        queue->WakeAll();
    });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(queue->Wait(10s).has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    waker.join();
}

TEST(RedisJobQueue, UnreachableRedisIsUnavailable) {
    TempDir dir;
    auto repo = sqlite::SqliteJobRepository::Open((dir.path() / "jobs.db").string());
    ASSERT_TRUE(repo);
    auto queue = redis::RedisJobQueue::Open({"redis://127.0.0.1:1", "s", "g", "c", 1000}, **repo);
    ASSERT_FALSE(queue);
    EXPECT_EQ(queue.error().code, ErrorCode::kUnavailable);
}

TEST(RedisUrl, ParsesHostPortPasswordAndDatabase) {
    auto full = redis::ParseRedisUrl("redis://:s3cret@cache.internal:6380/2");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->host, "cache.internal");
    EXPECT_EQ(full->port, 6380);
    EXPECT_EQ(full->password, "s3cret");
    EXPECT_EQ(full->db, 2);
    auto plain = redis::ParseRedisUrl("redis://redis");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->port, 6379);
    EXPECT_FALSE(redis::ParseRedisUrl("http://redis:6379"));
    EXPECT_FALSE(redis::ParseRedisUrl("redis://host:99999"));
    EXPECT_FALSE(redis::ParseRedisUrl("redis://:6379"));
}

}  // namespace
}  // namespace labhouse::testing
