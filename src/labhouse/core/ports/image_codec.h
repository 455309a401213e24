// ImageCodec: reading and writing image files. Uploads are probed from their header before any
// pixel is decoded, so an image claiming 100000x100000 pixels is refused without allocating.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/image.h"

namespace labhouse {

struct ImageInfo {
    std::string format;  // "png", "jpeg", "webp", "bmp"
    int width = 0;
    int height = 0;
};

class ImageCodec {
public:
    virtual ~ImageCodec() = default;
    // Reads only the header. kInvalidArgument when the bytes are not a supported image.
    virtual Result<ImageInfo> Probe(std::string_view bytes) const = 0;
    // Decodes to RGB, applying the EXIF orientation. kInvalidArgument for corrupt or truncated data.
    virtual Result<Image> Decode(std::string_view bytes) const = 0;
    // Encodes a PNG; each text entry becomes a tEXt chunk (keyword -> value).
    virtual Result<std::string> EncodePng(const Image& image,
                                          const std::map<std::string, std::string>& text) const = 0;
    // Encodes a baseline JPEG (quality 1-100), for previews where size matters more than fidelity.
    virtual Result<std::string> EncodeJpeg(const Image& image, int quality) const = 0;
};

}  // namespace labhouse
