#include "labhouse/imaging/image_header.h"

#include <cstdint>

namespace labhouse::imaging {
namespace {

std::uint32_t Be32(std::string_view b, std::size_t at) {
    return (std::uint32_t(std::uint8_t(b[at])) << 24) | (std::uint32_t(std::uint8_t(b[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(b[at + 2])) << 8) | std::uint32_t(std::uint8_t(b[at + 3]));
}
std::uint32_t Be16(std::string_view b, std::size_t at) {
    return (std::uint32_t(std::uint8_t(b[at])) << 8) | std::uint32_t(std::uint8_t(b[at + 1]));
}
std::uint32_t Le16(std::string_view b, std::size_t at) {
    return std::uint32_t(std::uint8_t(b[at])) | (std::uint32_t(std::uint8_t(b[at + 1])) << 8);
}
std::uint32_t Le24(std::string_view b, std::size_t at) { return Le16(b, at) | (std::uint32_t(std::uint8_t(b[at + 2])) << 16); }
std::uint32_t Le32(std::string_view b, std::size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

Error Truncated(const char* format) { return InvalidArgument(std::string("truncated ") + format + " header"); }

Result<ImageInfo> Sized(const char* format, std::int64_t width, std::int64_t height) {
    if (width <= 0 || height <= 0 || width > 1'000'000 || height > 1'000'000) {
        return InvalidArgument(std::string(format) + " header has an invalid size " + std::to_string(width) + "x" +
                               std::to_string(height));
    }
    return ImageInfo{format, static_cast<int>(width), static_cast<int>(height)};
}

Result<ImageInfo> ReadPng(std::string_view b) {
    if (b.size() < 24) return Truncated("PNG");
    if (b.substr(12, 4) != "IHDR") return InvalidArgument("PNG does not start with an IHDR chunk");
    return Sized("png", Be32(b, 16), Be32(b, 20));
}

Result<ImageInfo> ReadJpeg(std::string_view b) {
    std::size_t at = 2;
    while (true) {
        while (at < b.size() && std::uint8_t(b[at]) != 0xFF) ++at;  // tolerate fill bytes
        while (at < b.size() && std::uint8_t(b[at]) == 0xFF) ++at;
        if (at >= b.size()) return Truncated("JPEG");
        const std::uint8_t marker = std::uint8_t(b[at++]);
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;
        if (marker == 0xD9 || marker == 0xDA) return InvalidArgument("JPEG has no frame header before its data");
        if (at + 2 > b.size()) return Truncated("JPEG");
        const std::uint32_t length = Be16(b, at);
        if (length < 2) return InvalidArgument("JPEG segment with an invalid length");
        const bool is_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (is_frame) {
            if (at + 7 > b.size()) return Truncated("JPEG");
            return Sized("jpeg", Be16(b, at + 5), Be16(b, at + 3));
        }
        at += length;
    }
}

Result<ImageInfo> ReadWebp(std::string_view b) {
    if (b.size() < 30) return Truncated("WebP");
    const std::string_view chunk = b.substr(12, 4);
    if (chunk == "VP8 ") {
        if (std::uint8_t(b[23]) != 0x9d || std::uint8_t(b[24]) != 0x01 || std::uint8_t(b[25]) != 0x2a) {
            return InvalidArgument("WebP VP8 frame has a bad start code");
        }
        return Sized("webp", Le16(b, 26) & 0x3fff, Le16(b, 28) & 0x3fff);
    }
    if (chunk == "VP8L") {
        if (std::uint8_t(b[20]) != 0x2f) return InvalidArgument("WebP VP8L has a bad signature");
        const std::uint32_t bits = Le32(b, 21);
        return Sized("webp", (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
    }
    if (chunk == "VP8X") return Sized("webp", std::int64_t{Le24(b, 24)} + 1, std::int64_t{Le24(b, 27)} + 1);
    return InvalidArgument("unsupported WebP chunk");
}

Result<ImageInfo> ReadBmp(std::string_view b) {
    if (b.size() < 26) return Truncated("BMP");
    const auto width = static_cast<std::int32_t>(Le32(b, 18));
    const auto height = static_cast<std::int32_t>(Le32(b, 22));
    return Sized("bmp", width, height < 0 ? -std::int64_t{height} : height);
}

}  // namespace

Result<ImageInfo> ReadImageHeader(std::string_view b) {
    if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return ReadPng(b);
    if (b.size() >= 3 && std::uint8_t(b[0]) == 0xFF && std::uint8_t(b[1]) == 0xD8 && std::uint8_t(b[2]) == 0xFF) {
        return ReadJpeg(b);
    }
    if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return ReadWebp(b);
    if (b.size() >= 2 && b.substr(0, 2) == "BM") return ReadBmp(b);
    return InvalidArgument("not a supported image (PNG, JPEG, WebP or BMP)");
}

Status CheckImageComplete(std::string_view b, const ImageInfo& info) {
    if (info.format == "png") {
        // The last chunk must be IEND: length 0, type, CRC.
        if (b.size() < 8 + 12 || b.substr(b.size() - 12, 8) != std::string_view("\0\0\0\0IEND", 8)) {
            return InvalidArgument("truncated PNG (no IEND chunk at the end)");
        }
    } else if (info.format == "jpeg") {
        // EOI near the end; some cameras append a few bytes of padding after it.
        const std::size_t tail = std::min<std::size_t>(b.size(), 4096);
        if (b.substr(b.size() - tail).find("\xFF\xD9") == std::string_view::npos) {
            return InvalidArgument("truncated JPEG (no end-of-image marker)");
        }
    } else if (info.format == "webp") {
        if (std::uint64_t{Le32(b, 4)} + 8 > b.size()) return InvalidArgument("truncated WebP");
    } else if (info.format == "bmp") {
        if (Le32(b, 2) > b.size()) return InvalidArgument("truncated BMP");
    }
    return OkStatus();
}

}  // namespace labhouse::imaging
