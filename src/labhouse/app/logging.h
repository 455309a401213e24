// Routes labhouse::Log records to spdlog, as text lines or JSON lines.
#pragma once

#include <string>

namespace labhouse::app {

void SetUpLogging(const std::string& level, const std::string& format);

}  // namespace labhouse::app
