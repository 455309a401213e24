#include "labhouse/core/domain/job.h"

namespace labhouse {

std::string_view JobStateName(JobState state) {
    switch (state) {
        case JobState::kQueued: return "queued";
        case JobState::kRunning: return "running";
        case JobState::kSucceeded: return "succeeded";
        case JobState::kFailed: return "failed";
        case JobState::kCanceled: return "canceled";
    }
    return "queued";
}

std::optional<JobState> JobStateFromName(std::string_view name) {
    for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                       JobState::kCanceled}) {
        if (JobStateName(s) == name) return s;
    }
    return std::nullopt;
}

}  // namespace labhouse
