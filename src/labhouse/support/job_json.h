// JSON forms of job parameters and metadata, shared by the storage adapters (which keep params as
// a JSON column) and the HTTP adapter (which shows them). A support library: it depends on the
// core and nlohmann-json only, and any adapter may use it.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"

namespace labhouse {

nlohmann::json ParamsToJson(const JobParams& params);
// kInvalidArgument when the JSON does not have the shape ParamsToJson writes.
Result<JobParams> ParamsFromJson(const nlohmann::json& json);
nlohmann::json StringMapToJson(const std::map<std::string, std::string>& map);
Result<std::map<std::string, std::string>> StringMapFromJson(const nlohmann::json& json);

}  // namespace labhouse
