#include "labhouse/adapters/postgres/postgres_key_repository.h"

#include <pqxx/pqxx>

#include "labhouse/adapters/postgres/pg_migrations.h"

namespace labhouse::postgres {
namespace {

constexpr const char* kColumns =
    "id, name, secret_hash, prefix, admin, rate_per_minute, daily_jobs, created_ms, revoked_ms";

ApiKey ReadKey(const pqxx::row& row) {
    ApiKey key;
    key.id = row[0].as<std::string>();
    key.name = row[1].as<std::string>();
    key.secret_hash = row[2].as<std::string>();
    key.prefix = row[3].as<std::string>();
    key.admin = row[4].as<bool>();
    key.rate_per_minute = row[5].as<int>();
    key.daily_jobs = row[6].as<int>();
    key.created_ms = row[7].as<std::int64_t>();
    key.revoked_ms = row[8].as<std::int64_t>();
    return key;
}

}  // namespace

Result<std::unique_ptr<PostgresKeyRepository>> PostgresKeyRepository::Open(std::shared_ptr<PgPool> pool) {
    LABHOUSE_RETURN_IF_ERROR(Migrate(*pool));
    return std::unique_ptr<PostgresKeyRepository>(new PostgresKeyRepository(std::move(pool)));
}

Status PostgresKeyRepository::Create(const ApiKey& key) {
    // A duplicate id or secret hash is a unique violation, which the pool reports as kAlreadyExists.
    return pool_->Run<void>([&](pqxx::connection& conn) -> Status {
        pqxx::work tx(conn);
        tx.exec_params(std::string("INSERT INTO api_keys (") + kColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       key.id, key.name, key.secret_hash, key.prefix, key.admin, key.rate_per_minute, key.daily_jobs,
                       key.created_ms, key.revoked_ms);
        tx.commit();
        return OkStatus();
    });
}

Result<ApiKey> PostgresKeyRepository::FindByHash(const std::string& secret_hash) const {
    return pool_->Run<ApiKey>([&](pqxx::connection& conn) -> Result<ApiKey> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM api_keys WHERE secret_hash = $1",
                                   secret_hash);
        if (rows.empty()) return NotFound("no such API key");
        return ReadKey(rows[0]);
    });
}

Result<std::vector<ApiKey>> PostgresKeyRepository::List() const {
    using Keys = std::vector<ApiKey>;
    return pool_->Run<Keys>([&](pqxx::connection& conn) -> Result<Keys> {
        pqxx::read_transaction tx(conn);
        Keys keys;
        for (const auto& row : tx.exec(std::string("SELECT ") + kColumns + " FROM api_keys ORDER BY created_ms, id")) {
            keys.push_back(ReadKey(row));
        }
        return keys;
    });
}

Result<ApiKey> PostgresKeyRepository::Revoke(const std::string& id, std::int64_t now_ms) {
    return pool_->Run<ApiKey>([&](pqxx::connection& conn) -> Result<ApiKey> {
        pqxx::work tx(conn);
        // revoked_ms = 0 in the guard keeps the first revocation time when revoked twice.
        tx.exec_params("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms = 0", now_ms, id);
        auto rows = tx.exec_params(std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = $1", id);
        if (rows.empty()) return NotFound("API key " + id + " not found");
        ApiKey key = ReadKey(rows[0]);
        tx.commit();
        return key;
    });
}

}  // namespace labhouse::postgres
