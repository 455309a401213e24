// libFuzzer target: the service's configuration as the environment gives it. Input: lines
// "NAME=value"; each NAME gets the LABHOUSE_ prefix unless it has one and is set in the
// environment, then `labhouse serve`'s options are parsed (CLI11 reads the variables), checked
// for unknown variables and validated, and the config is printed as the startup log prints it.
// Checked: the secrets (Stability API key, webhook secret) never show in that text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "labhouse/app/config.h"

namespace {

// True when `secret` shows in `text` but not in `without`, the same config printed with each
// secret replaced by "\x01" (so "<set>" and "webhooks=on" stay; a secret "8000" that is also the
// port shows in both and is no leak).
bool Leaks(const std::string& secret, const std::string& text, const std::string& without) {
    return !secret.empty() && text.find(secret) != std::string::npos && without.find(secret) == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> names;
    std::size_t at = 0;
    while (at < input.size() && names.size() < 16) {
        const auto end = std::min(input.find('\n', at), input.size());
        const std::string_view line = input.substr(at, end - at);
        at = end + 1;
        const auto equals = line.find('=');
        if (equals == std::string_view::npos || equals == 0) continue;
        std::string name(line.substr(0, equals));
        if (name.find('\0') != std::string::npos) continue;  // not representable in the environment
        if (name.rfind("LABHOUSE_", 0) != 0) name = "LABHOUSE_" + name;
        const std::string value(line.substr(equals + 1));
        if (value.find('\0') != std::string::npos) continue;
        setenv(name.c_str(), value.c_str(), 1);
        names.push_back(name);
    }
    {
        CLI::App command{"serve"};
        labhouse::app::AppConfig config;
        labhouse::app::AddServeOptions(command, config);
        try {
            command.parse(std::vector<std::string>{});
        } catch (const CLI::ParseError&) {
            config = {};  // a bad value: the service exits with CLI11's message
        }
        (void)labhouse::app::CheckUnknownEnvironment(command);
        if (config.Validate()) {
            (void)config.SqlitePath();
            (void)config.ModelsDir();
        }
        const std::string text = config.ToString();
        labhouse::app::AppConfig cleared = config;
        if (!cleared.stability_api_key.empty()) cleared.stability_api_key = "\x01";
        if (!cleared.webhook_secret.empty()) cleared.webhook_secret = "\x01";
        const std::string without = cleared.ToString();
        if (Leaks(config.stability_api_key, text, without) || Leaks(config.webhook_secret, text, without)) {
            __builtin_trap();
        }
    }
    for (const std::string& name : names) unsetenv(name.c_str());
    return 0;
}
