// The JobRepository and KeyRepository contracts against the PostgreSQL adapters, on the server named by
// LABHOUSE_TEST_PG_DSN (scripts/test-services.sh starts one). Each test gets a fresh schema, and
// the schemas this process created are dropped when the suite ends. Skipped when the variable is
// unset; `make test` sets it.
#include <pqxx/pqxx>

#include <unistd.h>

#include <atomic>
#include <thread>

#include "labhouse/adapters/postgres/postgres_blob_store.h"
#include "labhouse/adapters/postgres/postgres_job_repository.h"
#include "labhouse/adapters/postgres/postgres_key_repository.h"
#include "labhouse/core/base/sha256.h"
#include "tests/contract/job_repository_contract.h"
#include "tests/contract/key_repository_contract.h"

namespace labhouse::testing {
namespace {

std::string Dsn() {
    const char* dsn = std::getenv("LABHOUSE_TEST_PG_DSN");
    return dsn == nullptr ? std::string() : std::string(dsn);
}

std::vector<std::string>& CreatedSchemas() {
    static std::vector<std::string> schemas;
    return schemas;
}

Result<std::shared_ptr<postgres::PgPool>> FreshPool(int connections = 4) {
    static int counter = 0;
    const std::string schema = "lh_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    CreatedSchemas().push_back(schema);
    return postgres::PgPool::Open({Dsn(), schema, connections});
}

void SkipWithoutPostgres() { GTEST_SKIP() << "LABHOUSE_TEST_PG_DSN is not set (scripts/test-services.sh start)"; }

// A repository opened by `open` on a pool of a fresh schema of its own; nullptr when PostgreSQL is
// not configured (the test is skipped) or the repository cannot be opened (the test fails).
template <class Port, class Open>
std::unique_ptr<Port> OpenOnFreshSchema(Open open) {
    if (Dsn().empty()) {
        SkipWithoutPostgres();
        return nullptr;
    }
    auto pool = FreshPool();
    if (!pool) {
        ADD_FAILURE() << pool.error().message;
        return nullptr;
    }
    auto repo = open(*pool);
    if (!repo) {
        ADD_FAILURE() << repo.error().message;
        return nullptr;
    }
    return std::move(*repo);
}

std::unique_ptr<JobRepository> MakePostgres() {
    return OpenOnFreshSchema<JobRepository>([](auto& pool) { return postgres::PostgresJobRepository::Open(pool); });
}

class DropSchemas : public ::testing::Environment {
public:
    void TearDown() override {
        if (Dsn().empty() || CreatedSchemas().empty()) return;
        pqxx::connection conn(Dsn());
        pqxx::nontransaction tx(conn);
        for (const auto& schema : CreatedSchemas()) tx.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
};
const auto* const kDropSchemas = ::testing::AddGlobalTestEnvironment(new DropSchemas);

INSTANTIATE_TEST_SUITE_P(Postgres, JobRepositoryContract,
                         ::testing::Values(RepositoryFactory{"Postgres", MakePostgres}),
                         [](const auto& info) { return info.param.name; });

std::unique_ptr<KeyRepository> MakePostgresKeys() {
    return OpenOnFreshSchema<KeyRepository>([](auto& pool) { return postgres::PostgresKeyRepository::Open(pool); });
}

INSTANTIATE_TEST_SUITE_P(Postgres, KeyRepositoryContract,
                         ::testing::Values(KeyStoreFactory{"Postgres", MakePostgresKeys}),
                         [](const auto& info) { return info.param.name; });

// Migrations are versioned and idempotent: a second open (another process starting) changes nothing.
TEST(PostgresRepository, MigrationsAreVersionedAndRunOnce) {
    if (Dsn().empty()) GTEST_SKIP() << "LABHOUSE_TEST_PG_DSN is not set";
    auto pool = FreshPool();
    ASSERT_TRUE(pool) << pool.error().message;
    auto first = postgres::PostgresJobRepository::Open(*pool);
    ASSERT_TRUE(first) << first.error().message;
    auto version = (*first)->SchemaVersion();
    ASSERT_TRUE(version);
    EXPECT_GE(*version, 2) << "jobs, then blobs, then whatever later issues append";
    auto second = postgres::PostgresJobRepository::Open(*pool);
    ASSERT_TRUE(second);
    EXPECT_EQ(*(*second)->SchemaVersion(), *version);
    auto applied = pool->get()->Run<int>([](pqxx::connection& conn) -> Result<int> {
        pqxx::read_transaction tx(conn);
        return tx.exec("SELECT COUNT(*) FROM schema_migrations")[0][0].as<int>();
    });
    ASSERT_TRUE(applied);
    EXPECT_EQ(*applied, *version) << "each migration recorded once";
}

TEST(PostgresRepository, ConcurrentOpensFromManyThreadsMigrateOnce) {
    if (Dsn().empty()) GTEST_SKIP() << "LABHOUSE_TEST_PG_DSN is not set";
    auto pool = FreshPool(8);
    ASSERT_TRUE(pool) << pool.error().message;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&] {
            if (postgres::PostgresJobRepository::Open(*pool)) ++ok;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 6);
}

TEST(PostgresBlobStore, StoresContentAddressedBytesOnce) {
    if (Dsn().empty()) GTEST_SKIP() << "LABHOUSE_TEST_PG_DSN is not set";
    auto pool = FreshPool();
    ASSERT_TRUE(pool) << pool.error().message;
    auto store = postgres::PostgresBlobStore::Open(*pool);
    ASSERT_TRUE(store) << store.error().message;
    std::string bytes(300'000, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 256);
    auto id = (*store)->Put(bytes);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, Sha256Hex(bytes));
    auto again = (*store)->Put(bytes);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *id);
    auto got = (*store)->Get(*id);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, bytes) << "binary bytes, NULs included, round-trip";
    EXPECT_TRUE(*(*store)->Exists(*id));
    ASSERT_TRUE((*store)->Remove(*id));
    EXPECT_FALSE(*(*store)->Exists(*id));
    EXPECT_EQ((*store)->Get(*id).error().code, ErrorCode::kNotFound);
    EXPECT_TRUE((*store)->Remove(*id)) << "removing an absent blob is not an error";
    EXPECT_EQ((*store)->Get("../etc/passwd").error().code, ErrorCode::kInvalidArgument);
}

TEST(PostgresRepository, LostServerIsUnavailableNotACrash) {
    auto pool = postgres::PgPool::Open({"postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "", 1});
    ASSERT_FALSE(pool);
    EXPECT_EQ(pool.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace labhouse::testing
