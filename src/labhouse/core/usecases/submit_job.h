// SubmitJob: validates a request, stores the normalized upload and creates a queued job.
// Nothing is written until every check passed, and the job row is written last, so a failed
// submit leaves no job behind (an orphan blob at worst, which is content-addressed and harmless).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/ports/blob_store.h"
#include "labhouse/core/ports/clock.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/image_codec.h"
#include "labhouse/core/ports/job_queue.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/usecases/backend_registry.h"

namespace labhouse {

struct SubmitLimits {
    std::int64_t max_upload_bytes = 20'000'000;
    std::int64_t max_pixels = 40'000'000;
    int max_attempts = 3;
};

struct SubmitRequest {
    std::string image_bytes;  // the photo; must be empty when params.kind is text-to-image
    JobParams params;  // params.backend may be "" or "auto"
    // Extra uploaded images by field name (must end in "_image"), e.g. "reference_image".
    std::map<std::string, std::string> extra_images;
    std::string idempotency_key;  // optional
    // The submitting API key's id (empty in the open mode). Idempotency keys are scoped to it, so
    // one key can never replay, or learn about, another key's job by guessing its Idempotency-Key.
    std::string owner;
    // The owner's daily quota, enforced atomically with the insert (the HTTP layer also checks it
    // before reading the upload, which answers most over-quota requests cheaply).
    std::optional<CreateQuota> quota;
};

struct SubmitResult {
    Job job;
    bool created = true;  // false when an idempotent replay returned an existing job
};

class SubmitJob {
public:
    SubmitJob(JobRepository& jobs, BlobStore& blobs, const ImageCodec& codec, JobQueue& queue, EventBus& events,
              const BackendRegistry& backends, const Clock& clock, SubmitLimits limits);

    // kInvalidArgument for bad parameters or a file that is not a readable image;
    // kPayloadTooLarge for uploads over the byte or pixel limits; kFailedPrecondition when the
    // backend is unavailable; kAlreadyExists when the idempotency key was used with another request.
    Result<SubmitResult> Submit(SubmitRequest request);

private:
    Result<std::string> StoreImage(const std::string& field, const std::string& bytes);

    JobRepository& jobs_;
    BlobStore& blobs_;
    const ImageCodec& codec_;
    JobQueue& queue_;
    EventBus& events_;
    const BackendRegistry& backends_;
    const Clock& clock_;
    SubmitLimits limits_;
};

// Range checks that hold for every backend (strength 0..1, steps 1..150, ...), and the kind's
// own rules (text-to-image: width and height 64..2048 in multiples of 8, a prompt or a style).
Status ValidateCommonParams(const JobParams& params);
// The size rule of text-to-image jobs: width and height multiples of 8 between 64 and 2048.
Status ValidateTextToImageSize(int width, int height);
// A stable hash of everything that defines the request, for idempotency.
std::string RequestFingerprint(const SubmitRequest& request);

}  // namespace labhouse
