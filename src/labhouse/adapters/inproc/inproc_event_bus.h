// In-process EventBus and JobQueue for the embedded mode: condition variables, no I/O.
#pragma once

#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>

#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/job_queue.h"
#include "labhouse/support/event_fanout.h"

namespace labhouse::inproc {

class InprocEventBus final : public EventBus {
public:
    void Publish(const JobEvent& event) override;
    std::unique_ptr<EventSubscription> Subscribe(const std::string& job_id) override;

private:
    EventFanout fanout_;
};

// Announcements wake one waiter each; Wait also returns on timeout, because the repository,
// not this queue, is the source of truth.
class InprocJobQueue final : public JobQueue {
public:
    void Announce(const std::string& job_id) override;
    std::optional<std::string> Wait(std::chrono::milliseconds timeout) override;
    void WakeAll() override;

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::string> pending_;
    std::uint64_t wake_generation_ = 0;
};

}  // namespace labhouse::inproc
