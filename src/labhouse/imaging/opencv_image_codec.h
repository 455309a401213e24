// OpenCvImageCodec: the ImageCodec on OpenCV's imgcodecs, guarded by our own header reader, plus
// conversions between labhouse::Image and cv::Mat for adapters that process pixels with OpenCV.
#pragma once

#include <map>
#include <string>

#include <opencv2/core.hpp>

#include "labhouse/core/ports/image_codec.h"

namespace labhouse::imaging {

class OpenCvImageCodec final : public ImageCodec {
public:
    Result<ImageInfo> Probe(std::string_view bytes) const override;
    Result<Image> Decode(std::string_view bytes) const override;
    Result<std::string> EncodePng(const Image& image, const std::map<std::string, std::string>& text) const override;
    Result<std::string> EncodeJpeg(const Image& image, int quality) const override;
};

// Image (RGB) -> cv::Mat CV_8UC3 in BGR order (a copy).
cv::Mat ToMat(const Image& image);
// cv::Mat CV_8UC3 BGR (or CV_8UC1 gray) -> Image (RGB).
Image FromMat(const cv::Mat& mat);
// The text chunks (tEXt and iTXt) of a PNG, by keyword. Malformed chunks are skipped.
std::map<std::string, std::string> ReadPngText(std::string_view png);
// Inserts iTXt chunks (UTF-8) right after IHDR.
Result<std::string> AddPngText(std::string png, const std::map<std::string, std::string>& text);
// "image/png", "image/jpeg", "image/webp", "image/bmp", or "application/octet-stream".
std::string SniffContentType(std::string_view bytes);

}  // namespace labhouse::imaging
