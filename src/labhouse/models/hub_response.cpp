#include "labhouse/models/hub_response.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace labhouse::models {
namespace {

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

}  // namespace

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string TrimWhitespace(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

// `W/"abc"` -> `abc`.
std::string NormalizeEtag(std::string etag) {
    etag = TrimWhitespace(etag);
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
    // Past int64 (20+ digits) the hub "did not say": strtoll would clamp it to 9.2 EB.
    std::int64_t size = -1;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
    return ec == std::errc() && end == value.data() + value.size() ? size : -1;
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

bool IsRedirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

void AddHeaderLine(HubHeaders& headers, std::string_view line_view) {
    const std::string line(line_view);
    if (line.rfind("HTTP/", 0) == 0) {
        headers.clear();  // a new response (after a redirect or a 100 Continue)
    } else if (const auto colon = line.find(':'); colon != std::string::npos) {
        headers[Lower(TrimWhitespace(line.substr(0, colon)))] = TrimWhitespace(line.substr(colon + 1));
    }
}

Result<std::optional<std::string>> ApplyProbeAnswer(RemoteFile& file, long status, const HubHeaders& headers,
                                                    const std::string& url, const std::string& endpoint_origin,
                                                    const HubConfig& config) {
    auto header = [&headers](const std::string& name) {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    };
    if (status >= 400 || status < 200 || (status >= 300 && !IsRedirect(status))) {
        return HttpError(status, file, header("x-error-code"), config);
    }
    // The hub puts the file's metadata on the redirect itself (LFS) or on the 200 (git files).
    if (const std::string commit = header("x-repo-commit"); !commit.empty()) file.commit = commit;
    const std::string linked_etag = NormalizeEtag(header("x-linked-etag"));
    const std::string etag = NormalizeEtag(header("etag"));
    const std::int64_t linked_size = ParseSize(header("x-linked-size"));
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
        file.size = ParseSize(header("content-length"));
    }
    if (status < 300) {
        file.download_url = url;
        file.send_auth = UrlOrigin(url) == endpoint_origin;
        return std::optional<std::string>();
    }
    const std::string location = header("location");
    if (location.empty()) return Internal("redirect without a Location for '" + file.path + "'");
    const std::string next = ResolveLocation(url, location);
    if (UrlOrigin(next) != endpoint_origin) {
        // The CDN: its URL is signed, so it needs (and must not get) the token.
        file.download_url = next;
        file.send_auth = false;
        return std::optional<std::string>();
    }
    return std::optional<std::string>(next);
}

}  // namespace labhouse::models
