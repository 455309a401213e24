// JobQueue: tells workers that a job may be claimable. It carries job ids only and is never the
// source of truth (the repository is), so a lost queue loses no job: workers still poll.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace labhouse {

class JobQueue {
public:
    virtual ~JobQueue() = default;
    virtual void Announce(const std::string& job_id) = 0;
    // Waits up to `timeout` for an announcement; returns the announced id, or nullopt on timeout.
    virtual std::optional<std::string> Wait(std::chrono::milliseconds timeout) = 0;
    // Wakes every waiter (used at shutdown).
    virtual void WakeAll() = 0;
};

}  // namespace labhouse
