#include "labhouse/adapters/inproc/inproc_event_bus.h"

namespace labhouse::inproc {

void InprocEventBus::Publish(const JobEvent& event) { fanout_.Deliver(event); }

std::unique_ptr<EventSubscription> InprocEventBus::Subscribe(const std::string& job_id) {
    return fanout_.Subscribe(job_id);
}

void InprocJobQueue::Announce(const std::string& job_id) {
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(job_id);
        if (pending_.size() > 10000) pending_.pop_front();
    }
    cv_.notify_one();
}

std::optional<std::string> InprocJobQueue::Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const std::uint64_t generation = wake_generation_;
    cv_.wait_for(lock, timeout, [&] { return !pending_.empty() || wake_generation_ != generation; });
    if (pending_.empty()) return std::nullopt;
    std::string id = std::move(pending_.front());
    pending_.pop_front();
    return id;
}

void InprocJobQueue::WakeAll() {
    {
        std::lock_guard lock(mutex_);
        ++wake_generation_;
    }
    cv_.notify_all();
}

}  // namespace labhouse::inproc
