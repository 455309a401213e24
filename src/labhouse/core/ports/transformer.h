// Transformer: one backend that turns a photo into a new one (classic effects, SDXL on libtorch,
// the Stability API, face swap, pix2pix), and, where SupportsTextToImage() says so, makes a new
// image from a prompt alone. The worker calls Transform on its own thread; the transformer reports
// progress and polls for cancellation between steps.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/domain/style.h"

namespace labhouse {

struct BackendStatus {
    bool available = false;
    std::string reason;                          // why not available (empty when available)
    std::map<std::string, std::string> details;  // e.g. model, balance
};

// Receives progress from a running transform. Implementations are cheap to call once per step.
class ProgressReporter {
public:
    virtual ~ProgressReporter() = default;
    virtual void Report(const JobProgress& progress) = 0;
    // A look at the image being made (e.g. after a sampling step), for live listeners only.
    virtual void ReportPreview(const Image& preview) { (void)preview; }
    // True once the job should stop: the transform returns Cancelled(...) at its next step.
    virtual bool CancelRequested() = 0;
};

struct TransformInput {
    // The decoded upload; an empty Image for text-to-image jobs (params.kind), which only reach
    // backends whose SupportsTextToImage() is true.
    const Image& image;
    const JobParams& params;
    const Style* style;  // nullptr when the job names none
    // Decoded images named by params.options entries whose key ends in "_image" (blob ids),
    // e.g. "reference_image".
    const std::map<std::string, Image>& extra_images;
};

struct TransformOutput {
    Image image;
    // What was actually used, for the job record and the PNG text chunk (seed, model, sampler ...).
    std::map<std::string, std::string> meta;
};

class Transformer {
public:
    virtual ~Transformer() = default;
    virtual std::string_view Name() const = 0;
    virtual BackendStatus Status() const = 0;
    // Checks backend-specific parameters at submit time, before anything is stored.
    virtual labhouse::Status Validate(const JobParams& params, const Style* style) const = 0;
    // Runs the transformation. Returns Cancelled(...) when the reporter asked to stop; other errors
    // fail the job (Error::reason, when set, becomes the job's error code).
    virtual Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) = 0;
    // True when the backend makes images from text alone (JobKind::kTextToImage, with
    // params.width/height). The registry refuses text-to-image jobs for the others, naming them.
    virtual bool SupportsTextToImage() const { return false; }
    // How many jobs of this backend one worker process may run at once (remote backends: several).
    virtual int MaxConcurrency() const { return 1; }
};

}  // namespace labhouse
