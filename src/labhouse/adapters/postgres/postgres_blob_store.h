// PostgresBlobStore: uploads and results as rows of the `blobs` table (BYTEA), content-addressed
// like every BlobStore. In the scale-out deployment API nodes and workers run on different
// machines; keeping blobs in the database they already share means no shared volume is needed.
// Fine for photos (a few MB each); a deployment with very large or very many results would put an
// object store behind this port instead. Thread-safe.
#pragma once

#include <memory>

#include "labhouse/adapters/postgres/pg_pool.h"
#include "labhouse/core/ports/blob_store.h"

namespace labhouse::postgres {

class PostgresBlobStore final : public BlobStore {
public:
    // Applies pending migrations (shared with PostgresJobRepository).
    static Result<std::unique_ptr<PostgresBlobStore>> Open(std::shared_ptr<PgPool> pool);

    Result<std::string> Put(std::string_view bytes) override;
    Result<std::string> Get(const std::string& id) const override;
    Result<bool> Exists(const std::string& id) const override;
    Status Remove(const std::string& id) override;

private:
    explicit PostgresBlobStore(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
    std::shared_ptr<PgPool> pool_;
};

}  // namespace labhouse::postgres
