// HubClient: the two requests a download needs from a Hugging Face hub (or a mirror speaking its
// protocol), on libcurl.
//
//   Probe: HEAD {endpoint}/{repo}/resolve/{revision}/{path} without following the redirect to the
//          CDN, as huggingface_hub does, to read the file's size and hash (X-Linked-Size /
//          X-Linked-Etag for LFS files, Content-Length / ETag for plain git files), the commit
//          (X-Repo-Commit) and where the bytes are (Location).
//   Fetch: GET those bytes from an offset (HTTP Range), streaming them to a sink.
//
// The token (HF_TOKEN) is sent only to the endpoint's own host: never to the CDN a redirect
// points at, and it never appears in a log record or an error message.
// Thread-safety: const methods share no state; one client may serve several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "labhouse/core/base/result.h"

namespace labhouse::models {

struct HubConfig {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT; no trailing slash
    std::string token;                                // HF_TOKEN; empty = anonymous
    std::string user_agent = "labhouse/0.1";
    long connect_timeout_s = 30;
    // A transfer slower than 1 KiB/s for this long is abandoned (and retried by the puller).
    long stall_timeout_s = 60;
};

// HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN from the environment.
HubConfig HubConfigFromEnvironment();

struct RemoteFile {
    std::string repo;
    std::string revision;
    std::string path;
    std::string download_url;  // where the bytes are: the CDN URL for LFS files
    bool send_auth = false;    // download_url is on the endpoint's host
    std::int64_t size = -1;    // -1 = the hub did not say
    std::string sha256;        // LFS files: X-Linked-Etag (the SHA-256 of the bytes)
    std::string git_sha1;      // plain git files: the ETag, their git blob id
    std::string commit;        // X-Repo-Commit, when given
};

// Receives a response body. Begin is called once, before the first byte, with from_start = true
// when the server sent the whole file (200: it ignored or was not asked for a Range) and false
// when it honoured the Range (206). A non-OK status from either aborts the transfer with it.
class FetchSink {
public:
    virtual ~FetchSink() = default;
    virtual Status Begin(bool from_start) = 0;
    virtual Status Write(const char* data, std::size_t size) = 0;
};

class HubClient {
public:
    explicit HubClient(HubConfig config);

    const HubConfig& config() const { return config_; }
    std::string ResolveUrl(const std::string& repo, const std::string& revision, const std::string& path) const;

    // Errors: kFailedPrecondition for 401/403 (the message says to set HF_TOKEN, or that the token
    // lacks access), kNotFound naming the file and repository for 404, kUnavailable for network
    // failures, 429 and 5xx (worth retrying), kInternal for anything else unexpected.
    Result<RemoteFile> Probe(const std::string& repo, const std::string& revision, const std::string& path) const;

    // GET file.download_url starting at `offset` (0 = whole file). Errors as Probe; a connection
    // that drops mid-body is kUnavailable, and the bytes already handed to the sink stay valid.
    Status Fetch(const RemoteFile& file, std::int64_t offset, FetchSink& sink) const;

private:
    HubConfig config_;
};

// "scheme://host:port" of a URL, lower-cased, with the default port made explicit; "" when the
// URL is not http(s). Two URLs share an origin iff these are equal.
std::string UrlOrigin(const std::string& url);

}  // namespace labhouse::models
