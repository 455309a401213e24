// Helpers for the tests against the Redis named by LABHOUSE_TEST_REDIS_URL: unique key names per
// test (so parallel tests never share a stream) and removal of those keys afterwards.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "labhouse/adapters/redis/redis_connection.h"

namespace labhouse::testing {

inline std::string RedisUrl() {
    const char* url = std::getenv("LABHOUSE_TEST_REDIS_URL");
    return url == nullptr ? std::string() : std::string(url);
}

#define LABHOUSE_REQUIRE_REDIS()                                                                     \
    if (::labhouse::testing::RedisUrl().empty())                                                   \
    GTEST_SKIP() << "LABHOUSE_TEST_REDIS_URL is not set (scripts/test-services.sh start)"

// A direct connection for inspecting and cleaning up what the adapters wrote.
class RedisProbe {
public:
    RedisProbe() {
        auto url = redis::ParseRedisUrl(RedisUrl());
        if (url) {
            auto conn = redis::RedisConnection::Connect(*url, std::chrono::seconds(2));
            if (conn) conn_ = std::move(*conn);
        }
    }
    ~RedisProbe() {
        for (const auto& key : keys_) Command({"DEL", key});
    }
    // A key name no other test (or test process) uses; deleted when the probe goes.
    std::string Key(const std::string& what) {
        static int counter = 0;
        keys_.push_back("lh-test:" + std::to_string(getpid()) + ":" + std::to_string(counter++) + ":" + what);
        return keys_.back();
    }
    redis::RedisReply Command(const std::vector<std::string>& args) {
        if (!conn_) return {};
        auto reply = conn_->Command(args);
        return reply ? *reply : redis::RedisReply{};
    }
    bool ok() const { return conn_ != nullptr; }

private:
    std::unique_ptr<redis::RedisConnection> conn_;
    std::vector<std::string> keys_;
};

}  // namespace labhouse::testing
