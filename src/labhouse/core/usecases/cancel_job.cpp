#include "labhouse/core/usecases/cancel_job.h"

namespace labhouse {

Result<Job> CancelJob::Cancel(const std::string& id) {
    LABHOUSE_ASSIGN_OR_RETURN(Job job, jobs_.RequestCancel(id, clock_.NowMs()));
    // A running job publishes "canceled" itself when its worker stops; this event tells listeners
    // that a cancel is pending.
    events_.Publish({job.id, job.state, job.progress, job.error});
    return job;
}

}  // namespace labhouse
