// libFuzzer target: a hub's answers to the model-file probe (HEAD .../resolve/...). Input: one or
// more raw response heads ("HTTP/1.1 302 Found\r\nLocation: ...\r\n\r\n"), answered in turn to the
// probe and to each same-origin redirect it follows, as HubClient::Probe does with libcurl.
// Checked: the token is only ever meant for the endpoint's own origin, hashes are well-formed,
// and no error message carries the token.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labhouse/models/hub_response.h"

namespace {

long StatusOf(std::string_view line) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) return 0;
    long status = 0;
    for (std::size_t i = space + 1; i < line.size() && i < space + 4; ++i) {
        if (line[i] < '0' || line[i] > '9') return 0;
        status = status * 10 + (line[i] - '0');
    }
    return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace labhouse::models;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    HubConfig config;
    config.endpoint = "https://hub.example";
    config.token = "hf_FuzzTokenThatMustNeverLeak";
    const std::string origin = UrlOrigin(config.endpoint);
    RemoteFile file;
    file.repo = "org/model";
    file.revision = "main";
    file.path = "unet/model.safetensors";
    std::string url = config.endpoint + "/org/model/resolve/main/unet/model.safetensors";
    std::size_t at = 0;
    for (int hop = 0; hop < 6 && at < input.size(); ++hop) {
        HubHeaders headers;
        long status = 0;
        bool first = true;
        while (at < input.size()) {
            const auto end = input.find('\n', at);
            const std::string_view line = input.substr(at, end == std::string_view::npos ? end : end + 1 - at);
            at = end == std::string_view::npos ? input.size() : end + 1;
            if (line == "\r\n" || line == "\n") break;
            if (first) status = StatusOf(line);
            first = false;
            AddHeaderLine(headers, line);
        }
        auto next = ApplyProbeAnswer(file, status, headers, url, origin, config);
        if (!next) {
            if (next.error().message.find(config.token) != std::string::npos) __builtin_trap();
            return 0;
        }
        if (!file.sha256.empty() && !IsLowerHex(file.sha256, 64)) __builtin_trap();
        if (!file.git_sha1.empty() && !IsLowerHex(file.git_sha1, 40)) __builtin_trap();
        if (file.size < -1) __builtin_trap();
        if (!next->has_value()) {
            // Done: the token may go only where the endpoint is.
            if (file.send_auth && UrlOrigin(file.download_url) != origin) __builtin_trap();
            return 0;
        }
        if (UrlOrigin(**next) != origin) __builtin_trap();  // only same-origin redirects are probed again
        url = **next;
    }
    return 0;
}
