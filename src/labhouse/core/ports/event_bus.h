// EventBus: job status and progress, fan-out to listeners (SSE streams, webhooks). Events are a
// hint that the repository changed; a listener that misses one loses nothing, because the
// repository holds the state.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "labhouse/core/domain/job.h"

namespace labhouse {

struct JobEvent {
    JobEvent() = default;
    JobEvent(std::string id, JobState state_, JobProgress progress_, std::optional<JobError> error_,
             std::string preview = {})
        : job_id(std::move(id)),
          state(state_),
          progress(std::move(progress_)),
          error(std::move(error_)),
          preview_jpeg(std::move(preview)) {}
    std::string job_id;
    JobState state = JobState::kQueued;
    JobProgress progress;
    std::optional<JobError> error;
    // A preview of a running job's image (JPEG bytes, a few tens of KB), sent once and not stored:
    // a listener that joins later sees the next one. Empty for every other event.
    std::string preview_jpeg;
};

class EventSubscription {
public:
    virtual ~EventSubscription() = default;
    // Waits up to `timeout` for the next event; nullopt on timeout.
    virtual std::optional<JobEvent> Next(std::chrono::milliseconds timeout) = 0;
};

class EventBus {
public:
    virtual ~EventBus() = default;
    virtual void Publish(const JobEvent& event) = 0;
    // Events of one job, or of every job when job_id is empty. Thread-safe.
    virtual std::unique_ptr<EventSubscription> Subscribe(const std::string& job_id) = 0;
};

}  // namespace labhouse
