#include "labhouse/adapters/redis/redis_job_queue.h"

#include <thread>

#include "labhouse/core/base/log.h"

namespace labhouse::redis {
namespace {

// A blocking read never lasts longer than this, so WakeAll (shutdown) is noticed quickly.
constexpr std::chrono::milliseconds kMaxBlock{250};

bool IsNoGroup(const Error& error) { return error.message.rfind("NOGROUP", 0) == 0; }

// The job id of a stream entry [entry-id, [field, value, ...]]; empty when malformed.
std::string JobIdOf(const RedisReply& entry) {
    if (entry.elements.size() < 2) return {};
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "job") return fields[i + 1].str;
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<RedisJobQueue>> RedisJobQueue::Open(RedisQueueOptions options, const JobRepository& jobs) {
    LABHOUSE_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl(options.url));
    if (options.consumer.empty()) return InvalidArgument("a Redis queue consumer needs a name");
    auto queue = std::unique_ptr<RedisJobQueue>(new RedisJobQueue(std::move(options), std::move(url), jobs));
    auto rebuilt = queue->EnsureGroup();
    if (!rebuilt) return rebuilt.error();
    if (*rebuilt > 0) Log(LogLevel::kWarn, "queue_rebuilt", {{"jobs", std::to_string(*rebuilt)}});
    return queue;
}

Result<std::unique_ptr<RedisConnection>> RedisJobQueue::Acquire() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            return conn;
        }
        if (std::chrono::steady_clock::now() < connect_retry_at_) return Unavailable("Redis unreachable (backing off)");
    }
    auto conn = RedisConnection::Connect(url_, options_.connect_timeout);
    std::lock_guard lock(mutex_);
    if (conn) {
        connect_backoff_ = std::chrono::milliseconds(0);
    } else {
        connect_backoff_ = std::min<std::chrono::milliseconds>(
            std::max<std::chrono::milliseconds>(connect_backoff_ * 2, std::chrono::milliseconds(250)),
            std::chrono::seconds(10));
        connect_retry_at_ = std::chrono::steady_clock::now() + connect_backoff_;
    }
    return conn;
}

void RedisJobQueue::Return(std::unique_ptr<RedisConnection> conn) {
    if (!conn || conn->broken()) return;
    std::lock_guard lock(mutex_);
    if (idle_.size() < 16) idle_.push_back(std::move(conn));
}

Result<int> RedisJobQueue::EnsureGroup() {
    LABHOUSE_ASSIGN_OR_RETURN(auto conn, Acquire());
    auto created = conn->Command({"XGROUP", "CREATE", options_.stream, options_.group, "$", "MKSTREAM"});
    if (!created) {
        Return(std::move(conn));
        if (created.error().message.rfind("BUSYGROUP", 0) == 0) return 0;  // it exists: nothing was lost
        return created.error();
    }
    // The group was missing, so Redis lost (or never had) the hints: re-add every queued job, oldest
    // first. Entries added meanwhile by API nodes may be duplicated; duplicates are harmless hints.
    std::vector<std::string> queued;
    JobListQuery query{JobState::kQueued, 100, ""};
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(JobPage page, jobs_.List(query));
        for (const Job& job : page.jobs) queued.push_back(job.id);
        if (page.next_cursor.empty()) break;
        query.cursor = page.next_cursor;
    }
    int added = 0;
    for (auto it = queued.rbegin(); it != queued.rend(); ++it) {
        auto reply = conn->Command({"XADD", options_.stream, "*", "job", *it});
        if (!reply) {
            Return(std::move(conn));
            return reply.error();
        }
        ++added;
    }
    Return(std::move(conn));
    return added;
}

void RedisJobQueue::Announce(const std::string& job_id) {
    // Two tries: a pooled connection may have died with a Redis restart; the second is a fresh one.
    std::string failure;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto conn = Acquire();
        if (!conn) {
            failure = conn.error().message;
            break;
        }
        auto reply = (*conn)->Command({"XADD", options_.stream, "MAXLEN", "~",
                                       std::to_string(options_.max_stream_length), "*", "job", job_id});
        const bool broken = (*conn)->broken();
        Return(std::move(*conn));
        if (reply) return;
        failure = reply.error().message;
        if (!broken) break;
    }
    Log(LogLevel::kWarn, "queue_announce_failed", {{"job_id", job_id}, {"message", failure}});
}

