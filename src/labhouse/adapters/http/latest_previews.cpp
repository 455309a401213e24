#include "labhouse/adapters/http/latest_previews.h"

#include <algorithm>

namespace labhouse::http {

LatestPreviews::~LatestPreviews() {
    stopping_ = true;
    if (listener_.joinable()) listener_.join();
}

std::optional<std::string> LatestPreviews::For(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    if (!listening_) {
        listening_ = true;
        // Subscribed before returning, so no preview published after this call is missed.
        listener_ = std::thread([this, subscription = events_.Subscribe("")]() mutable { Listen(std::move(subscription)); });
        return std::nullopt;
    }
    auto found = latest_.find(job_id);
    if (found == latest_.end()) return std::nullopt;
    return found->second;
}

void LatestPreviews::Listen(std::unique_ptr<EventSubscription> subscription) {
    while (!stopping_.load()) {
        auto event = subscription->Next(std::chrono::milliseconds(200));
        if (!event) continue;
        std::lock_guard lock(mutex_);
        if (IsTerminal(event->state)) {
            latest_.erase(event->job_id);
            arrival_.erase(std::remove(arrival_.begin(), arrival_.end(), event->job_id), arrival_.end());
            continue;
        }
        if (event->preview_jpeg.empty()) continue;
        if (latest_.find(event->job_id) == latest_.end()) {
            arrival_.push_back(event->job_id);
            if (arrival_.size() > kMaxJobs) {  // jobs whose end this listener missed
                latest_.erase(arrival_.front());
                arrival_.pop_front();
            }
        }
        latest_[event->job_id] = std::move(event->preview_jpeg);
    }
}

}  // namespace labhouse::http
