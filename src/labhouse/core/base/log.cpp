#include "labhouse/core/base/log.h"

#include <iostream>
#include <mutex>

namespace labhouse {
namespace {
std::mutex& SinkMutex() {
    static std::mutex mutex;
    return mutex;
}
LogSink& Sink() {
    static LogSink sink;
    return sink;
}
}  // namespace

void SetLogSink(LogSink sink) {
    std::lock_guard lock(SinkMutex());
    Sink() = std::move(sink);
}

std::string FormatLogLine(std::string_view event, const LogFields& fields) {
    std::string line(event);
    for (const auto& [key, value] : fields) {
        line += " " + key + "=";
        const bool quote = value.empty() || value.find_first_of(" \"=") != std::string::npos;
        if (!quote) {
            line += value;
            continue;
        }
        line += '"';
        for (char c : value) {
            if (c == '"' || c == '\\') line += '\\';
            line += (c == '\n' ? ' ' : c);
        }
        line += '"';
    }
    return line;
}

void Log(LogLevel level, std::string_view event, const LogFields& fields) {
    LogSink sink;
    {
        std::lock_guard lock(SinkMutex());
        sink = Sink();
    }
    if (sink) {
        sink(level, event, fields);
        return;
    }
    static std::mutex stderr_mutex;
    std::lock_guard lock(stderr_mutex);
    std::cerr << FormatLogLine(event, fields) << "\n";
}

}  // namespace labhouse
