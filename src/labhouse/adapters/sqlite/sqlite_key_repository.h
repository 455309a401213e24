// SqliteKeyRepository: API keys in the same SQLite file as the jobs (table api_keys, created by the
// job repository's migration 2). Its own connection, so key lookups never wait on the job
// repository's mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "labhouse/adapters/sqlite/sqlite_db.h"
#include "labhouse/core/ports/key_repository.h"

namespace labhouse::sqlite {

class SqliteKeyRepository final : public KeyRepository {
public:
    // Opens the database, applying pending migrations first.
    static Result<std::unique_ptr<SqliteKeyRepository>> Open(const std::string& path);

    Status Create(const ApiKey& key) override;
    Result<ApiKey> FindByHash(const std::string& secret_hash) const override;
    Result<std::vector<ApiKey>> List() const override;
    Result<ApiKey> Revoke(const std::string& id, std::int64_t now_ms) override;

private:
    explicit SqliteKeyRepository(std::unique_ptr<Database> db) : db_(std::move(db)) {}
    Result<ApiKey> FindLocked(const std::string& column, const std::string& value) const;

    mutable std::mutex mutex_;
    std::unique_ptr<Database> db_;
};

}  // namespace labhouse::sqlite
