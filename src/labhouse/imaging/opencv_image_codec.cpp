#include "labhouse/imaging/opencv_image_codec.h"

#include <webp/decode.h>
#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/imaging/image_header.h"

namespace labhouse::imaging {
namespace {

void PutBe32(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

std::uint32_t GetBe32(std::string_view b, std::size_t at) {
    return (std::uint32_t(std::uint8_t(b[at])) << 24) | (std::uint32_t(std::uint8_t(b[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(b[at + 2])) << 8) | std::uint32_t(std::uint8_t(b[at + 3]));
}

std::string Chunk(const std::string& type, const std::string& data) {
    std::string out;
    PutBe32(out, static_cast<std::uint32_t>(data.size()));
    const std::string body = type + data;
    out += body;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    PutBe32(out, static_cast<std::uint32_t>(crc));
    return out;
}

// cv::imdecode picks the first decoder whose signature check accepts the bytes. For WebP that
// check is libwebp's WebPGetFeatures over the first 32 bytes; when it fails, OpenCV goes on to
// decoders that look elsewhere (the DICOM one reads "DICM" at offset 128) and a hostile file sniffed
// as a small WebP can make GDCM allocate gigabytes. So a WebP is decoded only when OpenCV's WebP
// decoder is the one that will take it, and its own header agrees with ours.
constexpr std::size_t kOpenCvWebpSignatureBytes = 32;

Status CheckWebpDecodable(std::string_view bytes, const ImageInfo& info) {
    if (bytes.size() < kOpenCvWebpSignatureBytes) return InvalidArgument("WebP file too short to decode");
    WebPBitstreamFeatures features;
    if (WebPGetFeatures(reinterpret_cast<const std::uint8_t*>(bytes.data()), kOpenCvWebpSignatureBytes, &features) !=
        VP8_STATUS_OK) {
        return InvalidArgument("malformed WebP header");
    }
    if (features.width != info.width || features.height != info.height) {
        return InvalidArgument("WebP header sizes disagree");
    }
    return OkStatus();
}

}  // namespace

cv::Mat ToMat(const Image& image) {
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    return bgr;
}

Image FromMat(const cv::Mat& mat) {
    cv::Mat rgb;
    if (mat.channels() == 1) {
        cv::cvtColor(mat, rgb, cv::COLOR_GRAY2RGB);
    } else if (mat.channels() == 4) {
        cv::cvtColor(mat, rgb, cv::COLOR_BGRA2RGB);
    } else {
        cv::cvtColor(mat, rgb, cv::COLOR_BGR2RGB);
    }
    if (rgb.depth() != CV_8U) rgb.convertTo(rgb, CV_8U);
    Image image{rgb.cols, rgb.rows, {}};
    image.rgb.resize(image.ByteSize());
    for (int y = 0; y < rgb.rows; ++y) {
        std::memcpy(image.Pixel(0, y), rgb.ptr<std::uint8_t>(y), static_cast<std::size_t>(rgb.cols) * 3);
    }
    return image;
}

Result<ImageInfo> OpenCvImageCodec::Probe(std::string_view bytes) const {
    LABHOUSE_ASSIGN_OR_RETURN(ImageInfo info, ReadImageHeader(bytes));
    LABHOUSE_RETURN_IF_ERROR(CheckImageComplete(bytes, info));
    return info;
}

Result<Image> OpenCvImageCodec::Decode(std::string_view bytes) const {
    LABHOUSE_ASSIGN_OR_RETURN(ImageInfo info, Probe(bytes));
    if (info.format == "webp") LABHOUSE_RETURN_IF_ERROR(CheckWebpDecodable(bytes, info));
    cv::Mat mat;
    try {
        const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
        // IMREAD_COLOR applies the EXIF orientation (IMREAD_IGNORE_ORIENTATION is not set).
        mat = cv::imdecode(buffer, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        return InvalidArgument(std::string("cannot decode ") + info.format + ": " + e.what());
    }
    if (mat.empty()) return InvalidArgument("cannot decode the " + info.format + " data (corrupt or unsupported)");
    const bool same = mat.cols == info.width && mat.rows == info.height;
    const bool rotated = mat.cols == info.height && mat.rows == info.width;
    if (!same && !rotated) return InvalidArgument("decoded size does not match the " + info.format + " header");
    return FromMat(mat);
}

Result<std::string> OpenCvImageCodec::EncodePng(const Image& image,
                                                const std::map<std::string, std::string>& text) const {
    if (image.Empty() || image.rgb.size() != image.ByteSize()) return Internal("cannot encode an empty image");
    std::vector<std::uint8_t> encoded;
    try {
        if (!cv::imencode(".png", ToMat(image), encoded, {cv::IMWRITE_PNG_COMPRESSION, 3})) {
            return Internal("PNG encoding failed");
        }
    } catch (const cv::Exception& e) {
        return Internal(std::string("PNG encoding failed: ") + e.what());
    }
    return AddPngText(std::string(encoded.begin(), encoded.end()), text);
}

Result<std::string> OpenCvImageCodec::EncodeJpeg(const Image& image, int quality) const {
    if (image.Empty() || image.rgb.size() != image.ByteSize()) return Internal("cannot encode an empty image");
    if (quality < 1 || quality > 100) return InvalidArgument("JPEG quality must be 1-100");
    std::vector<std::uint8_t> encoded;
    try {
        if (!cv::imencode(".jpg", ToMat(image), encoded, {cv::IMWRITE_JPEG_QUALITY, quality})) {
            return Internal("JPEG encoding failed");
        }
    } catch (const cv::Exception& e) {
        return Internal(std::string("JPEG encoding failed: ") + e.what());
    }
    return std::string(encoded.begin(), encoded.end());
}

Result<std::string> AddPngText(std::string png, const std::map<std::string, std::string>& text) {
    if (text.empty()) return png;
    constexpr std::size_t kAfterIhdr = 8 + 4 + 4 + 13 + 4;
    if (png.size() < kAfterIhdr || png.compare(12, 4, "IHDR") != 0) return Internal("not a PNG");
    std::string chunks;
    for (const auto& [keyword, value] : text) {
        if (keyword.empty() || keyword.size() > 79) return InvalidArgument("PNG text keyword must be 1-79 bytes");
        // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty
        // translated keyword NUL, UTF-8 text.
        chunks += Chunk("iTXt", keyword + std::string("\0\0\0\0\0", 5) + value);
    }
    png.insert(kAfterIhdr, chunks);
    return png;
}

std::map<std::string, std::string> ReadPngText(std::string_view png) {
    std::map<std::string, std::string> out;
    std::size_t at = 8;
    while (at + 12 <= png.size()) {
        const std::uint32_t length = GetBe32(png, at);
        if (length > png.size() - at - 12) break;
        const std::string_view type = png.substr(at + 4, 4);
        const std::string_view data = png.substr(at + 8, length);
        const std::size_t nul = data.find('\0');
        if (type == "tEXt" && nul != std::string_view::npos) {
            out[std::string(data.substr(0, nul))] = std::string(data.substr(nul + 1));
        } else if (type == "iTXt" && nul != std::string_view::npos && nul + 3 <= data.size() && data[nul + 1] == 0) {
            std::size_t p = nul + 3;
            const std::size_t lang_end = data.find('\0', p);
            const std::size_t tk_end = lang_end == std::string_view::npos ? lang_end : data.find('\0', lang_end + 1);
            if (tk_end != std::string_view::npos) out[std::string(data.substr(0, nul))] = std::string(data.substr(tk_end + 1));
        }
        if (type == "IEND") break;
        at += 12 + length;
    }
    return out;
}

std::string SniffContentType(std::string_view bytes) {
    auto info = ReadImageHeader(bytes);
    if (!info) return "application/octet-stream";
    return "image/" + info->format;
}

}  // namespace labhouse::imaging
