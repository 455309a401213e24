// The JobRepository and KeyRepository contracts against the SQLite adapters (a fresh database file
// per test).
#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "labhouse/adapters/sqlite/sqlite_key_repository.h"
#include "tests/contract/job_repository_contract.h"
#include "tests/contract/key_repository_contract.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

std::unique_ptr<JobRepository> MakeSqlite() {
    static TempDir dir;
    static int counter = 0;
    auto repo = sqlite::SqliteJobRepository::Open((dir.path() / ("jobs" + std::to_string(counter++) + ".db")).string());
    if (!repo) return nullptr;
    return std::move(*repo);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, JobRepositoryContract, ::testing::Values(RepositoryFactory{"Sqlite", MakeSqlite}),
                         [](const auto& info) { return info.param.name; });

std::unique_ptr<KeyRepository> MakeSqliteKeys() {
    static TempDir dir;
    static int counter = 0;
    auto keys = sqlite::SqliteKeyRepository::Open((dir.path() / ("keys" + std::to_string(counter++) + ".db")).string());
    if (!keys) return nullptr;
    return std::move(*keys);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, KeyRepositoryContract, ::testing::Values(KeyStoreFactory{"Sqlite", MakeSqliteKeys}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace labhouse::testing
