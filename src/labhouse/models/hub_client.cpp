#include "labhouse/models/hub_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "labhouse/core/base/log.h"
#include "labhouse/models/hub_response.h"

namespace labhouse::models {
namespace {

constexpr int kMaxHubRedirects = 5;          // same-host redirects (renamed repos, revision aliases)
constexpr std::size_t kMaxErrorBody = 4096;  // what we keep of an error response's body

void GlobalInitOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A libcurl easy handle with the options every request shares.
class Request {
public:
    Request(const HubConfig& config, const std::string& url, bool send_auth) : curl_(curl_easy_init()) {
        if (curl_ == nullptr) return;  // Perform() reports it
        curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl_, CURLOPT_USERAGENT, config.user_agent.c_str());
        curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, config.connect_timeout_s);
        curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, config.stall_timeout_s);
        curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_);
        curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Request::OnHeader);
        curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
        // The hashes below are of the stored bytes: never let a server compress them on the way.
        headers_list_ = curl_slist_append(headers_list_, "Accept-Encoding: identity");
        if (send_auth && !config.token.empty()) {
            const std::string auth = "Authorization: Bearer " + config.token;
            headers_list_ = curl_slist_append(headers_list_, auth.c_str());
        }
        curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_list_);
    }
    ~Request() {
        curl_slist_free_all(headers_list_);
        curl_easy_cleanup(curl_);
    }
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    CURL* handle() { return curl_; }
    CURLcode Perform() { return curl_ == nullptr ? CURLE_FAILED_INIT : curl_easy_perform(curl_); }
    long Status() {
        long status = 0;
        if (curl_ != nullptr) curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
        return status;
    }
    // Headers of the last response received (names lower-cased).
    std::string Header(const std::string& lower_name) const {
        auto it = headers_.find(lower_name);
        return it == headers_.end() ? std::string() : it->second;
    }
    const HubHeaders& headers() const { return headers_; }
    // libcurl's description of a transport failure; never contains request headers.
    std::string ErrorText(CURLcode code) const { return error_[0] != '\0' ? error_ : curl_easy_strerror(code); }

private:
    static std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* self_ptr) {
        AddHeaderLine(static_cast<Request*>(self_ptr)->headers_, std::string_view(data, size * count));
        return size * count;
    }

    CURL* curl_;
    curl_slist* headers_list_ = nullptr;
    HubHeaders headers_;
    char error_[CURL_ERROR_SIZE] = {};
};

// Percent-encodes everything but RFC 3986 unreserved characters and '/': file names may hold
// spaces, '+', '#' or non-ASCII bytes.
std::string EncodePath(const std::string& path) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : path) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

// Streams a GET body to a FetchSink; keeps the body of an error response instead.
struct FetchState {
    Request* request = nullptr;
    FetchSink* sink = nullptr;
    bool begun = false;
    Status sink_status;
    std::string error_body;

    static std::size_t OnData(char* data, std::size_t size, std::size_t count, void* self_ptr) {
        auto* self = static_cast<FetchState*>(self_ptr);
        const std::size_t bytes = size * count;
        const long status = self->request->Status();
        if (status < 200 || status >= 300) {
            if (self->error_body.size() < kMaxErrorBody) self->error_body.append(data, std::min(bytes, kMaxErrorBody));
            return bytes;
        }
        if (!self->begun) {
            self->begun = true;
            self->sink_status = self->sink->Begin(status == 200);
            if (!self->sink_status) return 0;  // aborts the transfer
        }
        self->sink_status = self->sink->Write(data, bytes);
        return self->sink_status ? bytes : 0;
    }
};

}  // namespace

