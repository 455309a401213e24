// JSON views of jobs and backends for the API (docs/api.md pins these names).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "labhouse/core/domain/job.h"
#include "labhouse/core/ports/event_bus.h"

namespace labhouse::http {

// RFC 3339 UTC with milliseconds, or null for 0.
nlohmann::json Timestamp(std::int64_t epoch_ms);
std::string ImageUrl(const std::string& blob_id);
nlohmann::json JobToJson(const Job& job, std::optional<std::int64_t> queue_position = std::nullopt);
nlohmann::json EventToJson(const JobEvent& event);
// SSE "preview": {"id", "progress", "image": "data:image/jpeg;base64,..."}.
nlohmann::json PreviewEventToJson(const JobEvent& event);

}  // namespace labhouse::http
