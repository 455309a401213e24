// libFuzzer target: what the Stability API answers. Input: a raw HTTP response head and body
// ("HTTP/1.1 200 OK\r\nContent-Type: ...\r\n\r\nbody"); the head goes through the header-line
// reader the HTTP client uses, the body through every response parser. The API key must never
// come back in an error message, whatever the server echoes.
#include <cstdint>
#include <string>
#include <string_view>

#include "labhouse/core/base/base64.h"
#include "labhouse/adapters/stability/http_client.h"
#include "labhouse/adapters/stability/response_parser.h"

namespace {

constexpr std::string_view kApiKey = "LabhouseFuzzKey0123456789";

long StatusOf(std::string_view status_line) {
    const auto space = status_line.find(' ');
    if (space == std::string_view::npos) return 0;
    long status = 0;
    for (std::size_t i = space + 1; i < status_line.size() && i < space + 4; ++i) {
        if (status_line[i] < '0' || status_line[i] > '9') return 0;
        status = status * 10 + (status_line[i] - '0');
    }
    return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    labhouse::stability::HttpResponse response;
    std::size_t at = 0;
    bool first = true;
    while (at < input.size()) {
        auto end = input.find('\n', at);
        const std::string_view line = input.substr(at, end == std::string_view::npos ? end : end + 1 - at);
        at = end == std::string_view::npos ? input.size() : end + 1;
        if (line == "\r\n" || line == "\n") break;  // end of the head
        if (first) response.status = StatusOf(line);
        first = false;
        labhouse::stability::AddHeaderLine(response, line);
    }
    response.body = std::string(input.substr(at));

    (void)labhouse::stability::ParseGenerated(response);
    (void)labhouse::stability::ParseBalance(response);
    (void)labhouse::DecodeBase64(response.body);
    const auto failure = labhouse::stability::ClassifyFailure(response, std::string(kApiKey));
    if (failure.error.message.find(kApiKey) != std::string::npos) __builtin_trap();  // a leaked key
    if (failure.retry_after && (failure.retry_after->count() < 0 || failure.retry_after->count() > 3'600'000)) {
        __builtin_trap();
    }
    return 0;
}
