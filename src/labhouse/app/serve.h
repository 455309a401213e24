// `labhouse serve` and `labhouse migrate`: the composition root. Only this layer constructs
// adapters and wires them to the use cases.
#pragma once

#include "labhouse/app/config.h"

namespace labhouse::app {

// Runs the service until SIGTERM/SIGINT. Returns the process exit code.
int RunServe(const AppConfig& config);
// Applies pending database migrations and prints the schema version.
int RunMigrate(const AppConfig& config);

}  // namespace labhouse::app
