// libFuzzer target: the request readers of the compatibility APIs (compat_requests.h), the same
// functions the routes call once cpp-httplib has split the request. The first byte picks the
// reader; the rest is the JSON body (A1111 img2img/txt2img, OpenAI generations) or, for OpenAI
// edits, multipart fields as "name\0value\0name\0value...".
#include <cstdint>
#include <string>
#include <string_view>

#include "labhouse/adapters/http/compat_requests.h"
#include "fuzz_fields.h"

namespace {

// What any reader accepted is a well-formed submission: the ranges its checks promise.
void CheckAccepted(const labhouse::SubmitRequest& submit) {
    const labhouse::JobParams& p = submit.params;
    if (p.steps && (*p.steps < 1 || *p.steps > 150)) __builtin_trap();
    if (p.seed && (*p.seed < 0 || *p.seed > 4294967295LL)) __builtin_trap();
    const bool text_to_image = p.kind == labhouse::JobKind::kTextToImage;
    if (text_to_image != submit.image_bytes.empty()) __builtin_trap();
    if (text_to_image && (!p.width || !p.height || *p.width < 1 || *p.height < 1)) __builtin_trap();
    (void)labhouse::ValidateCommonParams(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string param;
    switch (data[0] % 4) {
        case 0:
            if (auto r = labhouse::http::ParseA1111Img2Img(input)) CheckAccepted(r->submit);
            break;
        case 1:
            if (auto r = labhouse::http::ParseA1111Txt2Img(input)) CheckAccepted(r->submit);
            break;
        case 2:
            if (auto r = labhouse::http::ParseOpenAiGeneration(input, param)) CheckAccepted(r->submit);
            break;
        default: {
            const httplib::MultipartFormDataMap files = labhouse::fuzz::SplitFields(input);
            if (auto r = labhouse::http::ParseOpenAiEdit(files, param)) CheckAccepted(r->submit);
        }
    }
    return 0;
}
