// ClassicTransformer ("classic"): photo effects from OpenCV's photo and imgproc modules. Needs no
// model and no network, so a fresh install can do real work; also the backend the tests drive.
#pragma once

#include <string>
#include <vector>

#include "labhouse/core/ports/transformer.h"

namespace labhouse::classic {

struct ClassicConfig {
    int max_side = 3072;  // larger photos are scaled down first so a job stays a few seconds
};

class ClassicTransformer final : public Transformer {
public:
    explicit ClassicTransformer(ClassicConfig config = {}) : config_(config) {}

    std::string_view Name() const override { return "classic"; }
    BackendStatus Status() const override;
    labhouse::Status Validate(const JobParams& params, const Style* style) const override;
    Result<TransformOutput> Transform(const TransformInput& input, ProgressReporter& progress) override;
    int MaxConcurrency() const override { return 1; }

    // The effect names this backend renders ("pencil-sketch", "watercolor", ...).
    static const std::vector<std::string>& Effects();

private:
    ClassicConfig config_;
};

}  // namespace labhouse::classic
