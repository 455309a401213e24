#include "labhouse/adapters/classic/classic_transformer.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "labhouse/imaging/opencv_image_codec.h"

namespace labhouse::classic {
namespace {

using Stage = std::function<cv::Mat(const cv::Mat&, double)>;

// Strength 0..1 blends the effect over the photo; 1 is the effect alone.
cv::Mat Blend(const cv::Mat& original, const cv::Mat& effect, double strength) {
    if (strength >= 1.0) return effect;
    cv::Mat out;
    cv::addWeighted(effect, strength, original, 1.0 - strength, 0.0, out);
    return out;
}

cv::Mat PencilSketch(const cv::Mat& bgr) {
    cv::Mat gray_sketch, color_sketch;
    cv::pencilSketch(bgr, gray_sketch, color_sketch, 60, 0.07f, 0.05f);
    cv::Mat out;
    cv::cvtColor(gray_sketch, out, cv::COLOR_GRAY2BGR);
    return out;
}

cv::Mat Watercolor(const cv::Mat& bgr) {
    cv::Mat out;
    cv::stylization(bgr, out, 60, 0.45f);
    return out;
}

cv::Mat Cartoon(const cv::Mat& bgr) {
    // Flatten colours with repeated bilateral filtering on a half-size copy, then draw edges.
    cv::Mat small, smooth;
    cv::pyrDown(bgr, small);
    for (int i = 0; i < 4; ++i) {
        cv::bilateralFilter(small, smooth, 9, 9, 7);
        small = smooth.clone();
    }
    cv::Mat flat;
    cv::pyrUp(small, flat, bgr.size());
    cv::Mat gray, edges;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::medianBlur(gray, gray, 7);
    cv::adaptiveThreshold(gray, edges, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY, 9, 2);
    cv::Mat edges_bgr, out;
    cv::cvtColor(edges, edges_bgr, cv::COLOR_GRAY2BGR);
    cv::bitwise_and(flat, edges_bgr, out);
    return out;
}

cv::Mat DetailEnhance(const cv::Mat& bgr) {
    cv::Mat out;
    cv::detailEnhance(bgr, out, 10, 0.15f);
    return out;
}

cv::Mat PixelArt(const cv::Mat& bgr) {
    const int block = std::max(4, std::max(bgr.cols, bgr.rows) / 96);
    cv::Mat small, out;
    cv::resize(bgr, small, cv::Size(std::max(1, bgr.cols / block), std::max(1, bgr.rows / block)), 0, 0,
               cv::INTER_AREA);
    // A 4-level-per-channel palette (64 colours).
    small.forEach<cv::Vec3b>([](cv::Vec3b& p, const int*) {
        for (int c = 0; c < 3; ++c) p[c] = static_cast<std::uint8_t>((p[c] / 64) * 85);
    });
    cv::resize(small, out, bgr.size(), 0, 0, cv::INTER_NEAREST);
    return out;
}

cv::Mat Cinematic(const cv::Mat& bgr) {
    // Teal shadows, warm highlights, gentle contrast and a vignette.
    cv::Mat f;
    bgr.convertTo(f, CV_32FC3, 1.0 / 255.0);
    const cv::Point2f center(f.cols / 2.0f, f.rows / 2.0f);
    const float max_dist = std::sqrt(center.x * center.x + center.y * center.y);
    for (int y = 0; y < f.rows; ++y) {
        auto* row = f.ptr<cv::Vec3f>(y);
        for (int x = 0; x < f.cols; ++x) {
            cv::Vec3f& p = row[x];
            const float luma = 0.114f * p[0] + 0.587f * p[1] + 0.299f * p[2];
            const float shadow = 1.0f - luma;
            p[0] += 0.08f * shadow - 0.05f * luma;  // blue
            p[1] += 0.03f * shadow;                 // green
            p[2] += 0.08f * luma - 0.04f * shadow;  // red
            for (int c = 0; c < 3; ++c) p[c] = 0.5f + (p[c] - 0.5f) * 1.12f;
            const float d = std::hypot(x - center.x, y - center.y) / max_dist;
            const float vignette = 1.0f - 0.35f * d * d;
            for (int c = 0; c < 3; ++c) p[c] = std::clamp(p[c] * vignette, 0.0f, 1.0f);
        }
    }
    cv::Mat out;
    f.convertTo(out, CV_8UC3, 255.0);
    return out;
}

cv::Mat ApplyEffect(const std::string& effect, const cv::Mat& bgr) {
    if (effect == "pencil-sketch") return PencilSketch(bgr);
    if (effect == "watercolor") return Watercolor(bgr);
    if (effect == "cartoon") return Cartoon(bgr);
    if (effect == "detail-enhance") return DetailEnhance(bgr);
    if (effect == "pixel-art") return PixelArt(bgr);
    return Cinematic(bgr);
}

std::string EffectFor(const JobParams& params, const Style* style) {
    auto it = params.options.find("effect");
    if (it != params.options.end()) return it->second;
    return style != nullptr ? style->classic_effect : "";
}

}  // namespace

const std::vector<std::string>& ClassicTransformer::Effects() {
    static const std::vector<std::string> kEffects = {"pencil-sketch", "watercolor", "cartoon",
                                                      "detail-enhance", "pixel-art", "cinematic"};
    return kEffects;
}

BackendStatus ClassicTransformer::Status() const {
    return {true, "", {{"effects", "pencil-sketch, watercolor, cartoon, detail-enhance, pixel-art, cinematic"}}};
}

labhouse::Status ClassicTransformer::Validate(const JobParams& params, const Style* style) const {
    const std::string effect = EffectFor(params, style);
    if (effect.empty()) {
        return InvalidArgument(style == nullptr ? "the classic backend needs a style"
                                                : "style '" + style->name + "' has no classic effect");
    }
    const auto& effects = Effects();
    if (std::find(effects.begin(), effects.end(), effect) == effects.end()) {
        return InvalidArgument("unknown classic effect '" + effect + "'");
    }
    return OkStatus();
}

Result<TransformOutput> ClassicTransformer::Transform(const TransformInput& input, ProgressReporter& progress) {
    LABHOUSE_RETURN_IF_ERROR(Validate(input.params, input.style));
    const std::string effect = EffectFor(input.params, input.style);
    const double strength = input.params.strength.value_or(1.0);
    constexpr int kSteps = 3;
    try {
        progress.Report({"prepare", 0, kSteps, 0});
        cv::Mat bgr = imaging::ToMat(input.image);
        const int longest = std::max(bgr.cols, bgr.rows);
        bool scaled = false;
        if (longest > config_.max_side) {
            const double scale = static_cast<double>(config_.max_side) / longest;
            cv::resize(bgr, bgr, cv::Size(), scale, scale, cv::INTER_AREA);
            scaled = true;
        }
        if (progress.CancelRequested()) return Cancelled("canceled before the effect");
        progress.Report({"effect", 1, kSteps, 0});
        cv::Mat effected = ApplyEffect(effect, bgr);
        if (progress.CancelRequested()) return Cancelled("canceled after the effect");
        progress.Report({"blend", 2, kSteps, 0});
        cv::Mat out = Blend(bgr, effected, strength);
        progress.Report({"blend", kSteps, kSteps, 0});
        TransformOutput output{imaging::FromMat(out), {}};
        output.meta["effect"] = effect;
        output.meta["strength"] = std::to_string(strength).substr(0, 4);
        output.meta["size"] = std::to_string(out.cols) + "x" + std::to_string(out.rows);
        if (scaled) output.meta["scaled_to_max_side"] = std::to_string(config_.max_side);
        return output;
    } catch (const cv::Exception& e) {
        return Internal(std::string("opencv: ") + e.what());
    }
}

}  // namespace labhouse::classic
