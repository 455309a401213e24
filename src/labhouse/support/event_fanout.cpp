#include "labhouse/support/event_fanout.h"

#include <condition_variable>
#include <deque>

namespace labhouse {

struct EventFanout::Mailbox {
    std::string job_id;
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<JobEvent> events;
};

class FanoutSubscription final : public EventSubscription {
public:
    FanoutSubscription(EventFanout& fanout, std::shared_ptr<EventFanout::Mailbox> mailbox)
        : fanout_(fanout), mailbox_(std::move(mailbox)) {}
    ~FanoutSubscription() override { fanout_.Unsubscribe(mailbox_.get()); }

    std::optional<JobEvent> Next(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(mailbox_->mutex);
        if (!mailbox_->cv.wait_for(lock, timeout, [&] { return !mailbox_->events.empty(); })) return std::nullopt;
        JobEvent event = std::move(mailbox_->events.front());
        mailbox_->events.pop_front();
        return event;
    }

private:
    EventFanout& fanout_;
    std::shared_ptr<EventFanout::Mailbox> mailbox_;
};

void EventFanout::Deliver(const JobEvent& event) {
    std::lock_guard lock(mutex_);
    for (const auto& mailbox : mailboxes_) {
        if (!mailbox->job_id.empty() && mailbox->job_id != event.job_id) continue;
        {
            std::lock_guard box_lock(mailbox->mutex);
            if (mailbox->events.size() >= kMaxEvents) mailbox->events.pop_front();
            mailbox->events.push_back(event);
        }
        mailbox->cv.notify_one();
    }
}

std::unique_ptr<EventSubscription> EventFanout::Subscribe(const std::string& job_id) {
    auto mailbox = std::make_shared<Mailbox>();
    mailbox->job_id = job_id;
    {
        std::lock_guard lock(mutex_);
        mailboxes_.push_back(mailbox);
    }
    return std::make_unique<FanoutSubscription>(*this, std::move(mailbox));
}

void EventFanout::Unsubscribe(Mailbox* mailbox) {
    std::lock_guard lock(mutex_);
    mailboxes_.remove_if([&](const auto& m) { return m.get() == mailbox; });
}

}  // namespace labhouse
