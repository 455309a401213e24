// RedisJobQueue: the scale-out JobQueue, a Redis Stream read through one consumer group shared by
// every worker process. The stream carries job ids only; the job repository stays the source of
// truth, so:
// - an entry is acknowledged (XACK) once its job has ended, which a consumer checks in the
//   repository; a worker that dies leaves its entries pending, and another consumer takes them
//   over (XAUTOCLAIM) once they have been idle for a lease, so no hint is lost with the worker;
// - when the consumer group is missing (first start, or Redis restarted without its data), the
//   group is created and the stream rebuilt from the repository's queued jobs.
// Wait() only hints that a job may be claimable; the worker then claims from the repository,
// which also covers jobs whose hint was lost. Thread-safe: each call uses its own connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "labhouse/adapters/redis/redis_connection.h"
#include "labhouse/core/ports/job_queue.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse::redis {

struct RedisQueueOptions {
    std::string url = "redis://127.0.0.1:6379";
    std::string stream = "labhouse:jobs";
    std::string group = "labhouse-workers";
    std::string consumer;                   // unique per process, e.g. host-pid
    std::int64_t claim_idle_ms = 60000;     // take over another consumer's entry after this (the lease)
    std::int64_t max_stream_length = 100000;  // XADD MAXLEN ~: old hints are trimmed
    std::chrono::milliseconds connect_timeout{2000};
};

class RedisJobQueue final : public JobQueue {
public:
    // Connects, and creates the group (rebuilding the stream from `jobs`) when it is missing.
    // kUnavailable when Redis cannot be reached. `jobs` must outlive the queue.
    static Result<std::unique_ptr<RedisJobQueue>> Open(RedisQueueOptions options, const JobRepository& jobs);

    // XADD; a failure is logged and ignored (workers still find the job by polling the repository).
    void Announce(const std::string& job_id) override;
    std::optional<std::string> Wait(std::chrono::milliseconds timeout) override;
    void WakeAll() override;

    // Creates the consumer group if missing; if it was, re-adds every queued job of the repository
    // to the stream. Returns how many ids were re-added.
    Result<int> EnsureGroup();
    // Acknowledges every entry this process holds whose job has ended. Returns how many.
    int AckFinished();
    // Takes over entries idle longer than claim_idle_ms; returns the first whose job is queued.
    std::optional<std::string> Reclaim();

private:
    RedisJobQueue(RedisQueueOptions options, RedisUrl url, const JobRepository& jobs)
        : options_(std::move(options)), url_(std::move(url)), jobs_(jobs) {}

    class Lease;
    Result<std::unique_ptr<RedisConnection>> Acquire();
    void Return(std::unique_ptr<RedisConnection> conn);
    // Sorts one delivered entry: ended jobs are acknowledged, others are remembered until they end.
    // Returns the job id when the job is queued (worth a claim).
    std::optional<std::string> Absorb(RedisConnection& conn, const RedisReply& entry);

    RedisQueueOptions options_;
    RedisUrl url_;
    const JobRepository& jobs_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<RedisConnection>> idle_;
    std::map<std::string, std::string> held_;  // entry id -> job id, delivered here and not yet acked
    std::chrono::steady_clock::time_point last_reclaim_{};
    // After a failed connect, new connects are refused until then (doubling up to 10 s), so an
    // unreachable Redis costs a submission nothing instead of a connect timeout each time.
    std::chrono::steady_clock::time_point connect_retry_at_{};
    std::chrono::milliseconds connect_backoff_{0};
    std::atomic<std::uint64_t> wake_generation_{0};
};

}  // namespace labhouse::redis
