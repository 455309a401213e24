// AUTOMATIC1111-compatible API (/sdapi/v1): img2img and txt2img run a labhouse job synchronously
// and answer A1111's {"images", "parameters", "info"}; progress, interrupt, sd-models and samplers read and
// act on the caller's own jobs. The backend is chosen like an A1111 checkpoint
// (override_settings.sd_model_checkpoint = a name from /sdapi/v1/sd-models, default auto) and the
// style with A1111's `styles` field (one name from GET /api/v1/styles). docs/api.md has the table.
#include <map>
#include <set>

#include "labhouse/core/base/base64.h"
#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/compat_common.h"
#include "labhouse/adapters/http/compat_requests.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

using nlohmann::json;

// FastAPI (A1111's server) answers {"detail": ...}; bad input is 422 there.
void SendA1111Error(httplib::Response& res, const Error& error) {
    const int status = error.code == ErrorCode::kInvalidArgument ? 422 : HttpStatusFor(error.code);
    SendJson(res, status, {{"error", error.Name()}, {"detail", error.message}});
}

json InfoFor(const Job& job, const A1111Request& request) {
    const JobParams& p = job.params;
    json seed = nullptr;
    if (auto it = job.result_meta.find("seed"); it != job.result_meta.end()) seed = it->second;
    else if (p.seed) seed = *p.seed;
    return {{"job_id", job.id},
            {"backend", p.backend},
            {"sd_model_name", p.backend},
            {"prompt", p.prompt},
            {"negative_prompt", p.negative_prompt},
            {"styles", p.style.empty() ? json::array() : json::array({p.style})},
            {"seed", seed},
            {"all_seeds", json::array({seed})},
            {"steps", p.steps ? json(*p.steps) : json(nullptr)},
            {"cfg_scale", p.guidance ? json(*p.guidance) : json(nullptr)},
            {"denoising_strength", p.strength ? json(*p.strength) : json(nullptr)},
            {"sampler_name", request.sampler_name},
            {"width", p.width ? json(*p.width) : json(nullptr)},
            {"height", p.height ? json(*p.height) : json(nullptr)},
            {"status", JobStateName(job.state)},
            {"meta", job.result_meta},
            {"ignored_fields", request.ignored}};
}

std::optional<std::string> OwnerFilter() {
    const Caller& caller = CurrentCaller();
    if (caller.admin) return std::nullopt;
    return caller.key_id;
}

// Submits the job, waits for it and answers A1111's {"images", "parameters", "info"}.
void RunSync(RouteContext& ctx, const httplib::Request& req, httplib::Response& res, Result<A1111Request> request) {
    if (!request) return SendA1111Error(res, request.error());
    request->submit.owner = CurrentCaller().key_id;
    request->submit.quota = CurrentQuota();
    request->submit.idempotency_key = req.get_header_value("Idempotency-Key");
    json parameters = json::parse(req.body, nullptr, false);
    // Echoed like A1111 does, without megabytes of base64.
    if (parameters.contains("init_images")) parameters["init_images"] = nullptr;
    auto submitted = ctx.deps.submit.Submit(request->submit);
    if (!submitted) return SendA1111Error(res, submitted.error());
    res.set_header("X-Labhouse-Job-Id", submitted->job.id);
    auto job = WaitForFinish(ctx, submitted->job.id, std::chrono::seconds(ctx.config.sync_timeout_s));
    if (!job) return SendA1111Error(res, job.error());
    const std::string info = InfoFor(*job, *request).dump();
    if (job->state == JobState::kFailed) {
        const JobError error = job->error.value_or(JobError{"INTERNAL", "failed"});
        return SendJson(res, 500, {{"error", error.code}, {"detail", "job " + job->id + " failed: " + error.message},
                                   {"info", info}});
    }
    json images = json::array();
    if (job->state == JobState::kSucceeded) {
        auto bytes = ResultBytes(ctx, *job);
        if (!bytes) return SendA1111Error(res, bytes.error());
        images.push_back(EncodeBase64(*bytes));
    }
    SendJson(res, 200, {{"images", images}, {"parameters", parameters}, {"info", info}});
}

