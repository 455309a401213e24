#include "labhouse/adapters/postgres/pg_pool.h"

#include <optional>

#include <pqxx/pqxx>

namespace labhouse::postgres {

std::string QuoteIdentifier(const std::string& name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

Result<std::shared_ptr<PgPool>> PgPool::Open(const PgOptions& options) {
    if (options.max_connections < 1) return InvalidArgument("a PostgreSQL pool needs at least one connection");
    auto pool = std::shared_ptr<PgPool>(new PgPool(options));
    auto conn = pool->Connect();
    if (!conn) return conn.error();
    pool->Return(std::move(*conn), true);
    std::lock_guard lock(pool->mutex_);
    pool->open_ = 1;
    return pool;
}

PgPool::~PgPool() = default;

Result<std::unique_ptr<pqxx::connection>> PgPool::Connect() {
    std::unique_ptr<pqxx::connection> conn;
    bool broken = false;
    Status status = Guard(
        [&] {
            conn = std::make_unique<pqxx::connection>(options_.url);
            if (!options_.schema.empty()) {
                pqxx::nontransaction tx(*conn);
                // Every process creates it the first time; IF NOT EXISTS still races on the catalog,
                // so a concurrent creator's duplicate is ignored by retrying the SET only.
                try {
                    tx.exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(options_.schema));
                } catch (const pqxx::unique_violation&) {
                }
                tx.exec("SET search_path TO " + QuoteIdentifier(options_.schema));
            }
        },
        broken);
    if (!status) return Unavailable("cannot connect to PostgreSQL: " + status.error().message);
    return conn;
}

Result<std::unique_ptr<pqxx::connection>> PgPool::Acquire() {
    std::unique_lock lock(mutex_);
    while (true) {
        if (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            return conn;
        }
        if (open_ < options_.max_connections) {
            ++open_;
            lock.unlock();
            auto conn = Connect();
            if (!conn) {
                lock.lock();
                --open_;
                available_.notify_one();
            }
            return conn;
        }
        available_.wait(lock);
    }
}

void PgPool::Return(std::unique_ptr<pqxx::connection> conn, bool healthy) {
    std::lock_guard lock(mutex_);
    if (healthy && conn && conn->is_open()) {
        idle_.push_back(std::move(conn));
    } else {
        --open_;
    }
    available_.notify_one();
}

Status PgPool::Guard(const std::function<void()>& fn, bool& broken) {
    try {
        fn();
        return OkStatus();
    } catch (const pqxx::broken_connection& e) {
        broken = true;
        return Unavailable(std::string("PostgreSQL connection lost: ") + e.what());
    } catch (const pqxx::in_doubt_error& e) {
        broken = true;
        return Unavailable(std::string("PostgreSQL commit in doubt: ") + e.what());
    } catch (const pqxx::serialization_failure& e) {
        return Unavailable(std::string("PostgreSQL serialization failure, retry: ") + e.what());
    } catch (const pqxx::deadlock_detected& e) {
        return Unavailable(std::string("PostgreSQL deadlock, retry: ") + e.what());
    } catch (const pqxx::unique_violation& e) {
        return AlreadyExists(std::string("PostgreSQL unique violation: ") + e.what());
    } catch (const pqxx::insufficient_resources& e) {
        return ResourceExhausted(std::string("PostgreSQL out of resources: ") + e.what());
    } catch (const pqxx::sql_error& e) {
        return Internal(std::string("PostgreSQL error: ") + e.what() + " (query: " + e.query().substr(0, 200) + ")");
    } catch (const std::exception& e) {
        broken = true;
        return Internal(std::string("PostgreSQL client error: ") + e.what());
    }
}

}  // namespace labhouse::postgres
