// Reads an image's format and pixel size from its first bytes, without decoding: the guard that
// lets uploads claiming absurd sizes be refused before any allocation.
#pragma once

#include <string_view>

#include "labhouse/core/base/result.h"
#include "labhouse/core/ports/image_codec.h"

namespace labhouse::imaging {

// Supports PNG, JPEG, WebP (VP8, VP8L, VP8X) and BMP. kInvalidArgument for anything else,
// including a header cut short.
Result<ImageInfo> ReadImageHeader(std::string_view bytes);
// Checks that the container is complete (PNG ends with IEND, JPEG with EOI, WebP's RIFF size
// fits the data), so that truncated uploads are refused rather than decoded half grey.
Status CheckImageComplete(std::string_view bytes, const ImageInfo& info);

}  // namespace labhouse::imaging
