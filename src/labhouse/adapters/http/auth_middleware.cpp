#include "labhouse/adapters/http/auth_middleware.h"

#include <set>

#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/route_context.h"
#include "labhouse/core/base/log.h"

namespace labhouse::http {
namespace {

// Routes anyone may call. Images are content-addressed (the id is the SHA-256 of the bytes), so
// their URLs work as capabilities and <img> tags, which cannot send a bearer header, can load them.
const std::set<std::string> kPublicRoutes = {"GET /", "GET /ui/*", "GET /healthz", "GET /readyz",
                                             "GET /api/v1/images/{id}"};
// Routes that create a job, and so count against the daily quota.
const std::set<std::string> kJobCreatingRoutes = {"POST /api/v1/jobs", "POST /v1/images/edits",
                                                  "POST /v1/images/generations", "POST /sdapi/v1/img2img",
                                                  "POST /sdapi/v1/txt2img"};

const Caller kOpenCaller{"", true, 0, 0};
thread_local const Caller* current_caller = nullptr;
thread_local Caller current_storage;
thread_local std::optional<CreateQuota> current_quota;

// OpenAI clients parse {"error": {"message", "type", "param", "code"}}; everything else gets ours.
void SendAuthError(const httplib::Request& req, httplib::Response& res, int status, const std::string& code,
                   const std::string& message) {
    if (req.path.rfind("/v1/", 0) == 0) {
        const std::string type = status == 401 ? "invalid_request_error" : "rate_limit_exceeded";
        SendJson(res, status,
                 {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}});
        return;
    }
    SendJson(res, status, ErrorBody(code, message));
}

std::string BearerToken(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    if (header.size() <= kScheme.size()) return {};
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
        if (lower(header[i]) != lower(kScheme[i])) {
            return {};
        }
    }
    std::string token = header.substr(kScheme.size());
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    return token;
}

void SendThrottled(const httplib::Request& req, httplib::Response& res, const Throttle& throttle) {
    res.set_header("Retry-After", std::to_string(throttle.retry_after_s));
    SendAuthError(req, res, 429, "RESOURCE_EXHAUSTED", throttle.message);
}

}  // namespace

CallerScope::CallerScope() {
    current_caller = &kOpenCaller;
    current_quota.reset();
}
CallerScope::~CallerScope() {
    current_caller = nullptr;
    current_quota.reset();
}

const Caller& CurrentCaller() { return current_caller != nullptr ? *current_caller : kOpenCaller; }

const std::optional<CreateQuota>& CurrentQuota() { return current_quota; }

bool Authorize(RouteContext& ctx, const std::string& route_label, const httplib::Request& req,
               httplib::Response& res) {
    AccessControl* access = ctx.deps.access;
    current_caller = &kOpenCaller;
    if (access == nullptr || kPublicRoutes.count(route_label) > 0) return true;

    const std::string token = BearerToken(req);
    if (token.empty()) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"labhouse\"");
        SendAuthError(req, res, 401, "UNAUTHENTICATED",
                      "this server needs an API key: send 'Authorization: Bearer <key>'");
        return false;
    }
    auto caller = access->Authenticate(token);
    if (!caller) {
        Log(LogLevel::kError, "auth_store_failed", {{"message", caller.error().message}});
        SendAuthError(req, res, 503, "UNAVAILABLE", "the key store cannot be read; try again");
        return false;
    }
    if (!*caller) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"labhouse\", error=\"invalid_token\"");
        SendAuthError(req, res, 401, "UNAUTHENTICATED", "the API key is not valid (unknown or revoked)");
        return false;
    }
    current_storage = **caller;
    current_caller = &current_storage;
    if (auto throttle = access->AdmitRequest(current_storage)) {
        SendThrottled(req, res, *throttle);
        return false;
    }
    if (kJobCreatingRoutes.count(route_label) > 0) {
        auto quota = access->AdmitJob(current_storage);
        if (!quota) {
            SendAuthError(req, res, 503, "UNAVAILABLE", "cannot check the daily quota; try again");
            return false;
        }
        if (*quota) {
            SendThrottled(req, res, **quota);
            return false;
        }
        current_quota = access->DailyQuota(current_storage);
    }
    return true;
}

Result<Job> GetVisibleJob(RouteContext& ctx, const std::string& id) {
    auto job = ctx.deps.jobs.Get(id);
    if (!job) return job.error();
    if (!CanAccess(CurrentCaller(), *job)) return NotFound("job " + id + " not found");
    return job;
}

}  // namespace labhouse::http
