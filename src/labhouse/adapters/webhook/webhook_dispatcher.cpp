#include "labhouse/adapters/webhook/webhook_dispatcher.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <regex>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "labhouse/core/base/log.h"

namespace labhouse::webhook {
namespace {

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct ParsedUrl {
    std::string scheme_host_port;  // for httplib::Client
    std::string host;
    std::string path;
};

Result<ParsedUrl> ParseUrl(const std::string& url) {
    static const std::regex kUrl(R"(^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[^\s#]*)?$)");
    std::smatch m;
    if (url.size() > 2000 || !std::regex_match(url, m, kUrl)) {
        return InvalidArgument("webhook_url must be an http:// or https:// URL without credentials");
    }
    ParsedUrl parsed;
    parsed.host = m[2].str();
    if (parsed.host.front() == '[') parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
    parsed.scheme_host_port = m[1].str() + "://" + m[2].str() + m[3].str();
    parsed.path = m[4].matched ? m[4].str() : "/";
    return parsed;
}

bool IsPrivate(const sockaddr* address) {
    if (address->sa_family == AF_INET) {
        const auto ip = ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr);
        const auto in = [ip](std::uint32_t net, int bits) { return (ip >> (32 - bits)) == (net >> (32 - bits)); };
        return in(0x00000000, 8) || in(0x0a000000, 8) || in(0x7f000000, 8) || in(0xa9fe0000, 16) ||
               in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10) || ip >= 0xe0000000;
    }
    if (address->sa_family == AF_INET6) {
        const auto* a = &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            sockaddr_in v4{};
            v4.sin_family = AF_INET;
            std::memcpy(&v4.sin_addr, a->s6_addr + 12, 4);
            return IsPrivate(reinterpret_cast<const sockaddr*>(&v4));
        }
        return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
               IN6_IS_ADDR_MULTICAST(a) || (a->s6_addr[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
    }
    return true;
}

std::string JobEventName(JobState state) {
    return "job." + std::string(JobStateName(state));
}

}  // namespace

Status ValidateWebhookUrl(const std::string& url, bool allow_private) {
    LABHOUSE_ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
    if (allow_private) return OkStatus();
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(parsed.host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
        return InvalidArgument("webhook_url host '" + parsed.host + "' does not resolve");
    }
    bool refused = false;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) refused = refused || IsPrivate(a->ai_addr);
    freeaddrinfo(found);
    if (refused) {
        return InvalidArgument("webhook_url must not point to a loopback, private or link-local address "
                               "(LABHOUSE_WEBHOOK_ALLOW_PRIVATE=1 allows it)");
    }
    return OkStatus();
}

std::string SignWebhook(const std::string& secret, const std::string& timestamp, const std::string& body) {
    const std::string message = timestamp + "." + body;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex = "sha256=";
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 15];
    }
    return hex;
}

namespace {
// Every attempt's connect, write and read timeouts, every backoff, and a margin.
std::int64_t ClaimFor(const WebhookConfig& config) {
    if (config.claim_ms > 0) return config.claim_ms;
    const std::int64_t attempts = std::max(1, config.max_attempts);
    const std::int64_t backoff = config.first_backoff_ms * ((std::int64_t{1} << std::min<std::int64_t>(attempts, 20)) - 1);
    return attempts * 3 * std::int64_t{config.timeout_s} * 1000 + backoff + 30'000;
}
}  // namespace

WebhookDispatcher::WebhookDispatcher(EventBus& events, JobRepository& jobs, WebhookConfig config)
    : events_(events), jobs_(jobs), config_(std::move(config)), claim_ms_(ClaimFor(config_)) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
    listener_ = std::thread([this] { ListenLoop(); });
    for (int i = 0; i < std::max(1, config_.threads); ++i) senders_.emplace_back([this] { DeliverLoop(); });
}

void WebhookDispatcher::Stop() {
    if (stopping_.exchange(true)) return;
    wake_.notify_all();
    if (listener_.joinable()) listener_.join();
    for (auto& sender : senders_) sender.join();
    senders_.clear();
}

void WebhookDispatcher::ListenLoop() {
    auto subscription = events_.Subscribe("");
    Sweep(config_.take_over_claims_at_start ? INT64_MAX : NowMs());
    auto next_sweep = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.sweep_interval_ms);
    while (!stopping_.load()) {
        if (std::chrono::steady_clock::now() >= next_sweep) {
            Sweep(NowMs());
            next_sweep = std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.sweep_interval_ms);
        }
        auto event = subscription->Next(std::chrono::milliseconds(200));
        if (event && IsTerminal(event->state)) ClaimAndQueue(event->job_id, NowMs());
    }
}

void WebhookDispatcher::Sweep(std::int64_t now_ms) {
    {
        // A node with a backlog leaves the due deliveries to the others.
        std::lock_guard lock(mutex_);
        if (queue_.size() >= static_cast<std::size_t>(4 * std::max(1, config_.threads))) return;
    }
    auto due = jobs_.DueWebhookDeliveries(now_ms, 50);
    if (!due) {
        Log(LogLevel::kWarn, "webhook_sweep_failed", {{"message", due.error().message}});
        return;
    }
    for (const std::string& id : *due) ClaimAndQueue(id, now_ms);
}

