// The one place where the HTTP adapter authenticates and limits callers. Route() runs Authorize()
// before every handler; handlers read the caller with CurrentCaller() and never check keys
// themselves. In the open mode (no AccessControl) every caller is an anonymous admin.
#pragma once

#include <optional>
#include <string>

#include <httplib.h>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"
#include "labhouse/core/usecases/access_control.h"

namespace labhouse::http {

struct RouteContext;

// Sets the request's caller for CurrentCaller() and clears it when the request ends, so a pooled
// thread never carries one request's identity into the next.
class CallerScope {
public:
    CallerScope();
    ~CallerScope();
    CallerScope(const CallerScope&) = delete;
    CallerScope& operator=(const CallerScope&) = delete;
};

// Authenticates the request (401 + WWW-Authenticate for a missing, unknown or revoked key),
// applies the key's rate limit and, for routes that create jobs, its daily quota (429 +
// Retry-After). Returns false when it has already answered. Public routes (UI, health, images
// addressed by their content hash) pass without a key.
bool Authorize(RouteContext& ctx, const std::string& route_label, const httplib::Request& req,
               httplib::Response& res);

// The caller of the request being handled on this thread.
const Caller& CurrentCaller();
// The current caller's daily quota, for the job a job-creating route submits (SubmitRequest::quota:
// the repository enforces it with the insert); nullopt when unlimited or on other routes.
const std::optional<CreateQuota>& CurrentQuota();

// The job if the current caller may see it; kNotFound otherwise (never "forbidden": another key's
// job ids are not confirmed to exist).
Result<Job> GetVisibleJob(RouteContext& ctx, const std::string& id);

}  // namespace labhouse::http
