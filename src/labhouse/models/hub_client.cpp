#include "labhouse/models/hub_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "labhouse/core/base/log.h"

namespace labhouse::models {
namespace {

constexpr int kMaxHubRedirects = 5;          // same-host redirects (renamed repos, revision aliases)
constexpr std::size_t kMaxErrorBody = 4096;  // what we keep of an error response's body

void GlobalInitOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string Trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

// `W/"abc"` -> `abc`.
std::string NormalizeEtag(std::string etag) {
    etag = Trim(etag);
    if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    return etag;
}

bool IsLowerHex(const std::string& s, std::size_t length) {
    return s.size() == length &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::int64_t ParseSize(const std::string& value) {
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return -1;
    }
    return std::strtoll(value.c_str(), nullptr, 10);
}

struct UrlParts {
    std::string scheme;     // lower-case
    std::string authority;  // as written (host[:port]), userinfo removed
    std::string rest;       // path, query, fragment
};

bool SplitUrl(const std::string& url, UrlParts& parts) {
    const auto colon = url.find("://");
    if (colon == std::string::npos) return false;
    parts.scheme = Lower(url.substr(0, colon));
    if (parts.scheme != "http" && parts.scheme != "https") return false;
    const auto start = colon + 3;
    const auto end = std::min(url.find_first_of("/?#", start), url.size());
    parts.authority = url.substr(start, end - start);
    if (const auto at = parts.authority.rfind('@'); at != std::string::npos)
        parts.authority = parts.authority.substr(at + 1);
    parts.rest = url.substr(end);
    return !parts.authority.empty();
}

std::string ResolveLocation(const std::string& base, const std::string& location) {
    UrlParts parts;
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
    if (!SplitUrl(base, parts)) return location;
    if (location.rfind("//", 0) == 0) return parts.scheme + ":" + location;
    if (!location.empty() && location.front() == '/') return parts.scheme + "://" + parts.authority + location;
    std::string dir = parts.rest.substr(0, parts.rest.find_first_of("?#"));
    dir = dir.substr(0, dir.rfind('/') + 1);
    return parts.scheme + "://" + parts.authority + (dir.empty() ? "/" : dir) + location;
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
    // libcurl's description of a transport failure; never contains request headers.
    std::string ErrorText(CURLcode code) const { return error_[0] != '\0' ? error_ : curl_easy_strerror(code); }

private:
    static std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* self_ptr) {
        auto* self = static_cast<Request*>(self_ptr);
        const std::string line(data, size * count);
        if (line.rfind("HTTP/", 0) == 0) {
            self->headers_.clear();  // a new response (after a redirect or a 100 Continue)
        } else if (const auto colon = line.find(':'); colon != std::string::npos) {
            self->headers_[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
        }
        return size * count;
    }

    CURL* curl_;
    curl_slist* headers_list_ = nullptr;
    std::map<std::string, std::string> headers_;
    char error_[CURL_ERROR_SIZE] = {};
};

Error HttpError(long status, const RemoteFile& file, const std::string& error_code, const HubConfig& config) {
    const std::string where = "'" + file.path + "' in " + file.repo + "@" + file.revision;
    if (status == 401) {
        if (config.token.empty()) {
            return FailedPrecondition("401 Unauthorized for " + where +
                                      ": set HF_TOKEN (gated or private repo, or the repo does not exist)");
        }
        return FailedPrecondition("401 Unauthorized for " + where +
                                  ": HF_TOKEN was rejected (check the token; or the repo does not exist)");
    }
    if (status == 403) {
        return FailedPrecondition("403 Forbidden for " + where + ": accept the model's terms at " + config.endpoint +
                                  "/" + file.repo +
                                  (config.token.empty() ? " and set HF_TOKEN" : " with the account of HF_TOKEN"));
    }
    if (status == 404) {
        if (error_code == "RepoNotFound") return NotFound("repository " + file.repo + " not found (404)");
        if (error_code == "RevisionNotFound") {
            return NotFound("revision '" + file.revision + "' not found in " + file.repo + " (404)");
        }
        return NotFound("file '" + file.path + "' not found in " + file.repo + "@" + file.revision + " (404)");
    }
    if (status == 408 || status == 429 || status >= 500) {
        return Unavailable("the hub answered " + std::to_string(status) + " for " + where);
    }
    return Internal("unexpected HTTP " + std::to_string(status) + " for " + where);
}

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

bool IsRedirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
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
    if (const char* token = std::getenv("HF_TOKEN"); token != nullptr) config.token = Trim(token);
    return config;
}

std::string UrlOrigin(const std::string& url) {
    UrlParts parts;
    if (!SplitUrl(url, parts)) return "";
    std::string authority = Lower(parts.authority);
    // An IPv6 literal keeps its colons inside brackets; the port is after the last ']'.
    const auto bracket = authority.rfind(']');
    const auto colon = authority.rfind(':');
    if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
        authority += parts.scheme == "https" ? ":443" : ":80";
    }
    return parts.scheme + "://" + authority;
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
        if (status >= 400 || status < 200 || (status >= 300 && !IsRedirect(status))) {
            return HttpError(status, file, request.Header("x-error-code"), config_);
        }
        // The hub puts the file's metadata on the redirect itself (LFS) or on the 200 (git files).
        if (const std::string commit = request.Header("x-repo-commit"); !commit.empty()) file.commit = commit;
        const std::string linked_etag = NormalizeEtag(request.Header("x-linked-etag"));
        const std::string etag = NormalizeEtag(request.Header("etag"));
        const std::int64_t linked_size = ParseSize(request.Header("x-linked-size"));
        if (IsLowerHex(Lower(linked_etag), 64)) {
            file.sha256 = Lower(linked_etag);
            file.git_sha1.clear();
        } else if (file.sha256.empty() && IsLowerHex(Lower(etag), 64)) {
            file.sha256 = Lower(etag);
        } else if (file.sha256.empty() && IsLowerHex(Lower(etag), 40) && status < 300) {
            file.git_sha1 = Lower(etag);
        }
        if (linked_size >= 0) {
            file.size = linked_size;
        } else if (status < 300 && file.size < 0) {
            file.size = ParseSize(request.Header("content-length"));
        }
        if (status < 300) {
            file.download_url = url;
            file.send_auth = UrlOrigin(url) == endpoint_origin;
            return file;
        }
        const std::string location = request.Header("location");
        if (location.empty()) return Internal("redirect without a Location for '" + path + "'");
        const std::string next = ResolveLocation(url, location);
        if (UrlOrigin(next) != endpoint_origin) {
            // The CDN: its URL is signed, so it needs (and must not get) the token.
            file.download_url = next;
            file.send_auth = false;
            return file;
        }
        url = next;
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
