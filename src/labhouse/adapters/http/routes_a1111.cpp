// AUTOMATIC1111-compatible API (/sdapi/v1): img2img and txt2img run a labhouse job synchronously
// and answer A1111's {"images", "parameters", "info"}; progress, interrupt, sd-models and samplers read and
// act on the caller's own jobs. The backend is chosen like an A1111 checkpoint
// (override_settings.sd_model_checkpoint = a name from /sdapi/v1/sd-models, default auto) and the
// style with A1111's `styles` field (one name from GET /api/v1/styles). docs/api.md has the table.
#include <map>
#include <set>

#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/compat_common.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

using nlohmann::json;

// A1111 sampler names -> labhouse sampler ids (the sdxl backend's; classic has no sampler).
const std::map<std::string, std::string> kSamplers = {
    {"Euler a", "euler_a"}, {"Euler", "euler"}, {"DPM++ 2M", "dpmpp_2m"}, {"DPM++ 2M Karras", "dpmpp_2m"}};
// Fields A1111 clients send that have no labhouse meaning: accepted (A1111 itself ignores unknown
// fields) and listed under info.ignored_fields, so a client can see what had no effect.
const std::set<std::string> kCommonFields = {"prompt",        "negative_prompt", "steps",      "cfg_scale",
                                             "seed",          "sampler_name",    "sampler_index", "styles",
                                             "batch_size",    "n_iter",          "override_settings", "send_images"};
const std::set<std::string> kImg2ImgFields = {"init_images", "denoising_strength"};
const std::set<std::string> kTxt2ImgFields = {"width", "height"};
// A1111's txt2img default size.
constexpr int kDefaultSide = 512;

// FastAPI (A1111's server) answers {"detail": ...}; bad input is 422 there.
void SendA1111Error(httplib::Response& res, const Error& error) {
    const int status = error.code == ErrorCode::kInvalidArgument ? 422 : HttpStatusFor(error.code);
    SendJson(res, status, {{"error", error.Name()}, {"detail", error.message}});
}

struct A1111Request {
    SubmitRequest submit;
    std::vector<std::string> ignored;
    std::string sampler_name;
};

template <class T>
Result<T> Field(const json& body, const std::string& name, json::value_t kind) {
    const json& value = body.at(name);
    const bool ok = kind == json::value_t::number_float ? value.is_number()
                    : kind == json::value_t::number_integer ? value.is_number_integer()
                                                            : value.type() == kind;
    if (!ok) return InvalidArgument("'" + name + "' has the wrong type");
    return value.get<T>();
}

// The fields img2img and txt2img share; `own` are the endpoint's other known fields (anything
// else is listed as ignored).
Result<json> ParseCommon(const httplib::Request& req, const std::set<std::string>& own, A1111Request& out) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
    JobParams& p = out.submit.params;
    for (const auto& [name, value] : body.items()) {
        if (!kCommonFields.count(name) && !own.count(name)) out.ignored.push_back(name);
    }
    for (const char* count : {"batch_size", "n_iter"}) {
        if (body.contains(count)) {
            LABHOUSE_ASSIGN_OR_RETURN(auto n, Field<std::int64_t>(body, count, json::value_t::number_integer));
            if (n != 1) return InvalidArgument(std::string("'") + count + "' must be 1; submit one request per image");
        }
    }
    if (body.contains("prompt")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.prompt, Field<std::string>(body, "prompt", json::value_t::string));
    }
    if (body.contains("negative_prompt")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.negative_prompt,
                                  Field<std::string>(body, "negative_prompt", json::value_t::string));
    }
    if (body.contains("steps")) {
        LABHOUSE_ASSIGN_OR_RETURN(auto steps, Field<std::int64_t>(body, "steps", json::value_t::number_integer));
        if (steps < 1 || steps > 150) return InvalidArgument("'steps' must be between 1 and 150");
        p.steps = static_cast<int>(steps);
    }
    if (body.contains("cfg_scale")) {
        LABHOUSE_ASSIGN_OR_RETURN(p.guidance, Field<double>(body, "cfg_scale", json::value_t::number_float));
    }
    if (body.contains("seed")) {
        LABHOUSE_ASSIGN_OR_RETURN(auto seed, Field<std::int64_t>(body, "seed", json::value_t::number_integer));
        if (seed != -1) p.seed = seed;  // -1 is A1111's "random"
    }
    for (const char* sampler : {"sampler_name", "sampler_index"}) {
        if (!body.contains(sampler) || !body[sampler].is_string()) continue;
        out.sampler_name = body[sampler].get<std::string>();
        auto it = kSamplers.find(out.sampler_name);
        // Unknown samplers fall back to the backend's default instead of failing A1111 presets.
        if (it != kSamplers.end()) p.sampler = it->second;
        else out.ignored.push_back(sampler);
        break;
    }
    if (body.contains("styles")) {
        const json& styles = body["styles"];
        if (!styles.is_array() || styles.size() > 1 || (styles.size() == 1 && !styles[0].is_string())) {
            return InvalidArgument("'styles' takes at most one style name (see GET /api/v1/styles)");
        }
        if (styles.size() == 1) p.style = styles[0].get<std::string>();
    }
    if (body.contains("override_settings")) {
        const json& settings = body["override_settings"];
        if (!settings.is_object()) return InvalidArgument("'override_settings' must be an object");
        for (const auto& [key, value] : settings.items()) {
            if (key == "sd_model_checkpoint" && value.is_string()) {
                p.backend = value.get<std::string>();
            } else {
                out.ignored.push_back("override_settings." + key);
            }
        }
    }
    return body;
}

