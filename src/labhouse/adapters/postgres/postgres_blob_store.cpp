#include "labhouse/adapters/postgres/postgres_blob_store.h"

#include <chrono>

#include <pqxx/pqxx>

#include "labhouse/adapters/postgres/pg_migrations.h"
#include "labhouse/core/base/sha256.h"

namespace labhouse::postgres {
namespace {
std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
}  // namespace

Result<std::unique_ptr<PostgresBlobStore>> PostgresBlobStore::Open(std::shared_ptr<PgPool> pool) {
    LABHOUSE_RETURN_IF_ERROR(Migrate(*pool));
    return std::unique_ptr<PostgresBlobStore>(new PostgresBlobStore(std::move(pool)));
}

Result<std::string> PostgresBlobStore::Put(std::string_view bytes) {
    const std::string id = Sha256Hex(bytes);
    return pool_->Run<std::string>([&](pqxx::connection& conn) -> Result<std::string> {
        pqxx::work tx(conn);
        // The same bytes always have the same id, so a second writer's row is identical: keep one.
        tx.exec_params("INSERT INTO blobs (id, data, size, created_ms) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (id) DO NOTHING",
                       id, pqxx::binarystring(bytes.data(), bytes.size()), static_cast<std::int64_t>(bytes.size()),
                       NowMs());
        tx.commit();
        return id;
    });
}

Result<std::string> PostgresBlobStore::Get(const std::string& id) const {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    return pool_->Run<std::string>([&](pqxx::connection& conn) -> Result<std::string> {
        pqxx::read_transaction tx(conn);
        auto rows = tx.exec_params("SELECT data FROM blobs WHERE id = $1", id);
        if (rows.empty()) return NotFound("blob " + id + " not found");
        return pqxx::binarystring(rows[0][0]).str();
    });
}

Result<bool> PostgresBlobStore::Exists(const std::string& id) const {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    return pool_->Run<bool>([&](pqxx::connection& conn) -> Result<bool> {
        pqxx::read_transaction tx(conn);
        return !tx.exec_params("SELECT 1 FROM blobs WHERE id = $1", id).empty();
    });
}

Status PostgresBlobStore::Remove(const std::string& id) {
    if (!IsValidBlobId(id)) return InvalidArgument("malformed blob id");
    return pool_->Run<void>([&](pqxx::connection& conn) -> Status {
        pqxx::work tx(conn);
        tx.exec_params("DELETE FROM blobs WHERE id = $1", id);
        tx.commit();
        return OkStatus();
    });
}

}  // namespace labhouse::postgres
