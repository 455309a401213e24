// Internal to the HTTP adapter: the newest preview of each running job, for the `current_image` of
// GET /sdapi/v1/progress (A1111 clients poll for it instead of reading an event stream). It
// listens to the event bus from the first request that asks on, so a server no A1111 client polls
// pays nothing; it keeps at most kMaxJobs previews and forgets a job once it has ended.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "labhouse/core/ports/event_bus.h"

namespace labhouse::http {

class LatestPreviews {
public:
    static constexpr std::size_t kMaxJobs = 32;

    explicit LatestPreviews(EventBus& events) : events_(events) {}
    ~LatestPreviews();  // stops listening

    // The job's newest preview (JPEG bytes); nullopt when none arrived since listening began.
    // Starts listening on the first call.
    std::optional<std::string> For(const std::string& job_id);

private:
    void Listen(std::unique_ptr<EventSubscription> subscription);

    EventBus& events_;
    std::mutex mutex_;
    bool listening_ = false;                     // guarded by mutex_
    std::map<std::string, std::string> latest_;  // job id -> JPEG, guarded by mutex_
    std::deque<std::string> arrival_;            // job ids, oldest first, for eviction; guarded by mutex_
    std::atomic<bool> stopping_{false};
    std::thread listener_;
};

}  // namespace labhouse::http
