#include "labhouse/adapters/inproc/inproc_event_bus.h"

namespace labhouse::inproc {

// A listener's queue. Bounded: a listener that stops reading drops its oldest events (it can
// always re-read the job from the repository).
struct InprocEventBus::Mailbox {
    std::string job_id;
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<JobEvent> events;
    static constexpr std::size_t kMaxEvents = 256;
};

class InprocSubscription final : public EventSubscription {
public:
    InprocSubscription(InprocEventBus& bus, std::shared_ptr<InprocEventBus::Mailbox> mailbox)
        : bus_(bus), mailbox_(std::move(mailbox)) {}
    ~InprocSubscription() override { bus_.Unsubscribe(mailbox_.get()); }

    std::optional<JobEvent> Next(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(mailbox_->mutex);
        if (!mailbox_->cv.wait_for(lock, timeout, [&] { return !mailbox_->events.empty(); })) return std::nullopt;
        JobEvent event = std::move(mailbox_->events.front());
        mailbox_->events.pop_front();
        return event;
    }

private:
    InprocEventBus& bus_;
    std::shared_ptr<InprocEventBus::Mailbox> mailbox_;
};

void InprocEventBus::Publish(const JobEvent& event) {
    std::lock_guard lock(mutex_);
    for (const auto& mailbox : mailboxes_) {
        if (!mailbox->job_id.empty() && mailbox->job_id != event.job_id) continue;
        {
            std::lock_guard box_lock(mailbox->mutex);
            if (mailbox->events.size() >= Mailbox::kMaxEvents) mailbox->events.pop_front();
            mailbox->events.push_back(event);
        }
        mailbox->cv.notify_one();
    }
}

std::unique_ptr<EventSubscription> InprocEventBus::Subscribe(const std::string& job_id) {
    auto mailbox = std::make_shared<Mailbox>();
    mailbox->job_id = job_id;
    {
        std::lock_guard lock(mutex_);
        mailboxes_.push_back(mailbox);
    }
    return std::make_unique<InprocSubscription>(*this, std::move(mailbox));
}

void InprocEventBus::Unsubscribe(Mailbox* mailbox) {
    std::lock_guard lock(mutex_);
    mailboxes_.remove_if([&](const auto& m) { return m.get() == mailbox; });
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
