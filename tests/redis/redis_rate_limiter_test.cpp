// RedisRateLimiter against a real Redis: two limiters stand for two API nodes sharing one count.
#include "labhouse/adapters/redis/redis_rate_limiter.h"

#include "tests/redis/redis_test_support.h"

namespace labhouse::testing {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kWindowStart = 28'333'333LL * kMinute;  // any minute boundary

std::unique_ptr<redis::RedisRateLimiter> OpenLimiter(const std::string& prefix) {
    auto limiter = redis::RedisRateLimiter::Open({RedisUrl(), prefix});
    EXPECT_TRUE(limiter) << (limiter ? "" : limiter.error().message);
    return limiter ? std::move(*limiter) : nullptr;
}

TEST(RedisRateLimiter, TwoNodesShareOneCountPerKeyAndWindow) {
    LABHOUSE_REQUIRE_REDIS();
    RedisProbe probe;
    const std::string prefix = probe.Key("rate") + ":";
    auto node_a = OpenLimiter(prefix);
    auto node_b = OpenLimiter(prefix);
    ASSERT_TRUE(node_a && node_b);
    const std::int64_t now = kWindowStart + 15'000;
    for (int i = 0; i < 4; ++i) {
        auto& node = i % 2 == 0 ? node_a : node_b;
        auto admitted = node->Admit("key_a", 4, now + i);
        ASSERT_TRUE(admitted) << admitted.error().message;
        EXPECT_FALSE(*admitted) << "request " << i;
    }
    auto refused = node_b->Admit("key_a", 4, now + 10);
    ASSERT_TRUE(refused);
    ASSERT_TRUE(*refused) << "the fifth request in the minute, whichever node takes it";
    EXPECT_EQ(**refused, 45) << "seconds to the end of the window";
    EXPECT_FALSE(*node_a->Admit("key_b", 4, now)) << "another key has its own count";
    // The next minute starts a new count.
    EXPECT_FALSE(*node_a->Admit("key_a", 4, kWindowStart + kMinute));
    // Every counter expires: none outlives its window for long.
    auto ttl = probe.Command({"PTTL", prefix + "key_a:" + std::to_string(kWindowStart / kMinute)});
    EXPECT_GT(ttl.integer, 0);
    EXPECT_LE(ttl.integer, 2 * kMinute);
    probe.Command({"DEL", prefix + "key_a:" + std::to_string(kWindowStart / kMinute),
                   prefix + "key_a:" + std::to_string(kWindowStart / kMinute + 1),
                   prefix + "key_b:" + std::to_string(kWindowStart / kMinute)});
}

TEST(RedisRateLimiter, UnreachableRedisIsAnErrorNotAnAdmission) {
    auto limiter = redis::RedisRateLimiter::Open({"redis://127.0.0.1:1", "x:", std::chrono::milliseconds(500)});
    ASSERT_FALSE(limiter);
    EXPECT_EQ(limiter.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace labhouse::testing