Result<A1111Request> ParseImg2Img(const httplib::Request& req) {
    A1111Request out;
    LABHOUSE_ASSIGN_OR_RETURN(json body, ParseCommon(req, kImg2ImgFields, out));
    // The result keeps the photo's size: width and height mean nothing here (listed as ignored).
    if (!body.contains("init_images") || !body["init_images"].is_array() || body["init_images"].empty()) {
        return InvalidArgument("'init_images' must hold one base64 image (txt2img is /sdapi/v1/txt2img)");
    }
    if (body["init_images"].size() > 1) {
        return InvalidArgument("'init_images' takes one image; labhouse runs one per job");
    }
    if (!body["init_images"][0].is_string()) return InvalidArgument("'init_images' must hold base64 strings");
    LABHOUSE_ASSIGN_OR_RETURN(out.submit.image_bytes,
                              DecodeBase64("init_images", body["init_images"][0].get<std::string>()));
    if (body.contains("denoising_strength")) {
        LABHOUSE_ASSIGN_OR_RETURN(out.submit.params.strength,
                                  Field<double>(body, "denoising_strength", json::value_t::number_float));
    }
    return out;
}

// txt2img: a text-to-image job of width x height (A1111's 512 x 512 when absent). init_images and
// denoising_strength (A1111's hires fix) have no meaning here and are listed as ignored.
Result<A1111Request> ParseTxt2Img(const httplib::Request& req) {
    A1111Request out;
    LABHOUSE_ASSIGN_OR_RETURN(json body, ParseCommon(req, kTxt2ImgFields, out));
    JobParams& p = out.submit.params;
    p.kind = JobKind::kTextToImage;
    p.width = kDefaultSide;
    p.height = kDefaultSide;
    for (const char* side : {"width", "height"}) {
        if (!body.contains(side)) continue;
        LABHOUSE_ASSIGN_OR_RETURN(auto v, Field<std::int64_t>(body, side, json::value_t::number_integer));
        if (v < 1 || v > 100000) return InvalidArgument(std::string("'") + side + "' must be a positive size");
        (std::string(side) == "width" ? p.width : p.height) = static_cast<int>(v);
    }
    LABHOUSE_RETURN_IF_ERROR(ValidateTextToImageSize(*p.width, *p.height));
    if (p.prompt.empty() && p.style.empty()) return InvalidArgument("'prompt' is required for txt2img");
    return out;
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

void Progress(RouteContext& ctx, httplib::Response& res) {
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
    }
    SendJson(res, 200, {{"progress", progress}, {"eta_relative", eta}, {"state", state}, {"current_image", nullptr},
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
          [&ctx](const httplib::Request& req, httplib::Response& res) { RunSync(ctx, req, res, ParseImg2Img(req)); });
    Route(server, ctx, Method::kPost, "/sdapi/v1/txt2img", "POST /sdapi/v1/txt2img",
          [&ctx](const httplib::Request& req, httplib::Response& res) { RunSync(ctx, req, res, ParseTxt2Img(req)); });
    Route(server, ctx, Method::kGet, "/sdapi/v1/progress", "GET /sdapi/v1/progress",
          [&ctx](const httplib::Request&, httplib::Response& res) { Progress(ctx, res); });
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
              for (const auto& [name, id] : kSamplers) {
                  samplers.push_back({{"name", name}, {"aliases", json::array({id})}, {"options", json::object()}});
              }
              SendJson(res, 200, samplers);
          });
}

}  // namespace labhouse::http
