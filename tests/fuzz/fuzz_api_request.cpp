// libFuzzer target: what the jobs API reads from a request once cpp-httplib has split it: the
// query string of GET /api/v1/jobs (decoded by httplib's own parse_query_text) and the multipart
// fields of POST /api/v1/jobs, then the checks every submission passes before anything is stored
// (ValidateCommonParams). Input: the query string, a newline, then fields as
// "name\0value\0name\0value...". cpp-httplib's multipart parser itself is a compiled Debian
// library that does not export it, so it is not fuzzed here (docs/hardening.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "labhouse/adapters/http/submit_form.h"
#include "fuzz_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = std::min(input.find('\n'), input.size());
    httplib::Params params;
    httplib::detail::parse_query_text(std::string(input.substr(0, newline)), params);
    if (auto query = labhouse::http::ParseJobListQuery(params)) {
        if (query->limit < 1 || query->limit > 100) __builtin_trap();
    }

    const httplib::MultipartFormDataMap files = labhouse::fuzz::SplitFields(input, newline + 1);
    const labhouse::http::WebhookValidator webhooks = [](const std::string& url) -> labhouse::Status {
        if (url.rfind("https://", 0) != 0) return labhouse::InvalidArgument("webhook_url must be https");
        return labhouse::OkStatus();
    };
    auto request = labhouse::http::ParseSubmitForm(files, webhooks);
    if (!request) return 0;
    const labhouse::JobParams& p = request->params;
    // What the form parser accepted is within its documented ranges.
    if (p.steps && (*p.steps < 1 || *p.steps > 150)) __builtin_trap();
    if (p.seed && (*p.seed < 0 || *p.seed > 4294967295LL)) __builtin_trap();
    if (p.strength && !(*p.strength >= 0.0 && *p.strength <= 1.0)) __builtin_trap();
    if (p.guidance && !(*p.guidance >= 0.0 && *p.guidance <= 35.0)) __builtin_trap();
    (void)labhouse::ValidateCommonParams(p);
    return 0;
}
