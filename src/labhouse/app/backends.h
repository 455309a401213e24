// Which transformers this process offers, in "auto" preference order. Each backend issue adds its
// registration here; nothing else in the app names a backend.
#pragma once

#include "labhouse/adapters/stability/stability_config.h"
#include "labhouse/app/config.h"
#include "labhouse/core/ports/image_codec.h"
#include "labhouse/core/usecases/backend_registry.h"

namespace labhouse::app {

void RegisterBackends(BackendRegistry& registry, const AppConfig& config, const ImageCodec& codec);
// The stability backend's settings from the LABHOUSE_STABILITY_* options (validated in AppConfig).
stability::StabilityConfig StabilityConfigFrom(const AppConfig& config);

}  // namespace labhouse::app
