#include "labhouse/adapters/stability/image_fitting.h"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::stability {
namespace {

double LogAspect(Size size) { return std::log(static_cast<double>(size.width) / size.height); }

}  // namespace

bool IsSdxlSize(Size size) { return std::find(kSdxlSizes.begin(), kSdxlSizes.end(), size) != kSdxlSizes.end(); }

Size ClosestSdxlSize(Size upload) {
    const double target = LogAspect(upload);
    Size best = kSdxlSizes[0];
    double best_distance = std::abs(LogAspect(best) - target);
    for (const Size& candidate : kSdxlSizes) {
        const double distance = std::abs(LogAspect(candidate) - target);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::string ClosestV2AspectRatio(Size wanted) {
    const double target = LogAspect(wanted);
    std::string best;
    double best_distance = 0;
    for (const char* ratio : kV2AspectRatios) {
        const std::string text = ratio;
        const auto colon = text.find(':');
        const Size shape{std::stoi(text.substr(0, colon)), std::stoi(text.substr(colon + 1))};
        const double distance = std::abs(LogAspect(shape) - target);
        if (best.empty() || distance < best_distance) {
            best = text;
            best_distance = distance;
        }
    }
    return best;
}

std::string SdxlFit::Describe() const {
    std::string out = std::to_string(canvas.width) + "x" + std::to_string(canvas.height);
    if (Padded()) {
        out += " (content " + std::to_string(content.width) + "x" + std::to_string(content.height) + " at " +
               std::to_string(offset_x) + "," + std::to_string(offset_y) + ", mirrored padding)";
    }
    return out;
}

SdxlFit PlanSdxlFit(Size upload) {
    SdxlFit fit;
    fit.canvas = ClosestSdxlSize(upload);
    const double scale = std::min(static_cast<double>(fit.canvas.width) / upload.width,
                                  static_cast<double>(fit.canvas.height) / upload.height);
    fit.content.width = std::clamp(static_cast<int>(std::lround(upload.width * scale)), 1, fit.canvas.width);
    fit.content.height = std::clamp(static_cast<int>(std::lround(upload.height * scale)), 1, fit.canvas.height);
    fit.offset_x = (fit.canvas.width - fit.content.width) / 2;
    fit.offset_y = (fit.canvas.height - fit.content.height) / 2;
    return fit;
}

Image Resize(const Image& image, Size size) {
    if (image.width == size.width && image.height == size.height) return image;
    const bool shrinking = static_cast<std::int64_t>(size.width) * size.height <
                           static_cast<std::int64_t>(image.width) * image.height;
    cv::Mat out;
    cv::resize(imaging::ToMat(image), out, cv::Size(size.width, size.height), 0, 0,
               shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
    return imaging::FromMat(out);
}

Image FitIntoCanvas(const Image& upload, const SdxlFit& fit) {
    const Image content = Resize(upload, fit.content);
    if (!fit.Padded()) return content;
    const int top = fit.offset_y;
    const int bottom = fit.canvas.height - fit.content.height - top;
    const int left = fit.offset_x;
    const int right = fit.canvas.width - fit.content.width - left;
    // Mirrored edges give the model plausible surroundings instead of hard black bars (which SDXL
    // would happily turn into picture frames); they are cut off the result again. Mirroring needs
    // the band to be thinner than the content, so extreme panoramas fall back to repeated edges.
    const bool can_mirror = std::max(top, bottom) < fit.content.height && std::max(left, right) < fit.content.width;
    cv::Mat padded;
    cv::copyMakeBorder(imaging::ToMat(content), padded, top, bottom, left, right,
                       can_mirror ? cv::BORDER_REFLECT_101 : cv::BORDER_REPLICATE);
    return imaging::FromMat(padded);
}

Image CutContent(const Image& result, const SdxlFit& fit) {
    const Image canvas = Resize(result, fit.canvas);
    if (!fit.Padded()) return canvas;
    const cv::Mat mat = imaging::ToMat(canvas);
    return imaging::FromMat(mat(cv::Rect(fit.offset_x, fit.offset_y, fit.content.width, fit.content.height)).clone());
}

Result<Size> PlanV2Upload(Size upload, std::int64_t max_pixels) {
    constexpr int kMinSide = 64;           // v2beta: every side >= 64 px
    constexpr std::int64_t kMinPixels = 4096;  // ultra: >= 4096 px in total
    double scale = 1.0;
    const double pixels = static_cast<double>(upload.width) * upload.height;
    if (pixels > static_cast<double>(max_pixels)) scale = std::sqrt(static_cast<double>(max_pixels) / pixels);
    const int shorter = std::min(upload.width, upload.height);
    if (shorter * scale < kMinSide) scale = static_cast<double>(kMinSide) / shorter;
    Size size{static_cast<int>(std::lround(upload.width * scale)), static_cast<int>(std::lround(upload.height * scale))};
    size.width = std::max(size.width, kMinSide);
    size.height = std::max(size.height, kMinSide);
    const std::int64_t area = static_cast<std::int64_t>(size.width) * size.height;
    if (area > max_pixels || area < kMinPixels) {
        return InvalidArgument("image aspect ratio " + std::to_string(upload.width) + "x" +
                               std::to_string(upload.height) + " is too extreme for the Stability v2beta API");
    }
    return size;
}

Image CoverResize(const Image& image, Size size) {
    if (image.width == size.width && image.height == size.height) return image;
    const double scale = std::max(static_cast<double>(size.width) / image.width,
                                  static_cast<double>(size.height) / image.height);
    const Size scaled{std::max(size.width, static_cast<int>(std::lround(image.width * scale))),
                      std::max(size.height, static_cast<int>(std::lround(image.height * scale)))};
    const Image big = Resize(image, scaled);
    const cv::Mat mat = imaging::ToMat(big);
    const cv::Rect crop((scaled.width - size.width) / 2, (scaled.height - size.height) / 2, size.width, size.height);
    return imaging::FromMat(mat(crop).clone());
}

}  // namespace labhouse::stability
