#include "labhouse/core/usecases/submit_job.h"

#include "labhouse/core/base/ids.h"
#include "labhouse/core/base/sha256.h"

namespace labhouse {
namespace {
constexpr std::size_t kMaxPromptChars = 4000;
constexpr std::size_t kMaxIdempotencyKeyChars = 255;
constexpr int kMinSide = 64;
constexpr int kMaxSide = 2048;

}  // namespace

Status ValidateTextToImageSize(int width, int height) {
    for (const auto& [name, value] : {std::pair{"width", width}, std::pair{"height", height}}) {
        if (value < kMinSide || value > kMaxSide || value % 8 != 0) {
            return InvalidArgument(std::string(name) + " must be a multiple of 8 between 64 and 2048, not " +
                                   std::to_string(value));
        }
    }
    return OkStatus();
}

namespace {
// Text-to-image needs a size (there is no photo to take it from) and a prompt or style to draw;
// image-to-image takes its size from the photo, so a size there would be silently ignored.
Status ValidateKindParams(const JobParams& p) {
    if (p.kind == JobKind::kImageToImage) {
        if (p.width || p.height) {
            return InvalidArgument("width and height are for text-to-image jobs; the result keeps the photo's size");
        }
        return OkStatus();
    }
    if (!p.width || !p.height) return InvalidArgument("a text-to-image job needs width and height");
    LABHOUSE_RETURN_IF_ERROR(ValidateTextToImageSize(*p.width, *p.height));
    if (p.strength) return InvalidArgument("strength is for image-to-image jobs (there is no photo to keep)");
    if (p.prompt.empty() && p.style.empty()) return InvalidArgument("a text-to-image job needs a prompt or a style");
    return OkStatus();
}
}  // namespace

Status ValidateCommonParams(const JobParams& p) {
    if (p.strength && !(*p.strength >= 0.0 && *p.strength <= 1.0)) {
        return InvalidArgument("strength must be between 0 and 1");
    }
    if (p.steps && (*p.steps < 1 || *p.steps > 150)) return InvalidArgument("steps must be between 1 and 150");
    if (p.guidance && !(*p.guidance >= 0.0 && *p.guidance <= 35.0)) {
        return InvalidArgument("guidance must be between 0 and 35");
    }
    if (p.seed && (*p.seed < 0 || *p.seed > 4294967295LL)) {
        return InvalidArgument("seed must be between 0 and 4294967295");
    }
    if (p.prompt.size() > kMaxPromptChars || p.negative_prompt.size() > kMaxPromptChars) {
        return InvalidArgument("prompt is longer than 4000 characters");
    }
    if (!p.style.empty() && FindStyle(p.style) == nullptr) {
        std::string known;
        for (const Style& s : StyleCatalog()) known += (known.empty() ? "" : ", ") + s.name;
        return InvalidArgument("unknown style '" + p.style + "' (known: " + known + ")");
    }
    return ValidateKindParams(p);
}

std::string RequestFingerprint(const SubmitRequest& request) {
    Sha256 hasher;
    auto field = [&](const std::string& name, const std::string& value) {
        hasher.Update(name);
        hasher.Update("=");
        hasher.Update(std::to_string(value.size()));
        hasher.Update(":");
        hasher.Update(value);
        hasher.Update(";");
    };
    const JobParams& p = request.params;
    field("backend", p.backend);
    field("kind", std::string(JobKindName(p.kind)));
    field("width", p.width ? std::to_string(*p.width) : "");
    field("height", p.height ? std::to_string(*p.height) : "");
    field("style", p.style);
    field("prompt", p.prompt);
    field("negative_prompt", p.negative_prompt);
    field("strength", p.strength ? std::to_string(*p.strength) : "");
    field("steps", p.steps ? std::to_string(*p.steps) : "");
    field("guidance", p.guidance ? std::to_string(*p.guidance) : "");
    field("seed", p.seed ? std::to_string(*p.seed) : "");
    field("sampler", p.sampler);
    field("model", p.model);
    for (const auto& [k, v] : p.options) field("option." + k, v);
    if (p.kind == JobKind::kImageToImage) field("image", Sha256Hex(request.image_bytes));
    for (const auto& [k, v] : request.extra_images) field("extra." + k, Sha256Hex(v));
    return hasher.FinishHex();
}

SubmitJob::SubmitJob(JobRepository& jobs, BlobStore& blobs, const ImageCodec& codec, JobQueue& queue,
                     EventBus& events, const BackendRegistry& backends, const Clock& clock, SubmitLimits limits)
    : jobs_(jobs),
      blobs_(blobs),
      codec_(codec),
      queue_(queue),
      events_(events),
      backends_(backends),
      clock_(clock),
      limits_(limits) {}

Result<std::string> SubmitJob::StoreImage(const std::string& field, const std::string& bytes) {
    if (bytes.empty()) return InvalidArgument("'" + field + "' is empty");
    if (static_cast<std::int64_t>(bytes.size()) > limits_.max_upload_bytes) {
        return PayloadTooLarge("'" + field + "' is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                               std::to_string(limits_.max_upload_bytes));
    }
    auto info = codec_.Probe(bytes);
    if (!info) return Error{info.error().code, "'" + field + "': " + info.error().message, {}};
    const std::int64_t pixels = std::int64_t{info->width} * info->height;
    if (pixels > limits_.max_pixels) {
        return PayloadTooLarge("'" + field + "' is " + std::to_string(info->width) + "x" +
                               std::to_string(info->height) + " pixels; the limit is " +
                               std::to_string(limits_.max_pixels) + " pixels");
    }
    // Decoding applies the EXIF orientation; re-encoding drops every other metadata (GPS, camera).
    auto image = codec_.Decode(bytes);
    if (!image) return Error{image.error().code, "'" + field + "': " + image.error().message, {}};
    LABHOUSE_ASSIGN_OR_RETURN(std::string png, codec_.EncodePng(*image, {}));
    return blobs_.Put(png);
}

Result<SubmitResult> SubmitJob::Submit(SubmitRequest request) {
    if (request.idempotency_key.size() > kMaxIdempotencyKeyChars) {
        return InvalidArgument("Idempotency-Key is longer than 255 characters");
    }
    LABHOUSE_RETURN_IF_ERROR(ValidateCommonParams(request.params));
    if (request.params.kind == JobKind::kTextToImage && !request.image_bytes.empty()) {
        return InvalidArgument("a text-to-image job takes no image");
    }
    const Style* style = request.params.style.empty() ? nullptr : FindStyle(request.params.style);
    // Backends validate with the extra images present (their blob ids are not known yet), so a
    // backend that needs e.g. "reference_image" accepts a job that uploads one.
    JobParams resolve_params = request.params;
    for (const auto& [name, bytes] : request.extra_images) {
        if (name.size() < 6 || name.substr(name.size() - 6) != "_image") {
            return InvalidArgument("unexpected image field '" + name + "'");
        }
        resolve_params.options[name] = "pending-upload";
    }
    LABHOUSE_ASSIGN_OR_RETURN(Transformer * backend,
                              backends_.Resolve(request.params.backend, resolve_params, style));
    const std::string fingerprint = RequestFingerprint(request);

    Job job;
    job.id = NewJobId();
    job.params = request.params;
    job.params.backend = std::string(backend->Name());
    if (job.params.kind == JobKind::kImageToImage) {
        LABHOUSE_ASSIGN_OR_RETURN(job.input_blob, StoreImage("image", request.image_bytes));
    }
    for (const auto& [name, bytes] : request.extra_images) {
        LABHOUSE_ASSIGN_OR_RETURN(job.params.options[name], StoreImage(name, bytes));
    }
    job.max_attempts = limits_.max_attempts;
    job.created_ms = clock_.NowMs();
    job.progress.stage = "queued";
    job.idempotency_key = request.idempotency_key;
    if (!request.owner.empty() && !job.idempotency_key.empty()) {
        job.idempotency_key = request.owner + ":" + job.idempotency_key;
    }
    job.request_fingerprint = fingerprint;
    job.owner = request.owner;

    LABHOUSE_ASSIGN_OR_RETURN(auto created, jobs_.Create(job, request.quota));
    if (created.second) {
        events_.Publish({created.first.id, created.first.state, created.first.progress, std::nullopt});
        queue_.Announce(created.first.id);
    }
    return SubmitResult{std::move(created.first), created.second};
}

}  // namespace labhouse