std::optional<std::string> RedisJobQueue::Absorb(RedisConnection& conn, const RedisReply& entry) {
    if (entry.type != RedisReply::Type::kArray || entry.elements.empty()) return std::nullopt;
    const std::string entry_id = entry.elements[0].str;
    const std::string job_id = JobIdOf(entry);
    auto job = job_id.empty() ? Result<Job>(NotFound("malformed entry")) : jobs_.Get(job_id);
    if (!job && job.error().code != ErrorCode::kNotFound) {
        // The repository is unreachable: keep the entry pending and decide later.
        std::lock_guard lock(mutex_);
        held_[entry_id] = job_id;
        return std::nullopt;
    }
    if (!job || IsTerminal(job->state)) {
        (void)conn.Command({"XACK", options_.stream, options_.group, entry_id});
        std::lock_guard lock(mutex_);
        held_.erase(entry_id);
        return std::nullopt;
    }
    {
        std::lock_guard lock(mutex_);
        held_[entry_id] = job_id;
    }
    if (job->state == JobState::kQueued) return job_id;
    return std::nullopt;
}

int RedisJobQueue::AckFinished() {
    std::map<std::string, std::string> held;
    {
        std::lock_guard lock(mutex_);
        held = held_;
    }
    if (held.empty()) return 0;
    auto conn = Acquire();
    if (!conn) return 0;
    int acked = 0;
    for (const auto& [entry_id, job_id] : held) {
        auto job = jobs_.Get(job_id);
        if (job && !IsTerminal(job->state)) continue;
        if (!job && job.error().code != ErrorCode::kNotFound) continue;
        if (!(*conn)->Command({"XACK", options_.stream, options_.group, entry_id})) break;
        std::lock_guard lock(mutex_);
        held_.erase(entry_id);
        ++acked;
    }
    Return(std::move(*conn));
    return acked;
}

std::optional<std::string> RedisJobQueue::Reclaim() {
    auto conn = Acquire();
    if (!conn) return std::nullopt;
    std::optional<std::string> hint;
    std::string start = "0-0";
    // Bounded: one pass over the pending entries list, 100 at a time.
    for (int round = 0; round < 50; ++round) {
        auto reply = (*conn)->Command({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                                       std::to_string(options_.claim_idle_ms), start, "COUNT", "100"});
        if (!reply || reply->elements.size() < 2) break;
        for (const RedisReply& entry : reply->elements[1].elements) {
            auto id = Absorb(**conn, entry);
            if (id && !hint) hint = id;
        }
        start = reply->elements[0].str;
        if (start == "0-0") break;
    }
    Return(std::move(*conn));
    return hint;
}

std::optional<std::string> RedisJobQueue::Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const std::uint64_t generation = wake_generation_.load();
    AckFinished();
    bool reclaim = false;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_reclaim_ >= std::chrono::milliseconds(std::max<std::int64_t>(options_.claim_idle_ms / 2, 100))) {
            last_reclaim_ = now;
            reclaim = true;
        }
    }
    if (reclaim) {
        if (auto hint = Reclaim()) return hint;
    }
    while (wake_generation_.load() == generation) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        const auto block = std::min(left, kMaxBlock);
        auto conn = Acquire();
        if (!conn) {
            std::this_thread::sleep_for(block);
            continue;
        }
        // The socket timeout must outlast the server-side BLOCK.
        (*conn)->SetTimeout(block + options_.connect_timeout);
        auto reply = (*conn)->Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", "1", "BLOCK",
                                       std::to_string(std::max<std::int64_t>(block.count(), 1)), "STREAMS",
                                       options_.stream, ">"});
        if (!reply) {
            if (IsNoGroup(reply.error())) {
                Return(std::move(*conn));
                Log(LogLevel::kWarn, "queue_group_missing", {{"message", "Redis lost the stream; rebuilding"}});
                if (auto rebuilt = EnsureGroup(); rebuilt) {
                    Log(LogLevel::kWarn, "queue_rebuilt", {{"jobs", std::to_string(*rebuilt)}});
                }
                continue;
            }
            std::this_thread::sleep_for(block);
            continue;
        }
        std::optional<std::string> hint;
        // [[stream, [[entry-id, [field, value]], ...]]] or nil on timeout.
        for (const RedisReply& stream : reply->elements) {
            if (stream.elements.size() < 2) continue;
            for (const RedisReply& entry : stream.elements[1].elements) {
                auto id = Absorb(**conn, entry);
                if (id && !hint) hint = id;
            }
        }
        Return(std::move(*conn));
        if (hint) return hint;
    }
    return std::nullopt;
}

void RedisJobQueue::WakeAll() { ++wake_generation_; }

}  // namespace labhouse::redis
