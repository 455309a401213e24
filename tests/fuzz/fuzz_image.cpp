// libFuzzer target: everything an upload goes through before and during decoding. The header
// reader and completeness check must never crash or read out of bounds; the OpenCV decoder runs
// only behind them, as in the service, with the service's pixel cap.
#include <cstdint>
#include <string_view>

#include "labhouse/imaging/image_header.h"
#include "labhouse/imaging/opencv_image_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto info = labhouse::imaging::ReadImageHeader(bytes);
    if (!info) return 0;
    if (!labhouse::imaging::CheckImageComplete(bytes, *info)) return 0;
    if (std::int64_t{info->width} * info->height > 4'000'000) return 0;  // the service refuses these before decoding
    static labhouse::imaging::OpenCvImageCodec codec;
    auto image = codec.Decode(bytes);
    if (image && image->rgb.size() != image->ByteSize()) __builtin_trap();
    return 0;
}
