// The JobRepository contract: one suite every adapter must pass (SQLite here, PostgreSQL where
// built). An adapter's test file instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobRepositoryContract, ::testing::Values(RepositoryFactory{...}));
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "labhouse/core/ports/job_repository.h"

namespace labhouse::testing {

struct RepositoryFactory {
    std::string name;
    // Returns a fresh, empty repository for each test.
    std::function<std::unique_ptr<JobRepository>()> make;
};

inline std::string PrintToString(const RepositoryFactory& f) { return f.name; }

class JobRepositoryContract : public ::testing::TestWithParam<RepositoryFactory> {
protected:
    void SetUp() override {
        repo_ = GetParam().make();
        if (IsSkipped()) return;  // a factory whose service is not configured calls GTEST_SKIP()
        ASSERT_NE(repo_, nullptr);
    }
    std::unique_ptr<JobRepository> repo_;
};

}  // namespace labhouse::testing
