#include "labhouse/adapters/http/compat_common.h"

#include "labhouse/adapters/http/route_context.h"
#include "labhouse/core/base/base64.h"

namespace labhouse::http {
Result<std::string> DecodeBase64Field(const std::string& field, std::string_view text) {
    if (text.rfind("data:", 0) == 0) {
        const auto comma = text.find(',');
        if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos) {
            return InvalidArgument("'" + field + "' is a data URL without base64 data");
        }
        text = text.substr(comma + 1);
    }
    auto out = DecodeBase64(text);
    if (!out) return InvalidArgument("'" + field + "' is " + out.error().message);
    if (out->empty()) return InvalidArgument("'" + field + "' is empty");
    return out;
}

Result<Job> WaitForFinish(RouteContext& ctx, const std::string& job_id, std::chrono::seconds timeout) {
    auto subscription = ctx.deps.events.Subscribe(job_id);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        LABHOUSE_ASSIGN_OR_RETURN(Job job, ctx.deps.jobs.Get(job_id));
        if (IsTerminal(job.state)) return job;
        if (ctx.stopping.load()) return Unavailable("the server is shutting down; job " + job_id + " is kept");
        if (std::chrono::steady_clock::now() >= deadline) {
            return DeadlineExceeded("job " + job_id + " did not finish within " + std::to_string(timeout.count()) +
                                    " s; it keeps running: GET /api/v1/jobs/" + job_id);
        }
        (void)subscription->Next(std::chrono::milliseconds(500));
    }
}

Result<std::string> ResultBytes(RouteContext& ctx, const Job& job) {
    if (job.result_blob.empty()) return Internal("job " + job.id + " succeeded without a result image");
    return ctx.deps.blobs.Get(job.result_blob);
}

}  // namespace labhouse::http
