// PostgresKeyRepository: API keys in the shared PostgreSQL database (table api_keys, created by
// migration 5 with the same columns as the SQLite one), so every API node of a scale-out
// deployment, and `labhouse keys` run anywhere, see the same keys. Passes the KeyRepository
// contract suite (tests/contract/key_repository_contract.h). Thread-safe: each call takes its own
// connection from the pool.
#pragma once

#include <memory>

#include "labhouse/adapters/postgres/pg_pool.h"
#include "labhouse/core/ports/key_repository.h"

namespace labhouse::postgres {

class PostgresKeyRepository final : public KeyRepository {
public:
    // Applies pending migrations (the same ones as the job repository) and returns the repository.
    static Result<std::unique_ptr<PostgresKeyRepository>> Open(std::shared_ptr<PgPool> pool);

    Status Create(const ApiKey& key) override;
    Result<ApiKey> FindByHash(const std::string& secret_hash) const override;
    Result<std::vector<ApiKey>> List() const override;
    Result<ApiKey> Revoke(const std::string& id, std::int64_t now_ms) override;

private:
    explicit PostgresKeyRepository(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}
    std::shared_ptr<PgPool> pool_;
};

}  // namespace labhouse::postgres