void Progress(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
    JobListQuery query;
    query.owner = OwnerFilter();
    query.limit = 100;
    query.state = JobState::kRunning;
    auto running = ctx.deps.jobs.List(query);
    if (!running) return SendA1111Error(res, running.error());
    query.state = JobState::kQueued;
    auto queued = ctx.deps.jobs.List(query);
    if (!queued) return SendA1111Error(res, queued.error());
    const std::size_t job_count = running->jobs.size() + queued->jobs.size();
    json state = {{"skipped", false}, {"interrupted", false}, {"job", ""},        {"job_count", job_count},
                  {"job_timestamp", "0"}, {"job_no", 0},          {"sampling_step", 0}, {"sampling_steps", 0}};
    double progress = 0;
    double eta = 0;
    json current_image = nullptr;
    if (!running->jobs.empty()) {
        const Job& job = running->jobs.back();  // the oldest running job: A1111 reports the current one
        const JobProgress& p = job.progress;
        progress = p.total > 0 ? static_cast<double>(p.step) / p.total : 0.0;
        eta = p.seconds_per_step * std::max(0, p.total - p.step);
        state["job"] = job.id;
        state["interrupted"] = job.cancel_requested;
        state["sampling_step"] = p.step;
        state["sampling_steps"] = p.total;
        state["job_timestamp"] = std::to_string(job.started_ms);
        // A1111 sends a PNG; this is the job's newest preview as it was streamed (JPEG), which the
        // clients' image decoders and browsers read alike.
        if (req.get_param_value("skip_current_image") != "true") {
            if (auto jpeg = ctx.previews.For(job.id)) current_image = EncodeBase64(*jpeg);
        }
    }
    SendJson(res, 200, {{"progress", progress}, {"eta_relative", eta}, {"state", state}, {"current_image", current_image},
                        {"textinfo", running->jobs.empty() ? "idle" : "running"}});
}

void Interrupt(RouteContext& ctx, httplib::Response& res) {
    JobListQuery query;
    query.owner = OwnerFilter();
    query.limit = 100;
    query.state = JobState::kRunning;
    auto running = ctx.deps.jobs.List(query);
    if (!running) return SendA1111Error(res, running.error());
    json interrupted = json::array();
    for (const Job& job : running->jobs) {
        if (ctx.deps.cancel.Cancel(job.id)) interrupted.push_back(job.id);  // a job that just ended is skipped
    }
    SendJson(res, 200, {{"interrupted", interrupted}});
}

}  // namespace

void RegisterA1111Routes(httplib::Server& server, RouteContext& ctx) {
    Route(server, ctx, Method::kPost, "/sdapi/v1/img2img", "POST /sdapi/v1/img2img",
          [&ctx](const httplib::Request& req, httplib::Response& res) { RunSync(ctx, req, res, ParseA1111Img2Img(req.body)); });
    Route(server, ctx, Method::kPost, "/sdapi/v1/txt2img", "POST /sdapi/v1/txt2img",
          [&ctx](const httplib::Request& req, httplib::Response& res) { RunSync(ctx, req, res, ParseA1111Txt2Img(req.body)); });
    Route(server, ctx, Method::kGet, "/sdapi/v1/progress", "GET /sdapi/v1/progress",
          [&ctx](const httplib::Request& req, httplib::Response& res) { Progress(ctx, req, res); });
    Route(server, ctx, Method::kPost, "/sdapi/v1/interrupt", "POST /sdapi/v1/interrupt",
          [&ctx](const httplib::Request&, httplib::Response& res) { Interrupt(ctx, res); });
    Route(server, ctx, Method::kGet, "/sdapi/v1/sd-models", "GET /sdapi/v1/sd-models",
          [&ctx](const httplib::Request&, httplib::Response& res) {
              json models = json::array();
              for (Transformer* backend : ctx.deps.backends.All()) {
                  const std::string name(backend->Name());
                  models.push_back({{"title", name}, {"model_name", name}, {"hash", nullptr}, {"sha256", nullptr},
                                    {"filename", name}, {"config", nullptr},
                                    {"available", backend->Status().available}});
              }
              SendJson(res, 200, models);
          });
    Route(server, ctx, Method::kGet, "/sdapi/v1/samplers", "GET /sdapi/v1/samplers",
          [](const httplib::Request&, httplib::Response& res) {
              json samplers = json::array();
              for (const auto& [name, id] : A1111Samplers()) {
                  samplers.push_back({{"name", name}, {"aliases", json::array({id})}, {"options", json::object()}});
              }
              SendJson(res, 200, samplers);
          });
}

}  // namespace labhouse::http
