// Versioned schema migrations for the PostgreSQL adapters (jobs, blobs and API keys), recorded in
// schema_migrations like the SQLite adapter's. Safe to run from many processes at once: an
// advisory lock serializes them, so the processes of a deployment can all start together.
#pragma once

#include "labhouse/adapters/postgres/pg_pool.h"

namespace labhouse::postgres {

// Applies every pending migration, each in its own transaction. Returns the schema version.
Result<int> Migrate(PgPool& pool);

}  // namespace labhouse::postgres
