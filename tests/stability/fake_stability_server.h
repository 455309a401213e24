// FakeStabilityServer: a loopback HTTP server that follows the Stability REST contract
// (../shared/docs/reference/stability-api.md) closely enough to test a client against it: it
// checks auth, every documented field, range and enum, the nine SDXL init-image sizes, the
// 10 MiB v2beta limit, keeps a credit balance and a per-key rate limit, answers with the
// documented success and error bodies, and records every request. Tests can make the next N
// generation requests fail in the ways the real service does. Text to image is served too (v1's
// JSON endpoint, v2beta's aspect ratios), drawing a picture of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cv {
class Mat;
}  // namespace cv
namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace labhouse::stability::testing {

// Choices made where the contract is silent are marked CHOICE in the .cpp.
struct FakeStabilityOptions {
    std::string api_key = "sk-FAKEtestKEY0123456789abcdef";
    double credits = 1000.0;
    int rate_limit_requests = 150;  // per key per window (documented: 150 per 10 s)
    std::chrono::milliseconds rate_limit_window{10'000};
    std::chrono::milliseconds rate_limit_timeout{60'000};  // documented: timed out for 60 s
};

enum class Fault {
    kRateLimited,      // 429 rate_limit_exceeded
    kServerError,      // 500 server_error / internal_error
    kBadGateway,       // 502 (plain text, as a proxy would send)
    kGatewayTimeout,   // 504 (plain text)
    kSlow,             // answers normally after `delay`
    kContentFiltered,  // 200 with a blurred image and CONTENT_FILTERED
    kOutOfCredits,     // 402 payment_required
};

struct RecordedFile {
    std::string filename;
    std::string content_type;
    std::size_t size = 0;
    int width = 0;  // decoded size, 0 when not an image
    int height = 0;
};

struct RecordedRequest {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;  // as received (names as sent)
    std::map<std::string, std::string> fields;   // multipart text parts
    std::map<std::string, RecordedFile> files;   // multipart file parts
    std::string json_body;                       // a JSON request's body (v1 text-to-image)
    int status = 0;                              // what the fake answered (0 while in progress)
};

class FakeStabilityServer {
public:
    explicit FakeStabilityServer(FakeStabilityOptions options = {});
    ~FakeStabilityServer();
    FakeStabilityServer(const FakeStabilityServer&) = delete;
    FakeStabilityServer& operator=(const FakeStabilityServer&) = delete;

    std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
    const std::string& api_key() const { return options_.api_key; }

    // The next `count` generation requests (not balance checks) get `fault`, after auth.
    void FailNext(Fault fault, int count = 1, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    // Sends "Retry-After: <seconds>" with 429s (undocumented; off by default).
    void SetRetryAfter(std::optional<int> seconds);
    // Answers 401 to the otherwise valid key (v1 bodies echo the key presented, as observed live).
    void SetKeyRevoked(bool revoked);
    // Answers 403 permission_denied (v1 shape) to generation requests.
    void SetPermissionDenied(bool denied);
    // v2beta results at this size instead of the upload's (to test aspect restoration).
    void SetV2OutputSize(int width, int height);
    void SetCredits(double credits);
    double Credits() const;

    std::vector<RecordedRequest> Requests() const;
    // Requests whose path starts with `prefix`.
    std::vector<RecordedRequest> Requests(const std::string& prefix) const;
    // Successful (billed) generations.
    int Generations() const;

private:
    struct Auth;
    struct Outcome;
    void HandleV1(const httplib::Request& req, httplib::Response& res, std::size_t index);
    void HandleV1TextToImage(const httplib::Request& req, httplib::Response& res, std::size_t index);
    // What both v1 generation endpoints do first: engine, auth, permission, injected faults and
    // the Accept header. False when it has answered.
    bool V1Admit(const httplib::Request& req, httplib::Response& res, std::size_t index, std::optional<Fault>& fault,
                 std::string& accept);
    // Charges and answers a v1 generation of `image` (already at an SDXL size).
    void V1Generated(const httplib::Request& req, httplib::Response& res, std::size_t index, const cv::Mat& image,
                     int steps, std::uint32_t seed, bool filtered, const std::string& accept);
    void HandleV2(const httplib::Request& req, httplib::Response& res, std::size_t index, bool ultra);
    void HandleBalance(const httplib::Request& req, httplib::Response& res, std::size_t index);
    std::size_t Record(const httplib::Request& req);
    void SetStatus(std::size_t index, int status);
    // Auth and rate limit, common to every endpoint; false when it answered already.
    bool Admit(const httplib::Request& req, httplib::Response& res, bool v1_shape);
    // The pending fault for a generation request, if any (sleeps for kSlow and returns nullopt).
    std::optional<Fault> TakeFault();
    bool SleepUnlessStopping(std::chrono::milliseconds duration);
    void Charge(double cost);
    void AddRetryAfter(httplib::Response& res);

    FakeStabilityOptions options_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;
    struct PendingFault {
        Fault fault;
        int remaining;
        std::chrono::milliseconds delay;
    };
    std::deque<PendingFault> faults_;
    std::optional<int> retry_after_;
    bool key_revoked_ = false;
    bool permission_denied_ = false;
    std::optional<std::pair<int, int>> v2_output_size_;
    double credits_;
    int generations_ = 0;
    std::deque<std::chrono::steady_clock::time_point> window_;
    std::chrono::steady_clock::time_point timed_out_until_{};
    std::vector<RecordedRequest> requests_;
};

}  // namespace labhouse::stability::testing
