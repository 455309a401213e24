// CancelJob: a queued job is canceled at once; a running one stops at its next step.
#pragma once

#include "labhouse/core/base/result.h"
#include "labhouse/core/ports/clock.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse {

class CancelJob {
public:
    CancelJob(JobRepository& jobs, EventBus& events, const Clock& clock) : jobs_(jobs), events_(events), clock_(clock) {}
    // kNotFound for an unknown id; kFailedPrecondition for a finished job.
    Result<Job> Cancel(const std::string& id);

private:
    JobRepository& jobs_;
    EventBus& events_;
    const Clock& clock_;
};

}  // namespace labhouse
