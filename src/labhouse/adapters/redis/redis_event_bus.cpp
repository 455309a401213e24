#include "labhouse/adapters/redis/redis_event_bus.h"

#include <nlohmann/json.hpp>

#include "labhouse/core/base/base64.h"
#include "labhouse/core/base/log.h"

namespace labhouse::redis {

std::string EncodeEvent(const JobEvent& event) {
    nlohmann::json json = {{"job_id", event.job_id},
                           {"state", std::string(JobStateName(event.state))},
                           {"stage", event.progress.stage},
                           {"step", event.progress.step},
                           {"total", event.progress.total},
                           {"seconds_per_step", event.progress.seconds_per_step}};
    if (event.error) json["error"] = {{"code", event.error->code}, {"message", event.error->message}};
    if (!event.preview_jpeg.empty()) json["preview_jpeg"] = EncodeBase64(event.preview_jpeg);
    return json.dump();
}

std::optional<JobEvent> DecodeEvent(const std::string& text) {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) return std::nullopt;
    try {
        JobEvent event;
        event.job_id = json.at("job_id").get<std::string>();
        auto state = JobStateFromName(json.at("state").get<std::string>());
        if (!state) return std::nullopt;
        event.state = *state;
        event.progress = {json.at("stage").get<std::string>(), json.at("step").get<int>(), json.at("total").get<int>(),
                          json.at("seconds_per_step").get<double>()};
        if (json.contains("error")) {
            event.error = JobError{json["error"].at("code").get<std::string>(),
                                   json["error"].at("message").get<std::string>()};
        }
        if (json.contains("preview_jpeg")) {
            auto jpeg = DecodeBase64(json["preview_jpeg"].get<std::string>());
            if (!jpeg) return std::nullopt;
            event.preview_jpeg = std::move(*jpeg);
        }
        return event;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // another version's or a stranger's message on the channel
    }
}

Result<std::unique_ptr<RedisEventBus>> RedisEventBus::Open(RedisEventOptions options) {
    LABHOUSE_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl(options.url));
    // Fail fast on a wrong URL instead of retrying forever in the background.
    LABHOUSE_ASSIGN_OR_RETURN(auto probe, RedisConnection::Connect(url, options.connect_timeout));
    auto bus = std::unique_ptr<RedisEventBus>(new RedisEventBus(std::move(options), std::move(url)));
    bus->publisher_ = std::move(probe);
    bus->thread_ = std::thread([b = bus.get()] { b->SubscriberLoop(); });
    std::unique_lock lock(bus->subscriber_mutex_);
    bus->subscriber_cv_.wait_for(lock, bus->options_.connect_timeout * 2, [&] { return bus->subscribed_; });
    if (!bus->subscribed_) return Unavailable("cannot subscribe to Redis channel " + bus->options_.channel);
    return bus;
}

RedisEventBus::~RedisEventBus() {
    {
        std::lock_guard lock(subscriber_mutex_);
        stopping_ = true;
        if (subscriber_ != nullptr) subscriber_->Interrupt();
    }
    subscriber_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void RedisEventBus::SubscriberLoop() {
    while (true) {
        {
            std::lock_guard lock(subscriber_mutex_);
            if (stopping_) return;
        }
        auto conn = RedisConnection::Connect(url_, options_.connect_timeout);
        if (conn) {
            (*conn)->SetTimeout(std::chrono::milliseconds(0));  // a quiet channel is not an error
            auto subscribed = (*conn)->Command({"SUBSCRIBE", options_.channel});
            if (subscribed) {
                {
                    std::lock_guard lock(subscriber_mutex_);
                    if (stopping_) return;
                    subscriber_ = conn->get();
                    subscribed_ = true;
                }
                subscriber_cv_.notify_all();
                while (true) {
                    auto message = (*conn)->ReadPush();
                    if (!message) break;
                    // ["message", channel, payload]
                    if (message->elements.size() == 3 && message->elements[0].str == "message") {
                        if (auto event = DecodeEvent(message->elements[2].str)) fanout_.Deliver(*event);
                    }
                }
                std::lock_guard lock(subscriber_mutex_);
                subscriber_ = nullptr;
                if (stopping_) return;
            }
            Log(LogLevel::kWarn, "events_subscription_lost", {{"channel", options_.channel}});
        }
        std::unique_lock lock(subscriber_mutex_);
        subscriber_cv_.wait_for(lock, options_.retry_after, [this] { return stopping_; });
    }
}

void RedisEventBus::Publish(const JobEvent& event) {
    const std::string payload = EncodeEvent(event);
    std::lock_guard lock(publish_mutex_);
    const auto now = std::chrono::steady_clock::now();
    // Two tries: the connection may have died with a Redis restart; the second is a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!publisher_ || publisher_->broken()) {
            publisher_.reset();
            if (now < publish_retry_at_) return;  // Redis is away: drop events instead of stalling workers
            auto conn = RedisConnection::Connect(url_, options_.connect_timeout);
            if (!conn) break;
            publisher_ = std::move(*conn);
        }
        if (publisher_->Command({"PUBLISH", options_.channel, payload})) {
            publish_backoff_ = std::chrono::milliseconds(0);
            return;
        }
        if (!publisher_->broken()) break;
    }
    publish_backoff_ = std::min<std::chrono::milliseconds>(std::max(publish_backoff_ * 2, options_.retry_after),
                                                           std::chrono::seconds(30));
    publish_retry_at_ = now + publish_backoff_;
    Log(LogLevel::kWarn, "event_publish_failed", {{"job_id", event.job_id}});
}

std::unique_ptr<EventSubscription> RedisEventBus::Subscribe(const std::string& job_id) {
    return fanout_.Subscribe(job_id);
}

}  // namespace labhouse::redis
