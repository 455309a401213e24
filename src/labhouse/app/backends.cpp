#include "labhouse/app/backends.h"

#include "labhouse/adapters/classic/classic_transformer.h"

namespace labhouse::app {

void RegisterBackends(BackendRegistry& registry, const AppConfig& config, const ImageCodec& codec) {
    // BACKENDS: most capable first; "auto" takes the first available one that accepts the job.
    registry.Add(std::make_shared<classic::ClassicTransformer>());
}

}  // namespace labhouse::app
