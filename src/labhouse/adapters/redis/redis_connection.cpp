#include "labhouse/adapters/redis/redis_connection.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

namespace labhouse::redis {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

RedisReply Convert(const redisReply* reply) {
    RedisReply out;
    switch (reply->type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::kString;
            out.str.assign(reply->str, reply->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::kStatus;
            out.str.assign(reply->str, reply->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::kInteger;
            out.integer = reply->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::kArray;
            for (std::size_t i = 0; i < reply->elements; ++i) out.elements.push_back(Convert(reply->element[i]));
            break;
        default:
            out.type = RedisReply::Type::kNil;
    }
    return out;
}

}  // namespace

Result<RedisUrl> ParseRedisUrl(const std::string& url) {
    const std::string scheme = "redis://";
    if (url.rfind(scheme, 0) != 0) return InvalidArgument("Redis URL must start with redis:// (got '" + url + "')");
    std::string rest = url.substr(scheme.size());
    RedisUrl parsed;
    if (const auto at = rest.rfind('@'); at != std::string::npos) {
        std::string auth = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (const auto colon = auth.find(':'); colon != std::string::npos) auth = auth.substr(colon + 1);
        parsed.password = auth;
    }
    if (const auto slash = rest.find('/'); slash != std::string::npos) {
        const std::string db = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (!db.empty()) {
            if (db.size() > 3 || db.find_first_not_of("0123456789") != std::string::npos) {
                return InvalidArgument("Redis URL database must be a number");
            }
            parsed.db = std::stoi(db);
        }
    }
    if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
        const std::string port = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(port) < 1 || std::stoi(port) > 65535) {
            return InvalidArgument("Redis URL port must be between 1 and 65535");
        }
        parsed.port = std::stoi(port);
    }
    if (rest.empty()) return InvalidArgument("Redis URL has no host");
    parsed.host = rest;
    return parsed;
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisUrl& url,
                                                                  std::chrono::milliseconds timeout) {
    redisContext* context = redisConnectWithTimeout(url.host.c_str(), url.port, ToTimeval(timeout));
    if (context == nullptr) return Unavailable("cannot allocate a Redis connection");
    if (context->err != 0) {
        const std::string message = context->errstr;
        redisFree(context);
        return Unavailable("cannot connect to Redis at " + url.host + ":" + std::to_string(url.port) + ": " + message);
    }
    redisEnableKeepAlive(context);
    auto conn = std::unique_ptr<RedisConnection>(new RedisConnection(context));
    conn->SetTimeout(timeout * 10);
    if (!url.password.empty()) {
        auto auth = conn->Command({"AUTH", url.password});
        if (!auth) return Unavailable("Redis AUTH failed: " + auth.error().message);
    }
    if (url.db != 0) {
        auto select = conn->Command({"SELECT", std::to_string(url.db)});
        if (!select) return Unavailable("Redis SELECT failed: " + select.error().message);
    }
    return conn;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

void RedisConnection::SetTimeout(std::chrono::milliseconds timeout) {
    redisSetTimeout(context_, ToTimeval(timeout));
}

void RedisConnection::Interrupt() { ::shutdown(context_->fd, SHUT_RDWR); }

Result<RedisReply> RedisConnection::Take(void* raw) {
    auto* reply = static_cast<redisReply*>(raw);
    if (reply == nullptr) {
        broken_ = true;
        return Unavailable(std::string("Redis connection error: ") + context_->errstr);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        std::string message(reply->str, reply->len);
        freeReplyObject(reply);
        return FailedPrecondition(message);
    }
    RedisReply converted = Convert(reply);
    freeReplyObject(reply);
    return converted;
}

Result<RedisReply> RedisConnection::Command(const std::vector<std::string>& args) {
    if (broken_) return Unavailable("Redis connection is broken");
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    return Take(redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data()));
}

Result<RedisReply> RedisConnection::ReadPush() {
    if (broken_) return Unavailable("Redis connection is broken");
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK) {
        broken_ = true;
        return Unavailable(std::string("Redis connection error: ") + context_->errstr);
    }
    return Take(raw);
}

}  // namespace labhouse::redis
