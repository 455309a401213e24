// `labhouse worker`: worker processes for the scale-out deployment. Runs jobs from the shared
// PostgreSQL repository (woken by the Redis queue when configured), with no HTTP server. Any
// number of them, on any machines, next to API nodes started with `labhouse serve --workers 0`.
#pragma once

#include "labhouse/app/config.h"

namespace labhouse::app {

// Runs worker threads until SIGTERM/SIGINT, then lets running jobs finish for the shutdown grace
// and gives the rest back to the queue. Returns the process exit code: 2 for a configuration
// error (including an embedded SQLite database, which only `serve` may own), 1 when a store is
// unreachable.
int RunWorker(const AppConfig& config);

}  // namespace labhouse::app
