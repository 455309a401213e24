#include "labhouse/adapters/http/request_parsing.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace labhouse::http {

Result<std::int64_t> ParseInt(const std::string& field, const std::string& text, std::int64_t min, std::int64_t max) {
    std::int64_t value = 0;
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return InvalidArgument("'" + field + "' must be an integer, got '" + text.substr(0, 40) + "'");
    }
    if (value < min || value > max) {
        return InvalidArgument("'" + field + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return value;
}

Result<double> ParseDouble(const std::string& field, const std::string& text, double min, double max) {
    if (text.empty() || text.size() > 64) return InvalidArgument("'" + field + "' must be a number");
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(value)) {
        return InvalidArgument("'" + field + "' must be a number, got '" + text.substr(0, 40) + "'");
    }
    if (value < min || value > max) {
        return InvalidArgument("'" + field + "' must be between " + std::to_string(min).substr(0, 6) + " and " +
                               std::to_string(max).substr(0, 6));
    }
    return value;
}

}  // namespace labhouse::http
