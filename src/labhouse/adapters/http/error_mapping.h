// The one place where error codes become HTTP statuses and JSON error bodies.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "labhouse/core/base/error.h"

namespace labhouse::http {

int HttpStatusFor(ErrorCode code);
// {"error": {"code": "...", "message": "..."}}
nlohmann::json ErrorBody(const Error& error);
nlohmann::json ErrorBody(const std::string& code, const std::string& message);

}  // namespace labhouse::http
