// libFuzzer target: the safetensors header and tensor table of model files (7 GB files from the
// internet must give a clear error, never an out-of-bounds read). Input: 8 bytes of data-section
// size, then the JSON header.
#include <cstdint>
#include <cstring>
#include <string>

#include "labhouse/engine/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 8) return 0;
    std::uint64_t data_size = 0;
    std::memcpy(&data_size, data, 8);
    const std::string header(reinterpret_cast<const char*>(data) + 8, size - 8);
    std::map<std::string, std::string> metadata;
    auto tensors = labhouse::engine::ParseSafetensorsHeader(header, data_size, &metadata);
    if (tensors) {
        for (const auto& [name, info] : *tensors) {
            (void)name;
            (void)info;
        }
    }
    return 0;
}
