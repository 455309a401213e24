#include "labhouse/adapters/stability/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace labhouse::stability {
namespace {
// Cancellation is noticed within this long while waiting.
constexpr std::chrono::milliseconds kPollSlice{20};
}  // namespace

RateLimiter::RateLimiter(int requests, std::chrono::milliseconds window)
    : burst_(std::max(1, requests / 10)),
      rate_per_ms_((requests - std::max(1, requests / 10)) / static_cast<double>(window.count())),
      tokens_(burst_),
      refilled_at_(Clock::now()) {}

std::chrono::milliseconds RateLimiter::TryTakeLocked(Clock::time_point now) {
    if (now < paused_until_) {
        return std::chrono::ceil<std::chrono::milliseconds>(paused_until_ - now);
    }
    const double elapsed_ms = std::chrono::duration<double, std::milli>(now - refilled_at_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed_ms * rate_per_ms_);
    refilled_at_ = now;
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return std::chrono::milliseconds(0);
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate_per_ms_)));
}

bool RateLimiter::Acquire(const std::function<bool()>& cancelled, const std::function<void()>& on_wait) {
    bool announced = false;
    while (true) {
        if (cancelled && cancelled()) return false;
        std::chrono::milliseconds wait;
        {
            std::lock_guard lock(mutex_);
            wait = TryTakeLocked(Clock::now());
        }
        if (wait.count() == 0) return true;
        if (!announced && on_wait) on_wait();
        announced = true;
        std::this_thread::sleep_for(std::min(wait, kPollSlice));
    }
}

bool RateLimiter::TryAcquire() {
    std::lock_guard lock(mutex_);
    return TryTakeLocked(Clock::now()).count() == 0;
}

void RateLimiter::PauseUntil(Clock::time_point until) {
    std::lock_guard lock(mutex_);
    paused_until_ = std::max(paused_until_, until);
}

}  // namespace labhouse::stability
