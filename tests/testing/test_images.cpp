#include "tests/testing/test_images.h"

#include <random>

#include <opencv2/imgcodecs.hpp>

#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::testing {

Image GradientImage(int width, int height) {
    Image image{width, height, {}};
    image.rgb.resize(image.ByteSize());
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::uint8_t* p = image.Pixel(x, y);
            p[0] = static_cast<std::uint8_t>(x * 255 / std::max(1, width - 1));
            p[1] = static_cast<std::uint8_t>(y * 255 / std::max(1, height - 1));
            p[2] = static_cast<std::uint8_t>(((x / 16 + y / 16) % 2) * 200);
        }
    }
    return image;
}

std::string EncodeAs(const Image& image, const std::string& extension) {
    std::vector<std::uint8_t> out;
    cv::imencode(extension, imaging::ToMat(image), out);
    return std::string(out.begin(), out.end());
}

std::string PngBytes(int width, int height) { return EncodeAs(GradientImage(width, height), ".png"); }
std::string JpegBytes(int width, int height) { return EncodeAs(GradientImage(width, height), ".jpg"); }

TempDir::TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / ("labhouse-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace labhouse::testing
