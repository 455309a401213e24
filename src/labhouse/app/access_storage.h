// Where the `keys` auth mode keeps its state, chosen from the configuration like the job store:
// API keys in the configured database (the SQLite file, or the shared PostgreSQL of a scale-out
// deployment, so every API node and `labhouse keys` anywhere see the same keys).
#pragma once

#include <memory>

#include "labhouse/app/config.h"
#include "labhouse/core/ports/key_repository.h"

namespace labhouse::app {

// Opens (and migrates) the key store of the configured database. kUnavailable when the database
// server cannot be reached.
Result<std::unique_ptr<KeyRepository>> OpenKeyRepository(const AppConfig& config);

}  // namespace labhouse::app
