#include "tests/contract/key_repository_contract.h"

#include <atomic>
#include <thread>

namespace labhouse::testing {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

ApiKey NewKey(const std::string& id, const std::string& hash_char, std::int64_t created = kNow) {
    ApiKey key;
    key.id = id;
    key.name = "alice \"quoted\" ünïcode";
    key.secret_hash = std::string(64, hash_char[0]);
    key.prefix = "lh_abcd";
    key.admin = false;
    key.rate_per_minute = 60;
    key.daily_jobs = 200;
    key.created_ms = created;
    return key;
}

TEST_P(KeyRepositoryContract, CreateThenFindByHashRoundTripsEveryField) {
    ApiKey key = NewKey("key_0000000000000001", "a");
    key.admin = true;
    ASSERT_TRUE(keys_->Create(key));
    auto found = keys_->FindByHash(key.secret_hash);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(*found, key);
    EXPECT_FALSE(found->revoked());
}

TEST_P(KeyRepositoryContract, UnknownHashIsNotFound) {
    auto found = keys_->FindByHash(std::string(64, 'f'));
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, ErrorCode::kNotFound);
}

TEST_P(KeyRepositoryContract, DuplicateIdOrHashIsAlreadyExists) {
    ASSERT_TRUE(keys_->Create(NewKey("key_0000000000000001", "a")));
    auto same_id = keys_->Create(NewKey("key_0000000000000001", "b"));
    ASSERT_FALSE(same_id);
    EXPECT_EQ(same_id.error().code, ErrorCode::kAlreadyExists);
    auto same_hash = keys_->Create(NewKey("key_0000000000000002", "a"));
    ASSERT_FALSE(same_hash);
    EXPECT_EQ(same_hash.error().code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(keys_->List()->size(), 1u);
}

TEST_P(KeyRepositoryContract, ListIsOldestFirstAndIncludesRevokedKeys) {
    ASSERT_TRUE(keys_->Create(NewKey("key_0000000000000003", "c", kNow + 2)));
    ASSERT_TRUE(keys_->Create(NewKey("key_0000000000000001", "a", kNow)));
    ASSERT_TRUE(keys_->Create(NewKey("key_0000000000000002", "b", kNow + 1)));
    ASSERT_TRUE(keys_->Revoke("key_0000000000000002", kNow + 10));
    auto all = keys_->List();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].id, "key_0000000000000001");
    EXPECT_EQ((*all)[1].id, "key_0000000000000002");
    EXPECT_TRUE((*all)[1].revoked());
    EXPECT_EQ((*all)[2].id, "key_0000000000000003");
}

TEST_P(KeyRepositoryContract, RevokeIsVisibleAtOnceAndKeepsTheFirstTime) {
    const ApiKey key = NewKey("key_0000000000000001", "a");
    ASSERT_TRUE(keys_->Create(key));
    auto revoked = keys_->Revoke(key.id, kNow + 5);
    ASSERT_TRUE(revoked);
    EXPECT_EQ(revoked->revoked_ms, kNow + 5);
    EXPECT_EQ(keys_->FindByHash(key.secret_hash)->revoked_ms, kNow + 5) << "no cache: the next lookup sees it";
    auto again = keys_->Revoke(key.id, kNow + 99);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->revoked_ms, kNow + 5);
    auto unknown = keys_->Revoke("key_ffffffffffffffff", kNow);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_P(KeyRepositoryContract, ConcurrentLookupsAndCreatesAreSafe) {
    ASSERT_TRUE(keys_->Create(NewKey("key_0000000000000000", "0")));
    std::vector<std::thread> threads;
    std::atomic<int> found{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            const std::string hash_char(1, static_cast<char>('a' + t));
            if (keys_->Create(NewKey("key_000000000000001" + std::to_string(t), hash_char))) {
                for (int i = 0; i < 20; ++i) found += keys_->FindByHash(std::string(64, '0')) ? 1 : 0;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(found.load(), 80);
    EXPECT_EQ(keys_->List()->size(), 5u);
}

}  // namespace
}  // namespace labhouse::testing
