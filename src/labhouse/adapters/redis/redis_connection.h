// RedisConnection: one hiredis connection with owned replies and errors as values. Not
// thread-safe: the queue and the event bus keep a small pool (or one per thread) of these.
// An I/O error marks the connection broken; its owner drops it and connects again.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"

struct redisContext;

namespace labhouse::redis {

struct RedisUrl {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;
    int db = 0;
};

// Parses redis://[:password@]host[:port][/db]. kInvalidArgument when malformed.
Result<RedisUrl> ParseRedisUrl(const std::string& url);

struct RedisReply {
    enum class Type { kNil, kString, kInteger, kArray, kStatus };
    Type type = Type::kNil;
    std::string str;
    long long integer = 0;
    std::vector<RedisReply> elements;
};

class RedisConnection {
public:
    // Connects (AUTH and SELECT when the URL asks). kUnavailable when Redis cannot be reached.
    static Result<std::unique_ptr<RedisConnection>> Connect(const RedisUrl& url, std::chrono::milliseconds timeout);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Sends one command and reads its reply. An error reply from Redis is kFailedPrecondition with
    // Redis's message ("NOGROUP ...", "BUSYGROUP ..."), an I/O error kUnavailable (and broken()).
    Result<RedisReply> Command(const std::vector<std::string>& args);
    // Reads the next pushed reply (pub/sub). Blocks until one arrives or the socket closes.
    Result<RedisReply> ReadPush();
    // Socket read/write timeout for later commands; zero = block forever.
    void SetTimeout(std::chrono::milliseconds timeout);
    // Makes a thread blocked in ReadPush return (kUnavailable). Safe from another thread.
    void Interrupt();
    bool broken() const { return broken_; }

private:
    explicit RedisConnection(redisContext* context) : context_(context) {}
    Result<RedisReply> Take(void* raw);

    redisContext* context_;
    bool broken_ = false;
};

}  // namespace labhouse::redis
