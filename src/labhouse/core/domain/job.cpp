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

std::string_view JobKindName(JobKind kind) { return kind == JobKind::kTextToImage ? "txt2img" : "img2img"; }

std::optional<JobKind> JobKindFromName(std::string_view name) {
    if (name == "img2img") return JobKind::kImageToImage;
    if (name == "txt2img") return JobKind::kTextToImage;
    return std::nullopt;
}

}  // namespace labhouse
