// The KeyRepository contract: one suite every key store must pass (SQLite, and PostgreSQL where
// built). An adapter's test file instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, KeyRepositoryContract, ::testing::Values(KeyStoreFactory{...}));
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "labhouse/core/ports/key_repository.h"

namespace labhouse::testing {

struct KeyStoreFactory {
    std::string name;
    // Returns a fresh, empty key store for each test (GTEST_SKIP() when its service is not set up).
    std::function<std::unique_ptr<KeyRepository>()> make;
};

inline std::string PrintToString(const KeyStoreFactory& f) { return f.name; }

class KeyRepositoryContract : public ::testing::TestWithParam<KeyStoreFactory> {
protected:
    void SetUp() override {
        keys_ = GetParam().make();
        if (IsSkipped()) return;
        ASSERT_NE(keys_, nullptr);
    }
    std::unique_ptr<KeyRepository> keys_;
};

}  // namespace labhouse::testing
