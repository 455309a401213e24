// The job: the unit of everything. A job is created queued, claimed by one worker under a lease,
// and ends succeeded, failed or canceled. The repository is the source of truth for its state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace labhouse {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCanceled };

std::string_view JobStateName(JobState state);                     // "queued", "running", ...
std::optional<JobState> JobStateFromName(std::string_view name);  // nullopt for unknown names
inline bool IsTerminal(JobState state) {
    return state == JobState::kSucceeded || state == JobState::kFailed || state == JobState::kCanceled;
}

// Image-to-image transforms an uploaded photo (Job::input_blob); text-to-image makes a new image
// from the prompt alone, at JobParams::width x height, and has no input blob.
enum class JobKind { kImageToImage, kTextToImage };
std::string_view JobKindName(JobKind kind);                     // "img2img", "txt2img"
std::optional<JobKind> JobKindFromName(std::string_view name);  // nullopt for unknown names

// What the client asked for. Optional fields left empty take the backend's or style's defaults;
// the worker records the values it actually used in Job::result_meta.
struct JobParams {
    std::string backend;  // concrete backend name after "auto" is resolved
    JobKind kind = JobKind::kImageToImage;
    std::string style;    // a name from the style catalog, or empty
    std::string prompt;
    std::string negative_prompt;
    std::optional<double> strength;  // 0..1: how much to change the photo
    std::optional<int> steps;
    std::optional<double> guidance;
    std::optional<std::int64_t> seed;
    std::string sampler;
    std::string model;
    // Text-to-image only: the size of the image to make (required there, refused for img2img, whose
    // result size follows the photo).
    std::optional<int> width;
    std::optional<int> height;
    // Backend-specific options that the HTTP edge validated (e.g. "engine" for stability,
    // "reference_image" blob id for face-swap). Keys and values are plain strings.
    std::map<std::string, std::string> options;

    bool operator==(const JobParams&) const = default;
};

struct JobProgress {
    std::string stage;  // e.g. "queued", "encode", "denoise", "decode"
    int step = 0;
    int total = 0;
    double seconds_per_step = 0;  // 0 when unknown
    bool operator==(const JobProgress&) const = default;
};

struct JobError {
    std::string code;  // "INVALID_ARGUMENT", "NO_FACE", ...
    std::string message;
    bool operator==(const JobError&) const = default;
};

struct Job {
    std::string id;
    JobState state = JobState::kQueued;
    JobParams params;
    std::string input_blob;   // blob id of the (re-encoded) upload; empty for text-to-image jobs
    std::string result_blob;  // blob id of the result image, set when succeeded
    JobProgress progress;
    std::optional<JobError> error;
    int attempts = 0;  // how many times a worker has claimed it
    int max_attempts = 3;
    bool cancel_requested = false;
    std::string lease_owner;            // worker id while running
    std::int64_t lease_expires_ms = 0;  // epoch ms
    std::int64_t created_ms = 0;
    std::int64_t started_ms = 0;   // 0 = never started
    std::int64_t finished_ms = 0;  // 0 = not finished
    std::string idempotency_key;
    std::string request_fingerprint;  // hash of the request, to tell a replay from a reuse of the key
    // The API key id that submitted the job; empty in the open (no keys) mode. Only that key (or
    // an admin key) may see or change the job.
    std::string owner;
    // What the worker actually used (seed, model hash, sampler, timings ...), for reproducibility.
    std::map<std::string, std::string> result_meta;
};

}  // namespace labhouse
