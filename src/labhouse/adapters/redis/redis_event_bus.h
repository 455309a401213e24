// RedisEventBus: job status and progress across processes, on Redis pub/sub. Every process
// publishes to one channel; one background thread per process subscribes and fans events out to
// its local listeners (SSE streams), so an API node sees the progress of a job that a worker on
// another machine runs, and the cancel notice an API node publishes reaches every node.
// Pub/sub is fire-and-forget: while Redis is away events are dropped, which loses nothing
// (listeners re-read the repository, the source of truth) and never blocks a worker for long.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "labhouse/adapters/redis/redis_connection.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/support/event_fanout.h"

namespace labhouse::redis {

struct RedisEventOptions {
    std::string url = "redis://127.0.0.1:6379";
    std::string channel = "labhouse:events";
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds retry_after{1000};  // after a failure, how long Publish skips Redis
};

class RedisEventBus final : public EventBus {
public:
    // Connects and starts the subscriber thread; returns once the subscription is live, so an event
    // published after Open returns reaches this process's listeners. kUnavailable without Redis.
    static Result<std::unique_ptr<RedisEventBus>> Open(RedisEventOptions options);
    ~RedisEventBus() override;

    void Publish(const JobEvent& event) override;
    std::unique_ptr<EventSubscription> Subscribe(const std::string& job_id) override;

private:
    RedisEventBus(RedisEventOptions options, RedisUrl url) : options_(std::move(options)), url_(std::move(url)) {}
    void SubscriberLoop();

    RedisEventOptions options_;
    RedisUrl url_;

    std::mutex publish_mutex_;
    std::unique_ptr<RedisConnection> publisher_;
    std::chrono::steady_clock::time_point publish_retry_at_{};
    std::chrono::milliseconds publish_backoff_{0};  // doubles per failure up to 30 s; 0 after a success

    EventFanout fanout_;  // this process's listeners

    std::mutex subscriber_mutex_;
    std::condition_variable subscriber_cv_;
    RedisConnection* subscriber_ = nullptr;  // owned by the thread; Interrupt()ed to stop it
    bool subscribed_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

// The wire form of an event (JSON), exposed for tests.
std::string EncodeEvent(const JobEvent& event);
std::optional<JobEvent> DecodeEvent(const std::string& text);

}  // namespace labhouse::redis
