// RateLimiter: the client-side guard that keeps every job of one Stability transformer under the
// documented limit (150 requests per 10 s, per key), plus the shared pause after a 429: the API
// then times the key out for 60 s, and any request sent during that pause would extend it.
// Thread-safe; one instance is shared by all the transformer's concurrent jobs.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace labhouse::stability {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    // A token bucket sized so that no window of `window` ever sees more than `requests` sends:
    // any window admits at most burst + rate * window tokens, so with burst = requests / 10 the
    // refill rate is (requests - burst) / window. (A bucket of `requests` tokens refilled at
    // requests/window would admit twice the limit across a window boundary.) requests >= 2.
    RateLimiter(int requests, std::chrono::milliseconds window);

    // Blocks until a request may be sent and takes its token. Calls on_wait once when it has to
    // wait, and returns false (taking nothing) as soon as cancelled() turns true.
    bool Acquire(const std::function<bool()>& cancelled, const std::function<void()>& on_wait);
    // Takes a token only if one is free right now (for optional requests such as balance probes).
    bool TryAcquire();
    // No token is handed out before `until` (used after a 429; a later deadline wins).
    void PauseUntil(Clock::time_point until);
    // The burst size and refill rate, for tests and the startup log.
    double burst() const { return burst_; }
    double tokens_per_second() const { return rate_per_ms_ * 1000.0; }

private:
    // Returns how long to wait, or zero after taking a token. Requires mutex_.
    std::chrono::milliseconds TryTakeLocked(Clock::time_point now);

    const double burst_;
    const double rate_per_ms_;
    std::mutex mutex_;
    double tokens_;
    Clock::time_point refilled_at_;
    Clock::time_point paused_until_{};
};

}  // namespace labhouse::stability
