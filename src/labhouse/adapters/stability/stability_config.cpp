#include "labhouse/adapters/stability/stability_config.h"

#include <cctype>
#include <sstream>

namespace labhouse::stability {
namespace {

struct EngineEntry {
    const char* id;
    StabilityApi api;
};

// SD 1.6 (the other v1 engine) was discontinued on 2025-07-24; sd3-* ids are re-routed to
// sd3.5-* by Stability since 2025-04-17, so only the current ids are offered.
constexpr EngineEntry kEngines[] = {
    {"stable-diffusion-xl-1024-v1-0", StabilityApi::kV1Sdxl},
    {"sd3.5-large", StabilityApi::kV2Sd3},
    {"sd3.5-medium", StabilityApi::kV2Sd3},
    {"ultra", StabilityApi::kV2Ultra},
};

bool IsKeyChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

std::string RedactUserInfo(const std::string& url) {
    const auto scheme = url.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto at = url.find('@', start);
    const auto slash = url.find('/', start);
    if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
    return url.substr(0, start) + "[redacted]" + url.substr(at);
}

}  // namespace

const std::vector<std::string>& KnownEngines() {
    static const std::vector<std::string> kIds = [] {
        std::vector<std::string> ids;
        for (const auto& entry : kEngines) ids.emplace_back(entry.id);
        return ids;
    }();
    return kIds;
}

Result<EngineInfo> ParseEngine(std::string_view id) {
    for (const auto& entry : kEngines) {
        if (id == entry.id) return EngineInfo{entry.id, entry.api};
    }
    std::string known;
    for (const auto& name : KnownEngines()) known += (known.empty() ? "" : ", ") + name;
    return InvalidArgument("unknown stability engine '" + std::string(id) + "' (known: " + known + ")");
}

Status StabilityConfig::Validate() const {
    if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
        return InvalidArgument("stability base_url must start with http:// or https://");
    }
    LABHOUSE_RETURN_IF_ERROR(ParseEngine(engine));
    for (char c : api_key) {
        // A key with a newline or space would corrupt the Authorization header.
        if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
            return InvalidArgument("stability api key contains whitespace or control characters");
        }
    }
    if (max_concurrency < 1 || max_concurrency > 64) {
        return InvalidArgument("stability max_concurrency must be between 1 and 64");
    }
    if (connect_timeout.count() <= 0 || request_timeout.count() <= 0 || balance_timeout.count() <= 0) {
        return InvalidArgument("stability timeouts must be positive");
    }
    if (balance_cache_ttl.count() < 0 || permission_recheck.count() < 0) {
        return InvalidArgument("stability balance_cache_ttl and permission_recheck must not be negative");
    }
    if (progress_interval.count() <= 0) return InvalidArgument("stability progress_interval must be positive");
    if (max_retries < 0 || max_retries > 10) return InvalidArgument("stability max_retries must be between 0 and 10");
    if (backoff_base.count() < 0 || backoff_max < backoff_base) {
        return InvalidArgument("stability backoff_base must be >= 0 and <= backoff_max");
    }
    if (rate_limit_wait.count() < 0 || rate_limit_jitter.count() < 0) {
        return InvalidArgument("stability rate limit waits must not be negative");
    }
    if (max_rate_limit_waits < 0 || max_rate_limit_waits > 20) {
        return InvalidArgument("stability max_rate_limit_waits must be between 0 and 20");
    }
    if (rate_limit_requests < 2 || rate_limit_window.count() <= 0) {
        return InvalidArgument("stability rate limit needs at least 2 requests per positive window");
    }
    if (!(default_strength >= 0.0 && default_strength <= 1.0)) {
        return InvalidArgument("stability default_strength must be between 0 and 1");
    }
    if (!(default_cfg_scale >= 0.0 && default_cfg_scale <= 35.0)) {
        return InvalidArgument("stability default_cfg_scale must be between 0 and 35");
    }
    if (default_steps < 10 || default_steps > 50) return InvalidArgument("stability default_steps must be 10..50");
    if (max_v1_upload_bytes <= 0 || max_v2_request_bytes <= 0 || max_v2_upload_pixels < 4096) {
        return InvalidArgument("stability upload limits must be positive (v2 pixels >= 4096)");
    }
    return OkStatus();
}

std::string StabilityConfig::ToString() const {
    std::ostringstream out;
    out << "base_url=" << RedactUserInfo(base_url) << " engine=" << engine
        << " api_key=" << (api_key.empty() ? "<unset>" : "<set>") << " max_concurrency=" << max_concurrency
        << " connect_timeout_ms=" << connect_timeout.count() << " request_timeout_ms=" << request_timeout.count()
        << " max_retries=" << max_retries << " backoff_base_ms=" << backoff_base.count()
        << " rate_limit_wait_ms=" << rate_limit_wait.count() << " rate_limit=" << rate_limit_requests << "/"
        << rate_limit_window.count() << "ms";
    return out.str();
}

std::string RedactSecrets(std::string text, std::string_view api_key) {
    static constexpr std::string_view kMask = "[redacted]";
    if (!api_key.empty()) {
        for (auto pos = text.find(api_key); pos != std::string::npos; pos = text.find(api_key, pos + kMask.size())) {
            text.replace(pos, api_key.size(), kMask);
        }
    }
    // Keys of other accounts, or a key the server echoes in a changed form, look like sk-XXXXXXXX...
    for (std::size_t pos = text.find("sk-"); pos != std::string::npos; pos = text.find("sk-", pos + 1)) {
        if (pos > 0 && IsKeyChar(text[pos - 1])) continue;
        std::size_t end = pos + 3;
        while (end < text.size() && IsKeyChar(text[end])) ++end;
        if (end - pos - 3 >= 8) text.replace(pos, end - pos, kMask);
    }
    return text;
}

}  // namespace labhouse::stability
