// libFuzzer target: PNG text chunk reading (results are read back by clients and tests) and
// writing onto arbitrary bytes.
#include <cstdint>
#include <string>

#include "labhouse/imaging/opencv_image_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    auto text = labhouse::imaging::ReadPngText(bytes);
    if (!text.empty()) (void)labhouse::imaging::AddPngText(bytes, {{"k", text.begin()->second}});
    return 0;
}
