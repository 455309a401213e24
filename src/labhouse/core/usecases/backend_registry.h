// BackendRegistry: the transformers this process knows, and how "auto" picks one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/style.h"
#include "labhouse/core/ports/transformer.h"

namespace labhouse {

class BackendRegistry {
public:
    // Registration order is the "auto" preference order (best first).
    void Add(std::shared_ptr<Transformer> transformer);
    Transformer* Find(const std::string& name) const;
    std::vector<Transformer*> All() const;
    std::vector<std::string> Names() const;
    // The backends that make images from text alone (SupportsTextToImage()).
    std::vector<std::string> TextToImageNames() const;
    // Resolves a requested backend ("" or "auto" = the first available one that accepts the
    // parameters; for a text-to-image job, the first such one that supports it). kInvalidArgument
    // for an unknown name or a named backend that cannot do text-to-image; kFailedPrecondition when the named
    // backend is unavailable (the message says why) or none is available for "auto".
    Result<Transformer*> Resolve(const std::string& requested, const JobParams& params, const Style* style) const;

private:
    std::vector<std::shared_ptr<Transformer>> transformers_;
};

}  // namespace labhouse
