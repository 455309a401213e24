// A small blocking HTTP client on libcurl for the Stability adapter: one request per call, its
// own easy handle (so calls from several job threads never share state), cancellable within
// ~20 ms, and precise about one thing the retry policy depends on: whether the request body
// left this machine completely (only then can the server have acted on it, and charged for it).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace labhouse::stability {

struct HttpRequest {
    std::string method = "GET";  // "GET" or "POST"
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased; last value wins
    std::string body;

    std::string Header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// Why no response came back.
struct TransportError {
    bool cancelled = false;  // the caller asked to stop; the transfer was aborted
    bool timed_out = false;
    // The whole request (headers and body) was handed to the network before the failure, so the
    // server may have processed it. False for refused connections, DNS and TLS failures and
    // uploads cut short: nothing can have been generated or billed then.
    bool request_sent = false;
    std::string message;  // libcurl's description; never contains headers
};

using HttpOutcome = std::variant<HttpResponse, TransportError>;

// Adds one raw header line as libcurl hands it over ("Name: value\r\n") to `response`: the name
// lower-cased, the value trimmed; a status line ("HTTP/...") starts a new response and clears
// the headers. Lines without a colon are ignored.
void AddHeaderLine(HttpResponse& response, std::string_view line);

struct HttpTimeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds total{60'000};
};

// Performs one request. `cancelled` is polled while the transfer runs (may be empty).
// Thread-safe: calls share nothing.
HttpOutcome PerformHttp(const HttpRequest& request, const HttpTimeouts& timeouts,
                        const std::function<bool()>& cancelled);

// multipart/form-data, built in memory so its exact size is known (see request_sent above).
class MultipartBody {
public:
    MultipartBody();
    void AddField(const std::string& name, const std::string& value);
    void AddFile(const std::string& name, const std::string& filename, const std::string& content_type,
                 const std::string& bytes);
    // Closes the body; call once, after the last part.
    std::string Finish();
    std::string ContentType() const { return "multipart/form-data; boundary=" + boundary_; }
    // The text fields in order, for the job record and tests (files show as "<file N bytes>").
    const std::vector<std::pair<std::string, std::string>>& Summary() const { return summary_; }

private:
    std::string boundary_;
    std::string body_;
    std::vector<std::pair<std::string, std::string>> summary_;
};

}  // namespace labhouse::stability
