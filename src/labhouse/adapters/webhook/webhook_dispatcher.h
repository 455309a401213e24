// Webhooks: when a job with a `webhook_url` ends (succeeded, failed, canceled), a JSON event is
// POSTed to that URL, signed with HMAC-SHA256 over "<timestamp>.<body>" (docs/api.md shows how to
// verify it), retried with exponential backoff on errors and non-2xx answers, and the outcome is
// recorded in the job's meta ("webhook"). Deliveries run on their own threads, so a slow or dead
// receiver never holds up a worker, a cancel or another job's delivery (while fewer than
// `threads` receivers are slow at once).
// The delivery is durable and sent by one node: the repository keeps it due until its outcome is
// recorded, and a node claims it before sending (JobRepository::ClaimWebhookDelivery). The event
// bus wakes the dispatcher at once; a periodic sweep of due deliveries finds those no node heard
// about (every API node was down, the event was lost) and those whose node died mid-delivery.
// Delivery is at least once: a receiver dedupes on X-Labhouse-Delivery.
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
    std::int64_t sweep_interval_ms = 5000;  // how often due deliveries are looked for
    // How long a claim holds a delivery; 0 = long enough for every attempt and backoff.
    std::int64_t claim_ms = 0;
    // Embedded mode: no other process can be delivering (the data directory is locked), so the
    // first sweep takes over claims a killed process left behind instead of waiting them out.
    bool take_over_claims_at_start = false;
};

// kInvalidArgument unless the URL is http(s)://host[:port][/path] and, without allow_private, every
// address the host resolves to is public (no loopback, private, link-local, CGNAT or unspecified).
Status ValidateWebhookUrl(const std::string& url, bool allow_private);

// "sha256=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + body).
std::string SignWebhook(const std::string& secret, const std::string& timestamp, const std::string& body);

class WebhookDispatcher {
public:
    WebhookDispatcher(EventBus& events, JobRepository& jobs, WebhookConfig config);
    ~WebhookDispatcher();  // stops; pending retries stay due in the repository for a later sweep

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
    // Claims job `id`'s delivery (`now_ms` decides whether an old claim ran out) and queues it.
    void ClaimAndQueue(const std::string& id, std::int64_t now_ms);
    void Sweep(std::int64_t now_ms);
    void DeliverLoop();
    void Attempt(Delivery delivery);
    void Record(const Delivery& delivery, const std::string& outcome, int last_status);

    EventBus& events_;
    JobRepository& jobs_;
    WebhookConfig config_;
    std::int64_t claim_ms_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Delivery> queue_;
    std::thread listener_;
    std::vector<std::thread> senders_;
};

}  // namespace labhouse::webhook
