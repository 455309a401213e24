// Structured logging for code that must not depend on a logging library (core, engine). Each
// record is an event name plus key=value fields (job_id first where there is one). The app routes
// records to spdlog; the default sink writes one line to stderr. Never log secrets.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace labhouse {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
using LogFields = std::vector<std::pair<std::string, std::string>>;
using LogSink = std::function<void(LogLevel, std::string_view event, const LogFields& fields)>;

void SetLogSink(LogSink sink);
void Log(LogLevel level, std::string_view event, const LogFields& fields = {});
// "event key=value key2="value with spaces"".
std::string FormatLogLine(std::string_view event, const LogFields& fields);

}  // namespace labhouse