HubConfig HubConfigFromEnvironment() {
    HubConfig config;
    if (const char* endpoint = std::getenv("HF_ENDPOINT"); endpoint != nullptr && *endpoint != '\0') {
        config.endpoint = endpoint;
    }
    while (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
    if (const char* token = std::getenv("HF_TOKEN"); token != nullptr) config.token = TrimWhitespace(token);
    return config;
}

HubClient::HubClient(HubConfig config) : config_(std::move(config)) {
    while (!config_.endpoint.empty() && config_.endpoint.back() == '/') config_.endpoint.pop_back();
    GlobalInitOnce();
}

std::string HubClient::ResolveUrl(const std::string& repo, const std::string& revision, const std::string& path) const {
    return config_.endpoint + "/" + EncodePath(repo) + "/resolve/" + EncodePath(revision) + "/" + EncodePath(path);
}

Result<RemoteFile> HubClient::Probe(const std::string& repo, const std::string& revision,
                                    const std::string& path) const {
    RemoteFile file;
    file.repo = repo;
    file.revision = revision;
    file.path = path;
    const std::string endpoint_origin = UrlOrigin(config_.endpoint);
    if (endpoint_origin.empty()) return InvalidArgument("HF_ENDPOINT must be an http(s) URL: " + config_.endpoint);
    std::string url = ResolveUrl(repo, revision, path);
    for (int hop = 0; hop <= kMaxHubRedirects; ++hop) {
        Request request(config_, url, UrlOrigin(url) == endpoint_origin);
        curl_easy_setopt(request.handle(), CURLOPT_NOBODY, 1L);
        curl_easy_setopt(request.handle(), CURLOPT_FOLLOWLOCATION, 0L);
        const CURLcode code = request.Perform();
        if (code != CURLE_OK) {
            return Unavailable("cannot reach " + config_.endpoint + " for '" + path + "': " + request.ErrorText(code));
        }
        const long status = request.Status();
        Log(LogLevel::kDebug, "hub_probe",
            {{"repo", repo}, {"path", path}, {"status", std::to_string(status)}, {"hop", std::to_string(hop)}});
        LABHOUSE_ASSIGN_OR_RETURN(std::optional<std::string> next,
                                  ApplyProbeAnswer(file, status, request.headers(), url, endpoint_origin, config_));
        if (!next) return file;
        url = *next;
    }
    return Unavailable("too many redirects resolving '" + path + "' in " + repo);
}

Status HubClient::Fetch(const RemoteFile& file, std::int64_t offset, FetchSink& sink) const {
    Request request(config_, file.download_url, file.send_auth);
    FetchState state;
    state.request = &request;
    state.sink = &sink;
    // Further redirects (CDN to CDN) are followed; libcurl drops a custom Authorization header
    // when one leaves the host, and there is none on a CDN URL anyway.
    curl_easy_setopt(request.handle(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(request.handle(), CURLOPT_MAXREDIRS, static_cast<long>(kMaxHubRedirects));
    curl_easy_setopt(request.handle(), CURLOPT_WRITEFUNCTION, &FetchState::OnData);
    curl_easy_setopt(request.handle(), CURLOPT_WRITEDATA, &state);
    const std::string range = std::to_string(offset) + "-";
    if (offset > 0) curl_easy_setopt(request.handle(), CURLOPT_RANGE, range.c_str());
    const CURLcode code = request.Perform();
    if (!state.sink_status) return state.sink_status;
    const long status = request.Status();
    if (code != CURLE_OK) {
        return Unavailable("download of '" + file.path + "' interrupted: " + request.ErrorText(code));
    }
    if (!file.send_auth && (status == 401 || status == 403 || status == 410)) {
        // The CDN's links are signed and expire; the hub hands out a fresh one on the next probe.
        return Unavailable("the CDN refused the download link for '" + file.path + "' (HTTP " + std::to_string(status) +
                           ", expired?)");
    }
    if (status < 200 || status >= 300) return HttpError(status, file, request.Header("x-error-code"), config_);
    if (!state.begun) return sink.Begin(status == 200);  // an empty body
    return OkStatus();
}

}  // namespace labhouse::models
