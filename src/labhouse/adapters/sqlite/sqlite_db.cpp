#include "labhouse/adapters/sqlite/sqlite_db.h"

#include <memory>

#include <sqlite3.h>

namespace labhouse::sqlite {

Error SqliteError(sqlite3* db, int rc, const std::string& context) {
    const std::string detail = context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return Unavailable("database busy: " + detail);
        case SQLITE_FULL: return ResourceExhausted("database full: " + detail);
        case SQLITE_CONSTRAINT: return AlreadyExists(detail);
        default: return Internal("sqlite: " + detail);
    }
}

Statement::~Statement() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, const std::string& value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
}
Statement& Statement::Bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}
Statement& Statement::Bind(int index, double value) {
    sqlite3_bind_double(stmt_, index, value);
    return *this;
}
Statement& Statement::BindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}
Statement& Statement::BindOptional(int index, const std::string& value) {
    return value.empty() ? BindNull(index) : Bind(index, value);
}

Result<bool> Statement::Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, "step");
}

Status Statement::Run() {
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(bool row, Step());
        if (!row) return OkStatus();
    }
}

std::string Statement::Text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (text == nullptr) return {};
    return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        Error error = Unavailable("cannot open database '" + path + "': " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
        sqlite3_close(db);
        return error;
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    auto database = std::unique_ptr<Database>(new Database(db));
    LABHOUSE_RETURN_IF_ERROR(database->Exec("PRAGMA journal_mode=WAL"));
    LABHOUSE_RETURN_IF_ERROR(database->Exec("PRAGMA synchronous=NORMAL"));
    LABHOUSE_RETURN_IF_ERROR(database->Exec("PRAGMA foreign_keys=ON"));
    return database;
}

Database::~Database() { sqlite3_close(db_); }

Result<Statement> Database::Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    return Statement(db_, stmt);
}

Status Database::Exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string text = message ? message : "";
        sqlite3_free(message);
        return SqliteError(db_, rc, "exec");
    }
    return OkStatus();
}

int Database::Changes() const { return sqlite3_changes(db_); }

}  // namespace labhouse::sqlite
