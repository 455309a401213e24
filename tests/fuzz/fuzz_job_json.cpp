// libFuzzer target: job parameters and metadata stored as JSON (a corrupted database row or a
// hostile client body must give an error, never a crash).
#include <cstdint>

#include "labhouse/support/job_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto json = nlohmann::json::parse(data, data + size, nullptr, false);
    if (json.is_discarded()) return 0;
    if (auto params = labhouse::ParamsFromJson(json)) {
        auto again = labhouse::ParamsFromJson(labhouse::ParamsToJson(*params));
        if (!again || !(*again == *params)) __builtin_trap();  // round trip must hold
    }
    (void)labhouse::StringMapFromJson(json);
    return 0;
}