void WebhookDispatcher::ClaimAndQueue(const std::string& id, std::int64_t now_ms) {
    // Most jobs have no webhook: a read settles that without taking the database's write lock.
    auto job = jobs_.Get(id);
    if (!job || !IsTerminal(job->state)) return;  // deleted meanwhile, or not ended: nothing to tell
    auto url = job->params.options.find("webhook_url");
    if (url == job->params.options.end()) return;
    auto claimed = jobs_.ClaimWebhookDelivery(id, now_ms, NowMs() + claim_ms_);
    if (!claimed || !*claimed) return;  // not due, not ended, or another node sends it
    nlohmann::json payload = {
        {"event", JobEventName(job->state)},
        {"job",
         {{"id", job->id},
          {"status", JobStateName(job->state)},
          {"backend", job->params.backend},
          {"result", job->result_blob.empty() ? nlohmann::json(nullptr)
                                              : nlohmann::json{{"image_url", "/api/v1/images/" + job->result_blob}}},
          {"error", job->error ? nlohmann::json{{"code", job->error->code}, {"message", job->error->message}}
                               : nlohmann::json(nullptr)},
          {"finished_ms", job->finished_ms}}}};
    std::lock_guard lock(mutex_);
    queue_.push_back({job->id, url->second, JobEventName(job->state), payload.dump(), 0, 0});
    wake_.notify_one();
}

void WebhookDispatcher::DeliverLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_.load()) {
        const std::int64_t now = NowMs();
        auto due = std::find_if(queue_.begin(), queue_.end(), [now](const Delivery& d) { return d.due_ms <= now; });
        if (due == queue_.end()) {
            wake_.wait_for(lock, std::chrono::milliseconds(100));
            continue;
        }
        Delivery delivery = std::move(*due);
        queue_.erase(due);
        lock.unlock();
        Attempt(std::move(delivery));
        lock.lock();
    }
}

void WebhookDispatcher::Attempt(Delivery delivery) {
    ++delivery.attempt;
    int status = 0;
    std::string failure;
    auto url = ParseUrl(delivery.url);
    // Checked again at delivery: the name may resolve elsewhere now than at submit time.
    Status allowed = url ? ValidateWebhookUrl(delivery.url, config_.allow_private) : Status(url.error());
    if (!allowed) {
        Record(delivery, "refused: " + allowed.error().message, 0);
        return;
    }
    httplib::Client client(url->scheme_host_port);
    client.set_connection_timeout(config_.timeout_s, 0);
    client.set_read_timeout(config_.timeout_s, 0);
    client.set_write_timeout(config_.timeout_s, 0);
    const std::string timestamp = std::to_string(NowMs() / 1000);
    httplib::Headers headers = {{"X-Labhouse-Event", delivery.event},
                                {"X-Labhouse-Timestamp", timestamp},
                                {"X-Labhouse-Signature", SignWebhook(config_.secret, timestamp, delivery.body)},
                                {"X-Labhouse-Delivery", delivery.job_id + "." + delivery.event},
                                {"User-Agent", "labhouse-webhook/1"}};
    auto res = client.Post(url->path, headers, delivery.body, "application/json");
    if (res && res->status >= 200 && res->status < 300) {
        Record(delivery, "delivered", res->status);
        return;
    }
    status = res ? res->status : 0;
    failure = res ? "HTTP " + std::to_string(res->status)
                  : "connection failed (" + httplib::to_string(res.error()) + ")";
    Log(LogLevel::kWarn, "webhook_attempt_failed",
        {{"job_id", delivery.job_id}, {"attempt", std::to_string(delivery.attempt)}, {"reason", failure}});
    if (stopping_.load()) {
        // Left due in the repository: the next sweep (of this node after a restart, or of
        // another node once the claim runs out) sends it again.
        Log(LogLevel::kInfo, "webhook_deferred", {{"job_id", delivery.job_id}});
        return;
    }
    if (delivery.attempt >= config_.max_attempts) {
        Record(delivery, "failed: " + failure, status);
        return;
    }
    delivery.due_ms = NowMs() + config_.first_backoff_ms * (std::int64_t{1} << (delivery.attempt - 1));
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(delivery));
    wake_.notify_one();
}

void WebhookDispatcher::Record(const Delivery& delivery, const std::string& outcome, int last_status) {
    const nlohmann::json summary = {{"event", delivery.event}, {"outcome", outcome}, {"attempts", delivery.attempt},
                                    {"last_status", last_status}, {"at_ms", NowMs()}};
    auto recorded = jobs_.RecordWebhookDelivery(delivery.job_id, summary.dump());
    Log(LogLevel::kInfo, "webhook_done",
        {{"job_id", delivery.job_id}, {"outcome", outcome}, {"attempts", std::to_string(delivery.attempt)}});
    if (!recorded) {
        Log(LogLevel::kWarn, "webhook_record_failed",
            {{"job_id", delivery.job_id}, {"message", recorded.error().message}});
    }
}

}  // namespace labhouse::webhook
