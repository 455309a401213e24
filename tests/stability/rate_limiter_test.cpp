#include "labhouse/adapters/stability/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace labhouse::stability {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(RateLimiter, NeverAdmitsMoreThanTheLimitInAnyWindow) {
    constexpr int kLimit = 10;
    const milliseconds window(400);
    RateLimiter limiter(kLimit, window);
    std::mutex mutex;
    std::vector<Clock::time_point> sent;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 8; ++i) {
                ASSERT_TRUE(limiter.Acquire({}, {}));
                std::lock_guard lock(mutex);
                sent.push_back(Clock::now());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    std::sort(sent.begin(), sent.end());
    ASSERT_EQ(sent.size(), 24u);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        const auto in_window = std::count_if(sent.begin() + i, sent.end(), [&](auto t) { return t - sent[i] < window; });
        EXPECT_LE(in_window, kLimit) << "window starting at send " << i;
    }
    // And it is not needlessly slow: 24 sends at 9 per 400 ms after a burst of 1 take ~1 s.
    EXPECT_LT(sent.back() - sent.front(), milliseconds(1600));
}

TEST(RateLimiter, PauseHoldsEveryCallerAndAnnouncesTheWait) {
    RateLimiter limiter(150, milliseconds(10'000));
    limiter.PauseUntil(Clock::now() + milliseconds(200));
    int announced = 0;
    const auto start = Clock::now();
    ASSERT_TRUE(limiter.Acquire({}, [&] { ++announced; }));
    EXPECT_GE(Clock::now() - start, milliseconds(190));
    EXPECT_EQ(announced, 1);
}

TEST(RateLimiter, CancelStopsTheWaitAndTakesNothing) {
    RateLimiter limiter(150, milliseconds(10'000));
    limiter.PauseUntil(Clock::now() + milliseconds(5'000));
    const auto start = Clock::now();
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds(50));
        cancel = true;
    });
    EXPECT_FALSE(limiter.Acquire([&] { return cancel.load(); }, {}));
    canceller.join();
    EXPECT_LT(Clock::now() - start, milliseconds(1'000));
}

TEST(RateLimiter, TryAcquireNeverWaits) {
    RateLimiter limiter(20, milliseconds(10'000));  // burst of 2
    EXPECT_TRUE(limiter.TryAcquire());
    EXPECT_TRUE(limiter.TryAcquire());
    EXPECT_FALSE(limiter.TryAcquire());
    EXPECT_DOUBLE_EQ(limiter.burst(), 2.0);
    EXPECT_NEAR(limiter.tokens_per_second(), 1.8, 1e-9);
}

}  // namespace
}  // namespace labhouse::stability
