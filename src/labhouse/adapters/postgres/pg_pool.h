// PgPool: a small pool of libpqxx connections to one PostgreSQL database, shared by the job
// repository and the blob store of a process. Connections are opened lazily, up to `max_size`;
// a connection that broke is dropped instead of returned, so the next caller reconnects. Every
// call goes through Run(), which turns libpqxx exceptions into labhouse::Error values.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>
#include <pqxx/except>

#include "labhouse/core/base/result.h"

namespace labhouse::postgres {

struct PgOptions {
    std::string url;        // postgresql://user:pass@host:port/db (libpq URI or key=value string)
    std::string schema;     // empty = the server default (public); created when missing
    int max_connections = 8;
};

class PgPool {
public:
    // Opens one connection to check the URL; kUnavailable when the server cannot be reached.
    static Result<std::shared_ptr<PgPool>> Open(const PgOptions& options);
    ~PgPool();

    // Runs `fn` with a connection of its own (waiting for one when all are busy). Exceptions from
    // libpqxx become errors: a lost connection or a serialization failure is kUnavailable, a
    // unique violation kAlreadyExists, anything else kInternal. Thread-safe.
    template <typename T>
    Result<T> Run(const std::function<Result<T>(pqxx::connection&)>& fn);

    const PgOptions& options() const { return options_; }

private:
    explicit PgPool(PgOptions options) : options_(std::move(options)) {}
    Result<std::unique_ptr<pqxx::connection>> Connect();
    Result<std::unique_ptr<pqxx::connection>> Acquire();
    void Return(std::unique_ptr<pqxx::connection> conn, bool healthy);
    // Calls fn under the exception firewall; sets `broken` when the connection must be dropped.
    static Status Guard(const std::function<void()>& fn, bool& broken);

    PgOptions options_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    int open_ = 0;
};

template <typename T>
Result<T> PgPool::Run(const std::function<Result<T>(pqxx::connection&)>& fn) {
    auto conn = Acquire();
    if (!conn) return conn.error();
    bool broken = false;
    std::optional<Result<T>> result;
    Status guarded = Guard([&] { result.emplace(fn(**conn)); }, broken);
    Return(std::move(*conn), !broken);
    if (!guarded) return guarded.error();
    return std::move(*result);
}

// Quotes an SQL identifier ("my schema" -> "\"my schema\""), for the schema name only.
std::string QuoteIdentifier(const std::string& name);

}  // namespace labhouse::postgres
