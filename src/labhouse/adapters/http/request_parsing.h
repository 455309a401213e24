// Strict parsing of form fields and query parameters: a value that is not entirely a number is an
// error, never silently zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "labhouse/core/base/result.h"

namespace labhouse::http {

Result<std::int64_t> ParseInt(const std::string& field, const std::string& text, std::int64_t min, std::int64_t max);
Result<double> ParseDouble(const std::string& field, const std::string& text, double min, double max);

}  // namespace labhouse::http
