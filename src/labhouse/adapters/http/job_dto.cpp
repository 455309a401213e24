#include "labhouse/adapters/http/job_dto.h"

#include <ctime>

#include "labhouse/core/base/base64.h"
#include "labhouse/support/job_json.h"

namespace labhouse::http {

nlohmann::json Timestamp(std::int64_t epoch_ms) {
    if (epoch_ms <= 0) return nullptr;
    const std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(epoch_ms % 1000));
    return std::string(buffer);
}

std::string ImageUrl(const std::string& blob_id) { return "/api/v1/images/" + blob_id; }

static nlohmann::json ProgressToJson(const JobProgress& progress) {
    nlohmann::json j = {{"stage", progress.stage}, {"step", progress.step}, {"total", progress.total}};
    if (progress.seconds_per_step > 0) {
        j["seconds_per_step"] = progress.seconds_per_step;
        j["eta_seconds"] = progress.seconds_per_step * std::max(0, progress.total - progress.step);
    }
    return j;
}

nlohmann::json JobToJson(const Job& job, std::optional<std::int64_t> queue_position) {
    nlohmann::json params = ParamsToJson(job.params);
    if (params.contains("options")) {
        // Blob ids of extra images become URLs; other options are shown as given.
        for (auto& [key, value] : params["options"].items()) {
            if (key.size() > 6 && key.substr(key.size() - 6) == "_image") value = ImageUrl(value.get<std::string>());
        }
    }
    nlohmann::json j = {
        {"id", job.id},
        {"status", JobStateName(job.state)},
        {"backend", job.params.backend},
        {"kind", JobKindName(job.params.kind)},
        {"params", params},
        {"progress", ProgressToJson(job.progress)},
        // A text-to-image job has no input image.
        {"input", job.input_blob.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json{{"image_url", ImageUrl(job.input_blob)}}},
        {"result", job.result_blob.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json{{"image_url", ImageUrl(job.result_blob)}}},
        {"error", job.error ? nlohmann::json{{"code", job.error->code}, {"message", job.error->message}}
                            : nlohmann::json(nullptr)},
        {"attempts", job.attempts},
        {"cancel_requested", job.cancel_requested},
        {"created_at", Timestamp(job.created_ms)},
        {"started_at", Timestamp(job.started_ms)},
        {"finished_at", Timestamp(job.finished_ms)},
        {"meta", StringMapToJson(job.result_meta)},
    };
    if (job.started_ms > 0 && job.finished_ms > 0) j["duration_ms"] = job.finished_ms - job.started_ms;
    if (queue_position) j["queue_position"] = *queue_position;
    return j;
}

nlohmann::json EventToJson(const JobEvent& event) {
    nlohmann::json j = {{"id", event.job_id}, {"status", JobStateName(event.state)},
                        {"progress", ProgressToJson(event.progress)}};
    j["error"] = event.error ? nlohmann::json{{"code", event.error->code}, {"message", event.error->message}}
                             : nlohmann::json(nullptr);
    return j;
}

nlohmann::json PreviewEventToJson(const JobEvent& event) {
    return {{"id", event.job_id},
            {"progress", ProgressToJson(event.progress)},
            {"image", "data:image/jpeg;base64," + EncodeBase64(event.preview_jpeg)}};
}

}  // namespace labhouse::http
