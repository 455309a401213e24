#include "labhouse/app/logging.h"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "labhouse/core/base/log.h"

namespace labhouse::app {

void SetUpLogging(const std::string& level, const std::string& format) {
    auto logger = spdlog::stderr_color_mt("labhouse");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    const bool json = format == "json";
    if (json) {
        spdlog::set_pattern("%v");
    } else {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
    SetLogSink([json](LogLevel lvl, std::string_view event, const LogFields& fields) {
        const auto spd_level = lvl == LogLevel::kDebug  ? spdlog::level::debug
                               : lvl == LogLevel::kInfo ? spdlog::level::info
                               : lvl == LogLevel::kWarn ? spdlog::level::warn
                                                        : spdlog::level::err;
        if (!spdlog::should_log(spd_level)) return;
        if (json) {
            nlohmann::json line = {{"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()},
                                   {"level", spdlog::level::to_string_view(spd_level).data()},
                                   {"event", event}};
            for (const auto& [k, v] : fields) line[k] = v;
            spdlog::log(spd_level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        } else {
            spdlog::log(spd_level, "{}", FormatLogLine(event, fields));
        }
    });
}

}  // namespace labhouse::app
