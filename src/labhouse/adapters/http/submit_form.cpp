#include "labhouse/adapters/http/submit_form.h"

#include <set>

#include "labhouse/adapters/http/request_parsing.h"

namespace labhouse::http {
namespace {

// Text fields POST /api/v1/jobs accepts, and file fields. Anything else is refused, so a typo
// ("strenght") is an error instead of a silently ignored setting.
const std::set<std::string> kTextFields = {"backend", "style",   "prompt", "negative_prompt", "strength",
                                           "steps",   "guidance", "seed",  "sampler", "model", "engine", "effect",
                                           "webhook_url", "width", "height", "decoder"};
const std::set<std::string> kFileFields = {"image", "reference_image"};
// Option fields copied into JobParams::options for the backend to read.
const std::set<std::string> kOptionFields = {"engine", "effect", "decoder"};

}  // namespace

Result<SubmitRequest> ParseSubmitForm(const httplib::MultipartFormDataMap& files,
                                      const WebhookValidator& validate_webhook_url) {
    SubmitRequest request;
    JobParams& p = request.params;
    for (const auto& [name, field] : files) {
        const bool is_file = kFileFields.count(name) > 0;
        if (!is_file && kTextFields.count(name) == 0) {
            return InvalidArgument("unknown field '" + name + "'");
        }
        if (files.count(name) > 1) return InvalidArgument("field '" + name + "' given more than once");
        if (is_file) {
            if (name == "image") {
                request.image_bytes = field.content;
            } else {
                request.extra_images[name] = field.content;
            }
            continue;
        }
        const std::string& v = field.content;
        if (name == "backend") p.backend = v;
        else if (name == "style") p.style = v;
        else if (name == "prompt") p.prompt = v;
        else if (name == "negative_prompt") p.negative_prompt = v;
        else if (name == "sampler") p.sampler = v;
        else if (name == "model") p.model = v;
        else if (name == "strength") { LABHOUSE_ASSIGN_OR_RETURN(p.strength, ParseDouble(name, v, 0.0, 1.0)); }
        else if (name == "guidance") { LABHOUSE_ASSIGN_OR_RETURN(p.guidance, ParseDouble(name, v, 0.0, 35.0)); }
        else if (name == "steps") {
            LABHOUSE_ASSIGN_OR_RETURN(std::int64_t steps, ParseInt(name, v, 1, 150));
            p.steps = static_cast<int>(steps);
        } else if (name == "seed") {
            LABHOUSE_ASSIGN_OR_RETURN(p.seed, ParseInt(name, v, 0, 4294967295LL));
        } else if (name == "width" || name == "height") {
            // The range and multiple are checked with the other rules of text-to-image jobs.
            LABHOUSE_ASSIGN_OR_RETURN(std::int64_t side, ParseInt(name, v, 1, 100000));
            (name == "width" ? p.width : p.height) = static_cast<int>(side);
        } else if (name == "webhook_url") {
            if (!validate_webhook_url) {
                return InvalidArgument("webhooks are disabled on this server (LABHOUSE_WEBHOOK_SECRET is not set)");
            }
            LABHOUSE_RETURN_IF_ERROR(validate_webhook_url(v));
            p.options[name] = v;
        } else if (kOptionFields.count(name)) {
            p.options[name] = v;
        }
    }
    // No photo: a text-to-image job, which says how large the image is to be.
    if (files.count("image") == 0) {
        if (!p.width && !p.height) {
            return InvalidArgument("missing the 'image' file field (a text-to-image job sends width and height "
                                   "instead)");
        }
        p.kind = JobKind::kTextToImage;
    }
    return request;
}

Result<JobListQuery> ParseJobListQuery(const httplib::Params& params) {
    // The first value of a repeated parameter, as httplib::Request::get_param_value gives it.
    auto first = [&params](const std::string& key) {
        auto it = params.lower_bound(key);
        return it == params.end() || it->first != key ? std::string() : it->second;
    };
    JobListQuery query;
    for (const auto& [key, value] : params) {
        if (key != "status" && key != "limit" && key != "cursor") {
            return InvalidArgument("unknown query parameter '" + key + "'");
        }
    }
    if (const std::string status = first("status"); !status.empty()) {
        query.state = JobStateFromName(status);
        if (!query.state) {
            return InvalidArgument("status must be one of queued, running, succeeded, failed, canceled");
        }
    }
    if (params.count("limit")) {
        LABHOUSE_ASSIGN_OR_RETURN(std::int64_t limit, ParseInt("limit", first("limit"), 1, 100));
        query.limit = static_cast<int>(limit);
    }
    query.cursor = first("cursor");
    return query;
}

}  // namespace labhouse::http
