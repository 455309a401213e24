#include <gtest/gtest.h>

#include "labhouse/imaging/image_header.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/testing/test_images.h"

namespace labhouse {
namespace {

using imaging::OpenCvImageCodec;
using testing::EncodeAs;
using testing::GradientImage;

// A PNG that is only a header claiming width x height, plus IEND: nothing to decode.
std::string PngHeaderOnly(std::uint32_t width, std::uint32_t height) {
    std::string png = testing::PngBytes(8, 8);
    auto put = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>(v >> (24 - 8 * i));
    };
    put(16, width);
    put(20, height);
    return png;
}

// Inserts an EXIF APP1 segment with the given orientation right after the JPEG's SOI marker.
std::string WithExifOrientation(const std::string& jpeg, std::uint16_t orientation) {
    std::string tiff = std::string("II*\0", 4) + std::string("\x08\0\0\0", 4);
    tiff += std::string("\x01\0", 2);                      // one IFD entry
    tiff += std::string("\x12\x01\x03\0\x01\0\0\0", 8);   // tag 0x0112 SHORT count 1
    tiff += static_cast<char>(orientation & 0xff);
    tiff += std::string("\0\0\0", 3);
    tiff += std::string("\0\0\0\0", 4);  // no next IFD
    std::string payload = std::string("Exif\0\0", 6) + tiff;
    std::string app1 = "\xFF\xE1";
    const std::size_t length = payload.size() + 2;
    app1 += static_cast<char>(length >> 8);
    app1 += static_cast<char>(length & 0xff);
    app1 += payload;
    return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

TEST(ImageHeader, ReadsSizesOfEveryFormatWithoutDecoding) {
    const Image image = GradientImage(37, 21);
    for (const std::string ext : std::vector<std::string>{".png", ".jpg", ".webp", ".bmp"}) {
        auto info = imaging::ReadImageHeader(EncodeAs(image, ext));
        ASSERT_TRUE(info) << ext << ": " << info.error().message;
        EXPECT_EQ(info->width, 37) << ext;
        EXPECT_EQ(info->height, 21) << ext;
    }
}

TEST(ImageHeader, RefusesNonImagesAndCutHeaders) {
    EXPECT_FALSE(imaging::ReadImageHeader("hello world, not an image"));
    EXPECT_FALSE(imaging::ReadImageHeader(""));
    const std::string png = testing::PngBytes(10, 10);
    EXPECT_FALSE(imaging::ReadImageHeader(png.substr(0, 16)));
    const std::string jpeg = testing::JpegBytes(10, 10);
    EXPECT_FALSE(imaging::ReadImageHeader(jpeg.substr(0, 6)));
}

TEST(OpenCvImageCodec, HugeHeaderIsProbedNotDecoded) {
    OpenCvImageCodec codec;
    auto info = codec.Probe(PngHeaderOnly(100000, 100000));
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->width, 100000);
    EXPECT_EQ(info->height, 100000);
}

TEST(OpenCvImageCodec, TruncatedFilesAreRefused) {
    OpenCvImageCodec codec;
    const std::string png = testing::PngBytes(64, 64);
    const std::string jpeg = testing::JpegBytes(64, 64);
    auto cut_png = codec.Decode(png.substr(0, png.size() / 2));
    ASSERT_FALSE(cut_png);
    EXPECT_EQ(cut_png.error().code, ErrorCode::kInvalidArgument);
    auto cut_jpeg = codec.Decode(jpeg.substr(0, jpeg.size() / 2));
    ASSERT_FALSE(cut_jpeg);
    EXPECT_EQ(cut_jpeg.error().code, ErrorCode::kInvalidArgument);
}

// Fuzz finding (fuzz_image, OOM): a file our header reader takes for a small WebP but whose VP8L
// header libwebp refuses, with "DICM" at offset 128. OpenCV's WebP decoder declined it, the DICOM
// decoder claimed it and GDCM allocated 4 GiB. Decode must refuse it without handing it to OpenCV.
TEST(OpenCvImageCodec, WebpThatOpenCvWouldDecodeAsSomethingElseIsRefused) {
    const std::string bytes(
        "\x52\x49\x46\x46\x19\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4c\x09\x00\x23\x00\x2f\x07\xc0\x01"
        "\x00\x00\x00\x00\x00\x00\x00\x42\x4d\x62\xbd\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x00\x28"
        "\x52\x49\x46\x46\x19\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x20\x56\x50\x38\x4c\x0d\x00\x00\x00"
        "\x2f\x07\x40\x00\x00\x00\x42\x4d\x62\xbd\x00\x00\x00\x00\x00\x00\x00\x00\x42\x4d\x62\xbd\x00\x00"
        "\x00\x00\x00\x00\x00\x36\x00\x3b\x1e\x06\x00\x10\x61\x00\x00\x19\x00\x00\x00\x57\x45\x42\x50\x56"
        "\xba\xba\xba\xba\xba\xba\xba\xba\x44\x49\x43\x4d\xba\xba\xba\x44\x4f\x42\x00\xd8\xff\xc0\x00\x00"
        "\x62\x6d\x70\x00\x00\x00\x13\x18\x46\x00\x00\x00\x00\x00\x06\x00\x18\x00\x00\x00\x00\x00\x13\x19"
        "\x00\x00\x00\xba\x00\x00\x57\x45\x52\xba",
        178);
    OpenCvImageCodec codec;
    ASSERT_TRUE(imaging::ReadImageHeader(bytes)) << "the input must still pass the header sniffing";
    auto image = codec.Decode(bytes);
    ASSERT_FALSE(image);
    EXPECT_EQ(image.error().code, ErrorCode::kInvalidArgument);
    auto webp = codec.Decode(EncodeAs(GradientImage(37, 21), ".webp"));  // a real WebP still decodes
    ASSERT_TRUE(webp) << webp.error().message;
    EXPECT_EQ(webp->width, 37);
}

TEST(OpenCvImageCodec, DecodeAppliesExifOrientation) {
    OpenCvImageCodec codec;
    const std::string jpeg = testing::JpegBytes(40, 20);
    auto upright = codec.Decode(WithExifOrientation(jpeg, 1));
    ASSERT_TRUE(upright) << upright.error().message;
    EXPECT_EQ(upright->width, 40);
    auto rotated = codec.Decode(WithExifOrientation(jpeg, 6));  // 90 degrees clockwise
    ASSERT_TRUE(rotated) << rotated.error().message;
    EXPECT_EQ(rotated->width, 20);
    EXPECT_EQ(rotated->height, 40);
}

TEST(OpenCvImageCodec, PngRoundTripKeepsPixelsAndTextChunks) {
    OpenCvImageCodec codec;
    const Image image = GradientImage(31, 17);
    auto png = codec.EncodePng(image, {{"labhouse:seed", "42"}, {"labhouse:prompt", "ünïcode ✓"}});
    ASSERT_TRUE(png);
    auto decoded = codec.Decode(*png);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->rgb, image.rgb);
    auto text = imaging::ReadPngText(*png);
    EXPECT_EQ(text["labhouse:seed"], "42");
    EXPECT_EQ(text["labhouse:prompt"], "ünïcode ✓");
    EXPECT_EQ(imaging::SniffContentType(*png), "image/png");
}

}  // namespace
}  // namespace labhouse
