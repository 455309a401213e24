// EventFanout: hands job events to this process's listeners (SSE streams), one bounded mailbox per
// subscription. Shared by the in-process bus (which delivers what it publishes) and the Redis bus
// (which delivers what its subscriber thread receives). Thread-safe.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "labhouse/core/ports/event_bus.h"

namespace labhouse {

class EventFanout {
public:
    // A mailbox keeps at most this many events: a listener that stops reading drops its oldest ones
    // (it can always re-read the job from the repository).
    static constexpr std::size_t kMaxEvents = 256;

    void Deliver(const JobEvent& event);
    // Events of one job, or of every job when job_id is empty. The subscription may outlive nothing:
    // it must be destroyed before the fan-out.
    std::unique_ptr<EventSubscription> Subscribe(const std::string& job_id);

    struct Mailbox;

private:
    void Unsubscribe(Mailbox* mailbox);
    friend class FanoutSubscription;

    std::mutex mutex_;
    std::list<std::shared_ptr<Mailbox>> mailboxes_;
};

}  // namespace labhouse
