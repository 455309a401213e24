// A thin RAII layer over the SQLite C API: a connection and prepared statements whose errors come
// back as labhouse::Error instead of return codes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "labhouse/core/base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace labhouse::sqlite {

// How long a statement waits for another connection's write lock before SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 5000;

class Statement {
public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& Bind(int index, const std::string& value);
    Statement& Bind(int index, std::int64_t value);
    Statement& Bind(int index, double value);
    Statement& BindNull(int index);
    Statement& BindOptional(int index, const std::string& value);  // empty string -> NULL
    // Advances: true when a row is available, false when done.
    Result<bool> Step();
    Status Run();  // steps to completion

    std::string Text(int column) const;
    std::int64_t Int(int column) const;
    double Double(int column) const;
    bool IsNull(int column) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

class Database {
public:
    // Opens (creating) the file, with WAL, foreign keys and a busy timeout.
    static Result<std::unique_ptr<Database>> Open(const std::string& path);
    ~Database();

    Result<Statement> Prepare(const std::string& sql);
    Status Exec(const std::string& sql);
    int Changes() const;
    sqlite3* handle() { return db_; }

private:
    explicit Database(sqlite3* db) : db_(db) {}
    sqlite3* db_;
};

// Maps an SQLite result code to an Error: SQLITE_BUSY/LOCKED -> kUnavailable, SQLITE_FULL ->
// kResourceExhausted, constraint violations -> kAlreadyExists, others -> kInternal.
Error SqliteError(sqlite3* db, int rc, const std::string& context);

}  // namespace labhouse::sqlite
