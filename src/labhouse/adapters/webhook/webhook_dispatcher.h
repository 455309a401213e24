// Webhooks: when a job with a `webhook_url` ends (succeeded, failed, canceled), a JSON event is
// POSTed to that URL, signed with HMAC-SHA256 over "<timestamp>.<body>" (docs/api.md shows how to
// verify it), retried with exponential backoff on errors and non-2xx answers, and the outcome is
// recorded in the job's meta ("webhook"). Deliveries run on their own threads, fed by the event
// bus, so a slow or dead receiver never holds up a worker, a cancel or another job's delivery
// (while fewer than `threads` receivers are slow at once).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/core/ports/event_bus.h"
#include "labhouse/core/ports/job_repository.h"

namespace labhouse::webhook {

struct WebhookConfig {
    std::string secret;          // HMAC key; never logged
    bool allow_private = false;  // allow loopback/private/link-local receivers (tests, LANs)
    int max_attempts = 5;
    std::int64_t first_backoff_ms = 500;  // doubled after each failed attempt
    int timeout_s = 10;                   // connect and read timeout per attempt
    int threads = 4;
};

// kInvalidArgument unless the URL is http(s)://host[:port][/path] and, without allow_private, every
// address the host resolves to is public (no loopback, private, link-local, CGNAT or unspecified).
Status ValidateWebhookUrl(const std::string& url, bool allow_private);

// "sha256=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + body).
std::string SignWebhook(const std::string& secret, const std::string& timestamp, const std::string& body);

class WebhookDispatcher {
public:
    WebhookDispatcher(EventBus& events, JobRepository& jobs, WebhookConfig config);
    ~WebhookDispatcher();  // stops; pending retries are dropped (recorded as such when possible)

    void Start();
    void Stop();

private:
    struct Delivery {
        std::string job_id;
        std::string url;
        std::string event;  // job.succeeded | job.failed | job.canceled
        std::string body;
        int attempt = 0;
        std::int64_t due_ms = 0;
    };

    void ListenLoop();
    void DeliverLoop();
    void Attempt(Delivery delivery);
    void Record(const Delivery& delivery, const std::string& outcome, int last_status);

    EventBus& events_;
    JobRepository& jobs_;
    WebhookConfig config_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Delivery> queue_;
    std::thread listener_;
    std::vector<std::thread> senders_;
};

}  // namespace labhouse::webhook
