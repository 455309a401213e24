#include "tests/faces/face_test_support.h"

#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace labhouse::faces::testing {

cv::Mat LoadRgb(const std::string& path) {
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(bgr.empty()) << "cannot read " << path;
    cv::Mat rgb;
    if (!bgr.empty()) cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

Image LoadImage(const std::string& path) {
    const cv::Mat rgb = LoadRgb(path);
    Image image{rgb.cols, rgb.rows, {}};
    image.rgb.assign(rgb.datastart, rgb.dataend);
    return image;
}

Image SyntheticLandscape(int width, int height) {
    Image image = Image::Filled(width, height, 0, 0, 0);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> noise(-12, 12);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const double hill = height * (0.6 + 0.1 * std::sin(x * 0.02) + 0.05 * std::sin(x * 0.07 + 1));
            int r, g, b;
            if (y < hill) {  // sky: light blue fading to white at the horizon
                const double t = static_cast<double>(y) / hill;
                r = static_cast<int>(90 + 150 * t), g = static_cast<int>(150 + 90 * t), b = 235;
            } else {  // grass
                r = 60, g = 140 - (y - static_cast<int>(hill)) / 4, b = 50;
            }
            std::uint8_t* p = image.Pixel(x, y);
            p[0] = static_cast<std::uint8_t>(std::clamp(r + noise(rng), 0, 255));
            p[1] = static_cast<std::uint8_t>(std::clamp(g + noise(rng), 0, 255));
            p[2] = static_cast<std::uint8_t>(std::clamp(b + noise(rng), 0, 255));
        }
    }
    return image;
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b, cv::Rect rect) {
    cv::Mat diff;
    cv::absdiff(a(rect), b(rect), diff);
    const cv::Scalar mean = cv::mean(diff);
    return (mean[0] + mean[1] + mean[2]) / 3.0;
}

bool RecordingReporter::SawStage(const std::string& stage) const {
    for (const JobProgress& p : reports) {
        if (p.stage == stage) return true;
    }
    return false;
}

ScratchDir::ScratchDir() {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() / ("labhouse-faces-" + std::to_string(seed()));
    std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace labhouse::faces::testing
