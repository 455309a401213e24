// Which transformers this process offers, in "auto" preference order. Each backend issue adds its
// registration here; nothing else in the app names a backend.
#pragma once

#include "labhouse/app/config.h"
#include "labhouse/core/ports/image_codec.h"
#include "labhouse/core/usecases/backend_registry.h"

namespace labhouse::app {

void RegisterBackends(BackendRegistry& registry, const AppConfig& config, const ImageCodec& codec);

}  // namespace labhouse::app
