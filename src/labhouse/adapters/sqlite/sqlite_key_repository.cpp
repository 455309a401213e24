#include "labhouse/adapters/sqlite/sqlite_key_repository.h"

#include "labhouse/adapters/sqlite/sqlite_job_repository.h"

namespace labhouse::sqlite {
namespace {

constexpr const char* kColumns =
    "id, name, secret_hash, prefix, admin, rate_per_minute, daily_jobs, created_ms, revoked_ms";

ApiKey ReadKey(const Statement& row) {
    ApiKey key;
    key.id = row.Text(0);
    key.name = row.Text(1);
    key.secret_hash = row.Text(2);
    key.prefix = row.Text(3);
    key.admin = row.Int(4) != 0;
    key.rate_per_minute = static_cast<int>(row.Int(5));
    key.daily_jobs = static_cast<int>(row.Int(6));
    key.created_ms = row.Int(7);
    key.revoked_ms = row.Int(8);
    return key;
}

}  // namespace

Result<std::unique_ptr<SqliteKeyRepository>> SqliteKeyRepository::Open(const std::string& path) {
    // The job repository owns the schema; opening it applies every pending migration.
    { LABHOUSE_ASSIGN_OR_RETURN(auto migrated, SqliteJobRepository::Open(path)); }
    LABHOUSE_ASSIGN_OR_RETURN(auto db, Database::Open(path));
    return std::unique_ptr<SqliteKeyRepository>(new SqliteKeyRepository(std::move(db)));
}

Status SqliteKeyRepository::Create(const ApiKey& key) {
    std::lock_guard lock(mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("INSERT INTO api_keys (") + kColumns +
                                                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(1, key.id)
        .Bind(2, key.name)
        .Bind(3, key.secret_hash)
        .Bind(4, key.prefix)
        .Bind(5, std::int64_t{key.admin ? 1 : 0})
        .Bind(6, std::int64_t{key.rate_per_minute})
        .Bind(7, std::int64_t{key.daily_jobs})
        .Bind(8, key.created_ms)
        .Bind(9, key.revoked_ms);
    return stmt.Run();
}

Result<ApiKey> SqliteKeyRepository::FindLocked(const std::string& column, const std::string& value) const {
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("SELECT ") + kColumns + " FROM api_keys WHERE " +
                                                      column + " = ?"));
    LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Bind(1, value).Step());
    if (!row) return NotFound("no such API key");
    return ReadKey(stmt);
}

Result<ApiKey> SqliteKeyRepository::FindByHash(const std::string& secret_hash) const {
    std::lock_guard lock(mutex_);
    return FindLocked("secret_hash", secret_hash);
}

Result<std::vector<ApiKey>> SqliteKeyRepository::List() const {
    std::lock_guard lock(mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare(std::string("SELECT ") + kColumns + " FROM api_keys ORDER BY created_ms, id"));
    std::vector<ApiKey> keys;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        keys.push_back(ReadKey(stmt));
    }
    return keys;
}

Result<ApiKey> SqliteKeyRepository::Revoke(const std::string& id, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    LABHOUSE_ASSIGN_OR_RETURN(auto stmt,
                              db_->Prepare("UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0"));
    LABHOUSE_RETURN_IF_ERROR(stmt.Bind(1, now_ms).Bind(2, id).Run());
    auto key = FindLocked("id", id);
    if (!key) return NotFound("API key " + id + " not found");
    return key;
}

}  // namespace labhouse::sqlite
