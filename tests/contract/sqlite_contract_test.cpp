// The JobRepository contract against the SQLite adapter (a fresh database file per test).
#include "labhouse/adapters/sqlite/sqlite_job_repository.h"
#include "tests/contract/job_repository_contract.h"
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

}  // namespace
}  // namespace labhouse::testing
