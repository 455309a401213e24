// AccessControl and the SQLite key store: secrets, hashing, revocation, the per-key token bucket,
// a shared rate limiter (and the fallback when it fails) and the daily quota, on a manual clock.
#include <gtest/gtest.h>

#include <set>

#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "labhouse/adapters/sqlite/sqlite_key_repository.h"
#include "labhouse/core/base/ids.h"
#include "labhouse/core/base/sha256.h"
#include "labhouse/core/usecases/access_control.h"
#include "tests/testing/fakes.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

class AccessControlTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string path = (dir_.path() / "labhouse.db").string();
        auto keys = sqlite::SqliteKeyRepository::Open(path);
        ASSERT_TRUE(keys);
        keys_ = std::move(*keys);
        auto jobs = sqlite::SqliteJobRepository::Open(path);
        ASSERT_TRUE(jobs);
        jobs_ = std::move(*jobs);
        access_ = std::make_unique<AccessControl>(*keys_, *jobs_, clock_);
    }

    CreatedKey Create(KeyLimits limits = {}) {
        auto created = CreateApiKey(*keys_, clock_, "test", limits);
        EXPECT_TRUE(created);
        return created ? *created : CreatedKey{};
    }

    Caller Authenticated(const std::string& secret) {
        auto caller = access_->Authenticate(secret);
        EXPECT_TRUE(caller && *caller);
        return caller && *caller ? **caller : Caller{};
    }

    TempDir dir_;
    ManualClock clock_{1'700'000'000'000};
    std::unique_ptr<sqlite::SqliteKeyRepository> keys_;
    std::unique_ptr<sqlite::SqliteJobRepository> jobs_;
    std::unique_ptr<AccessControl> access_;
};

TEST(ApiKeySecret, IsRandomBase62WithPrefixAndStoredOnlyAsItsHash) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string secret = NewApiKeySecret();
        ASSERT_EQ(secret.size(), 46u);
        EXPECT_EQ(secret.rfind("lh_", 0), 0u);
        EXPECT_EQ(secret.find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 3),
                  std::string::npos);
        seen.insert(secret);
    }
    EXPECT_EQ(seen.size(), 200u);
    EXPECT_EQ(HashApiKeySecret("lh_x"), Sha256Hex("lh_x"));
}

TEST_F(AccessControlTest, AuthenticatesOnlyActiveKeysAndNeverStoresTheSecret) {
    const CreatedKey created = Create({true, 0, 0});
    EXPECT_NE(created.key.secret_hash, created.secret);
    auto stored = keys_->List();
    ASSERT_TRUE(stored);
    ASSERT_EQ(stored->size(), 1u);
    EXPECT_EQ((*stored)[0].secret_hash, HashApiKeySecret(created.secret));
    EXPECT_TRUE(Authenticated(created.secret).admin);
    EXPECT_FALSE(access_->Authenticate(created.secret + "x").value());
    EXPECT_FALSE(access_->Authenticate("").value());

    ASSERT_TRUE(keys_->Revoke(created.key.id, clock_.NowMs()));
    EXPECT_FALSE(access_->Authenticate(created.secret).value());
    EXPECT_EQ(keys_->Revoke("key_unknown", clock_.NowMs()).error().code, ErrorCode::kNotFound);
}

TEST_F(AccessControlTest, RejectsBadNamesAndNegativeLimits) {
    EXPECT_EQ(CreateApiKey(*keys_, clock_, "", {}).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(CreateApiKey(*keys_, clock_, "n", {false, -1, 0}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AccessControlTest, TokenBucketAllowsTheRateThenRefillsOverTime) {
    const Caller caller = Authenticated(Create({false, 6, 0}).secret);  // one token every 10 s
    for (int i = 0; i < 6; ++i) EXPECT_FALSE(access_->AdmitRequest(caller)) << i;
    auto throttle = access_->AdmitRequest(caller);
    ASSERT_TRUE(throttle);
    EXPECT_EQ(throttle->retry_after_s, 10);
    clock_.Advance(4'000);
    ASSERT_TRUE(access_->AdmitRequest(caller));
    EXPECT_EQ(access_->AdmitRequest(caller)->retry_after_s, 6);
    clock_.Advance(6'000);
    EXPECT_FALSE(access_->AdmitRequest(caller));
    EXPECT_TRUE(access_->AdmitRequest(caller));
    // Unlimited keys are never throttled.
    const Caller unlimited = Authenticated(Create().secret);
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(access_->AdmitRequest(unlimited));
}

// Stands for the Redis limiter of a scale-out deployment: counts per key, or fails on demand.
class ScriptedLimiter final : public RateLimiter {
public:
    Result<std::optional<std::int64_t>> Admit(const std::string& key, int per_minute, std::int64_t) override {
        if (down) return Unavailable("redis is gone");
        if (++counts[key] <= per_minute) return std::optional<std::int64_t>{};
        return std::optional<std::int64_t>{17};
    }
    std::map<std::string, int> counts;
    bool down = false;
};

TEST_F(AccessControlTest, ASharedLimiterCountsForEveryNodeAndItsOutageFallsBackToThisProcess) {
    ScriptedLimiter shared;
    AccessControl node_a(*keys_, *jobs_, clock_, &shared);
    AccessControl node_b(*keys_, *jobs_, clock_, &shared);
    const Caller caller = Authenticated(Create({false, 3, 0}).secret);
    EXPECT_FALSE(node_a.AdmitRequest(caller));
    EXPECT_FALSE(node_b.AdmitRequest(caller));
    EXPECT_FALSE(node_a.AdmitRequest(caller));
    auto throttle = node_b.AdmitRequest(caller);
    ASSERT_TRUE(throttle) << "the fourth request overall, though node b has seen only two";
    EXPECT_EQ(throttle->retry_after_s, 17);
    EXPECT_EQ(shared.counts[caller.key_id], 4);
    // Redis away: each node limits on its own (3 per minute here) instead of refusing everything.
    shared.down = true;
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(node_a.AdmitRequest(caller)) << i;
    EXPECT_TRUE(node_a.AdmitRequest(caller));
}

TEST_F(AccessControlTest, DailyQuotaCountsTodaysJobsAndResetsAtMidnightUtc) {
    const Caller caller = Authenticated(Create({false, 0, 2}).secret);
    const std::int64_t midnight = clock_.NowMs() - clock_.NowMs() % kDayMs;
    auto add_job = [&](std::int64_t created_ms, const std::string& owner) {
        Job job;
        job.id = NewJobId();
        job.params.backend = "classic";
        job.input_blob = std::string(64, 'a');
        job.created_ms = created_ms;
        job.owner = owner;
        ASSERT_TRUE(jobs_->Create(job));
    };
    add_job(midnight - 1, caller.key_id);  // yesterday: does not count
    add_job(midnight + 5, "key_other");    // someone else's
    add_job(clock_.NowMs(), caller.key_id);
    EXPECT_FALSE(*access_->AdmitJob(caller));
    add_job(clock_.NowMs(), caller.key_id);
    auto throttle = *access_->AdmitJob(caller);
    ASSERT_TRUE(throttle);
    EXPECT_EQ(throttle->retry_after_s, (midnight + kDayMs - clock_.NowMs() + 999) / 1000);
    clock_.Advance(midnight + kDayMs - clock_.NowMs());
    EXPECT_FALSE(*access_->AdmitJob(caller));
}

}  // namespace
}  // namespace labhouse::testing
