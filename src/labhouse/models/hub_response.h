// What a Hugging Face hub answers, read without a socket: header lines, ETags, sizes, redirects
// and the probe's decision (done, follow a redirect on the hub, or fail). HubClient feeds these
// from libcurl; the fuzz target tests/fuzz/fuzz_hub_response.cpp feeds them directly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"
#include "labhouse/models/hub_client.h"

namespace labhouse::models {

using HubHeaders = std::map<std::string, std::string>;  // names lower-cased, values trimmed

std::string Lower(std::string s);
std::string TrimWhitespace(const std::string& s);
// `W/"abc"` -> `abc`.
std::string NormalizeEtag(std::string etag);
bool IsLowerHex(const std::string& s, std::size_t length);
// A Content-Length style decimal; -1 when absent, not all digits, or past int64.
std::int64_t ParseSize(const std::string& value);
// A Location header resolved against the URL it came from (absolute, scheme-relative, absolute
// path or relative path).
std::string ResolveLocation(const std::string& base, const std::string& location);
bool IsRedirect(long status);
// The error for a hub status (messages name the file, never the token).
Error HttpError(long status, const RemoteFile& file, const std::string& error_code, const HubConfig& config);

// One raw header line as libcurl hands it over; a status line ("HTTP/...") starts a new response
// and clears `headers`.
void AddHeaderLine(HubHeaders& headers, std::string_view line);

// Reads one answer to the probe of `url` into `file` (size, SHA-256 or git blob id, commit,
// download URL and whether it may get the token). Returns the next URL when the answer is a
// redirect to the endpoint's own origin (to probe again), nullopt when `file` is complete, or
// the error for the status.
Result<std::optional<std::string>> ApplyProbeAnswer(RemoteFile& file, long status, const HubHeaders& headers,
                                                    const std::string& url, const std::string& endpoint_origin,
                                                    const HubConfig& config);

}  // namespace labhouse::models
