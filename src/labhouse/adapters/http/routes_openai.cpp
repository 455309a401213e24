// OpenAI-compatible images API: POST /v1/images/edits (a photo and a prompt) and
// POST /v1/images/generations (text-to-image, JSON) run a labhouse job synchronously and answer
// {"created", "data": [{"b64_json"} | {"url"}]}; errors use OpenAI's
// {"error": {"message", "type", "param", "code"}}. `model` names a labhouse backend (or an OpenAI
// model name, which means "auto"); the labhouse extensions `style`, `strength` and `seed` ride
// along as extra fields (the SDKs' extra_body).
#include <ctime>
#include <set>

#include "labhouse/core/base/base64.h"
#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/compat_common.h"
#include "labhouse/adapters/http/compat_requests.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/job_dto.h"
#include "labhouse/adapters/http/request_parsing.h"
#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

using nlohmann::json;

// An Error with the OpenAI parameter it concerns.
struct OpenAiError {
    Error error;
    std::string param;
};

void SendOpenAiError(httplib::Response& res, const Error& error, const std::string& param = "") {
    const int status = HttpStatusFor(error.code);
    std::string type = "invalid_request_error";
    if (status == 429) type = "rate_limit_exceeded";
    if (status >= 500) type = "server_error";
    std::string code = error.Name();
    for (char& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    SendJson(res, status,
             {{"error",
               {{"message", error.message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)},
                {"code", code}}}});
}

std::string BaseUrl(const httplib::Request& req) {
    const std::string host = req.get_header_value("Host");
    return host.empty() ? "" : "http://" + host;
}

// Submits the job, waits for it and answers in OpenAI's shape (both endpoints).
void RunSync(RouteContext& ctx, const httplib::Request& req, httplib::Response& res, OpenAiImageRequest& request) {
    request.submit.owner = CurrentCaller().key_id;
    request.submit.quota = CurrentQuota();
    request.submit.idempotency_key = req.get_header_value("Idempotency-Key");
    auto submitted = ctx.deps.submit.Submit(request.submit);
    if (!submitted) {
        // A named backend that does not exist or cannot do text-to-image is the `model` field's fault.
        const std::string& message = submitted.error().message;
        const bool model = request.submit.params.kind == JobKind::kTextToImage &&
                           submitted.error().code == ErrorCode::kInvalidArgument &&
                           (message.rfind("backend '", 0) == 0 || message.rfind("unknown backend", 0) == 0);
        return SendOpenAiError(res, submitted.error(), model ? "model" : "");
    }
    res.set_header("X-Labhouse-Job-Id", submitted->job.id);
    auto job = WaitForFinish(ctx, submitted->job.id, std::chrono::seconds(ctx.config.sync_timeout_s));
    if (!job) return SendOpenAiError(res, job.error());
    if (job->state != JobState::kSucceeded) {
        const JobError error = job->state == JobState::kCanceled ? JobError{"CANCELLED", "the job was canceled"}
                                                                  : job->error.value_or(JobError{"INTERNAL", "failed"});
        Error failure = Internal("job " + job->id + " " + std::string(JobStateName(job->state)) + ": " + error.message);
        failure.reason = error.code;
        return SendOpenAiError(res, failure);
    }
    json item;
    if (request.response_format == "url") {
        item["url"] = BaseUrl(req) + ImageUrl(job->result_blob);
    } else {
        auto bytes = ResultBytes(ctx, *job);
        if (!bytes) return SendOpenAiError(res, bytes.error());
        item["b64_json"] = EncodeBase64(*bytes);
    }
    if (!job->params.prompt.empty()) item["revised_prompt"] = job->params.prompt;
    SendJson(res, 200, {{"created", job->created_ms / 1000}, {"data", json::array({item})}});
}

void Edit(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
    std::string param;
    if (!req.is_multipart_form_data()) {
        return SendOpenAiError(res, InvalidArgument("POST /v1/images/edits takes multipart/form-data with an "
                                                    "'image' file and a 'prompt'"));
    }
    auto request = ParseOpenAiEdit(req.files, param);
    if (!request) return SendOpenAiError(res, request.error(), param);
    RunSync(ctx, req, res, *request);
}

void Generate(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
    std::string param;
    auto request = ParseOpenAiGeneration(req.body, param);
    if (!request) return SendOpenAiError(res, request.error(), param);
    RunSync(ctx, req, res, *request);
}

}  // namespace

void RegisterOpenAiRoutes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kPost, "/v1/images/edits", "POST /v1/images/edits",
          [&ctx](const httplib::Request& req, httplib::Response& res) { Edit(ctx, req, res); });
    Route(server, ctx, Method::kPost, "/v1/images/generations", "POST /v1/images/generations",
          [&ctx](const httplib::Request& req, httplib::Response& res) { Generate(ctx, req, res); });
}

}  // namespace labhouse::http
