// OpenAI-compatible images API: POST /v1/images/edits (a photo and a prompt) and
// POST /v1/images/generations (text-to-image, JSON) run a labhouse job synchronously and answer
// {"created", "data": [{"b64_json"} | {"url"}]}; errors use OpenAI's
// {"error": {"message", "type", "param", "code"}}. `model` names a labhouse backend (or an OpenAI
// model name, which means "auto"); the labhouse extensions `style`, `strength` and `seed` ride
// along as extra fields (the SDKs' extra_body).
#include <ctime>
#include <regex>
#include <set>

#include "labhouse/adapters/http/auth_middleware.h"
#include "labhouse/adapters/http/compat_common.h"
#include "labhouse/adapters/http/error_mapping.h"
#include "labhouse/adapters/http/job_dto.h"
#include "labhouse/adapters/http/request_parsing.h"
#include "labhouse/adapters/http/route_context.h"

namespace labhouse::http {
namespace {

using nlohmann::json;

const std::set<std::string> kEditFields = {"image", "image[]", "prompt", "n", "size", "response_format", "model",
                                           "user", "style", "strength", "seed", "quality", "mask"};
const std::set<std::string> kGenerationFields = {"prompt", "n", "size", "response_format", "model", "user",
                                                 "quality", "style", "seed", "negative_prompt"};
// What size "auto" (and no size) means for text-to-image: OpenAI's default square.
constexpr int kAutoSide = 1024;
// OpenAI model names: a client written for OpenAI keeps working and gets the best available backend.
const std::set<std::string> kOpenAiModels = {"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "auto", ""};

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

// The "WIDTHxHEIGHT" of an OpenAI `size`; nullopt for "auto". The range is checked with the job.
Result<std::optional<std::pair<int, int>>> ParseSize(const std::string& v) {
    static const std::regex kSize(R"((\d{2,4})x(\d{2,4}))");
    std::smatch m;
    if (v == "auto") return std::optional<std::pair<int, int>>{};
    if (!std::regex_match(v, m, kSize)) return InvalidArgument("size must be auto or WIDTHxHEIGHT, e.g. 1024x1024");
    return std::optional<std::pair<int, int>>{std::pair{std::stoi(m[1]), std::stoi(m[2])}};
}

struct EditRequest {
    SubmitRequest submit;
    std::string response_format = "b64_json";
};

// The string fields that edits and generations read the same way. Returns false for other names.
Result<bool> ApplySharedField(const std::string& name, const std::string& v, EditRequest& out) {
    if (name == "response_format") {
        if (v != "b64_json" && v != "url") return InvalidArgument("response_format must be b64_json or url");
        out.response_format = v;
    } else if (name == "model") {
        out.submit.params.backend = kOpenAiModels.count(v) ? "auto" : v;
    } else if (name == "style") {
        // OpenAI's dall-e-3 styles mean nothing here; any other name is one of ours.
        if (v != "vivid" && v != "natural") out.submit.params.style = v;
    } else {
        return false;
    }
    return true;
}

Result<EditRequest> ParseEdit(const httplib::Request& req, std::string& param) {
    if (!req.is_multipart_form_data()) {
        return InvalidArgument("POST /v1/images/edits takes multipart/form-data with an 'image' file and a 'prompt'");
    }
    EditRequest out;
    JobParams& p = out.submit.params;
    int images = 0;
    for (const auto& [name, field] : req.files) {
        param = name;
        if (!kEditFields.count(name)) return InvalidArgument("Unrecognized request argument supplied: " + name);
        const std::string& v = field.content;
        LABHOUSE_ASSIGN_OR_RETURN(const bool shared, ApplySharedField(name, v, out));
        if (shared) continue;
        if (name == "image" || name == "image[]") {
            ++images;
            out.submit.image_bytes = v;
        } else if (name == "mask") {
            return InvalidArgument("masks are not supported: labhouse transforms the whole image");
        } else if (name == "prompt") {
            p.prompt = v;
        } else if (name == "n") {
            LABHOUSE_ASSIGN_OR_RETURN(auto n, ParseInt("n", v, 1, 10));
            if (n != 1) return InvalidArgument("n must be 1: labhouse makes one image per request");
        } else if (name == "size") {
            // Checked for compatibility; the result keeps the input photo's size (documented).
            LABHOUSE_RETURN_IF_ERROR(ParseSize(v));
        } else if (name == "strength") {
            LABHOUSE_ASSIGN_OR_RETURN(p.strength, ParseDouble("strength", v, 0.0, 1.0));
        } else if (name == "seed") {
            LABHOUSE_ASSIGN_OR_RETURN(p.seed, ParseInt("seed", v, 0, 4294967295LL));
        }
    }
    if (images == 0) {
        param = "image";
        return InvalidArgument("missing the 'image' file");
    }
    if (images > 1) {
        param = "image";
        return InvalidArgument("one image per request");
    }
    if (p.prompt.empty() && p.style.empty()) {
        param = "prompt";
        return InvalidArgument("'prompt' is required");
    }
    param.clear();
    return out;
}

// The JSON body of POST /v1/images/generations: a text-to-image job.
Result<EditRequest> ParseGeneration(const httplib::Request& req, std::string& param) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
    EditRequest out;
    JobParams& p = out.submit.params;
    p.kind = JobKind::kTextToImage;
    std::pair<int, int> size{kAutoSide, kAutoSide};
    auto text = [&](const std::string& name, const json& value) -> Result<std::string> {
        if (!value.is_string()) return InvalidArgument("'" + name + "' must be a string");
        return value.get<std::string>();
    };
    for (const auto& [name, value] : body.items()) {
        param = name;
        if (!kGenerationFields.count(name)) return InvalidArgument("Unrecognized request argument supplied: " + name);
        if (name == "n") {
            if (!value.is_number_integer()) return InvalidArgument("'n' must be an integer");
            if (value.get<std::int64_t>() != 1) return InvalidArgument("n must be 1: labhouse makes one image per request");
        } else if (name == "seed") {
            if (!value.is_number_integer()) return InvalidArgument("'seed' must be an integer");
            const auto seed = value.get<std::int64_t>();
            if (seed < 0 || seed > 4294967295LL) return InvalidArgument("seed must be between 0 and 4294967295");
            p.seed = seed;
        } else {
            LABHOUSE_ASSIGN_OR_RETURN(std::string v, text(name, value));
            LABHOUSE_ASSIGN_OR_RETURN(const bool shared, ApplySharedField(name, v, out));
            if (shared) continue;
            if (name == "prompt") {
                p.prompt = v;
            } else if (name == "negative_prompt") {
                p.negative_prompt = v;
            } else if (name == "size") {
                LABHOUSE_ASSIGN_OR_RETURN(auto parsed, ParseSize(v));
                if (parsed) size = *parsed;
                LABHOUSE_RETURN_IF_ERROR(ValidateTextToImageSize(size.first, size.second));
            }  // user, quality: accepted and ignored
        }
    }
    if (p.prompt.empty()) {
        param = "prompt";
        return InvalidArgument("'prompt' is required");
    }
    p.width = size.first;
    p.height = size.second;
    param.clear();
    return out;
}

std::string BaseUrl(const httplib::Request& req) {
    const std::string host = req.get_header_value("Host");
    return host.empty() ? "" : "http://" + host;
}

// Submits the job, waits for it and answers in OpenAI's shape (both endpoints).
void RunSync(RouteContext& ctx, const httplib::Request& req, httplib::Response& res, EditRequest& request) {
    request.submit.owner = CurrentCaller().key_id;
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
    auto request = ParseEdit(req, param);
    if (!request) return SendOpenAiError(res, request.error(), param);
    RunSync(ctx, req, res, *request);
}

void Generate(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
    std::string param;
    auto request = ParseGeneration(req, param);
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
