// faces_bench: how long a face-swap job takes on this machine, measured through the backend's
// Transform exactly as a worker runs it (detection, landmarks, warp, colour match, Poisson blend).
//
//   faces_bench [--photo P] [--reference R] [--out DIR] [--repeat N]
//
// Prints seconds per case: the first job (landmark model load included), warm jobs at the photo's
// own size, and warm jobs on the photo scaled up to 3000 px (a phone picture). With torch it also
// times the pix2pix backend on a full-size random-weight unet_256 (the arithmetic does not
// depend on the weights' values).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_analyzer.h"
#include "labhouse/adapters/faces/face_swap_transformer.h"
#ifdef LABHOUSE_BENCH_PIX2PIX
#include "labhouse/adapters/faces/pix2pix_transformer.h"
#include "labhouse/pix2pix/pix2pix.h"
#endif

namespace {

using labhouse::Image;
using labhouse::JobParams;
using labhouse::JobProgress;
using labhouse::Transformer;

struct QuietReporter : labhouse::ProgressReporter {
    void Report(const JobProgress&) override {}
    bool CancelRequested() override { return false; }
};

double Seconds(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs one job; returns its seconds, or a negative number after printing the error.
double TimeJob(Transformer& transformer, const Image& photo, const std::map<std::string, Image>& extra, Image* result) {
    JobParams params;
    params.backend = std::string(transformer.Name());
    for (const auto& entry : extra) params.options[entry.first] = "bench";
    QuietReporter reporter;
    const auto start = std::chrono::steady_clock::now();
    auto out = transformer.Transform({photo, params, nullptr, extra}, reporter);
    const double seconds = Seconds(start);
    if (!out) {
        std::fprintf(stderr, "error: %s: %s\n", out.error().Name().c_str(), out.error().message.c_str());
        return -1;
    }
    if (result) *result = std::move(out->image);
    return seconds;
}

void Report(const char* name, std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    double sum = 0;
    for (double s : seconds) sum += s;
    std::printf("%-44s median %.3f s  min %.3f s  mean %.3f s  (n=%zu)\n", name, seconds[seconds.size() / 2],
                seconds.front(), sum / seconds.size(), seconds.size());
}

bool Save(const std::string& dir, const std::string& name, const Image& image) {
    if (dir.empty()) return true;
    cv::Mat bgr;
    cv::cvtColor(labhouse::faces::MatView(image), bgr, cv::COLOR_RGB2BGR);
    return cv::imwrite((std::filesystem::path(dir) / name).string(), bgr);
}

}  // namespace

int main(int argc, char** argv) {
    std::string photo_path = "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg";
    std::string reference_path = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
    std::string out_dir;
    int repeat = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--photo")
            photo_path = argv[i + 1];
        else if (flag == "--reference")
            reference_path = argv[i + 1];
        else if (flag == "--out")
            out_dir = argv[i + 1];
        else if (flag == "--repeat")
            repeat = std::max(1, std::atoi(argv[i + 1]));
        else {
            std::fprintf(stderr, "usage: faces_bench [--photo P] [--reference R] [--out DIR] [--repeat N]\n");
            return 2;
        }
    }
    auto photo_mat = labhouse::faces::ReadRgb(photo_path);
    auto reference_mat = labhouse::faces::ReadRgb(reference_path);
    if (!photo_mat || !reference_mat) {
        std::fprintf(stderr, "error: %s\n", (!photo_mat ? photo_mat : reference_mat).error().message.c_str());
        std::fprintf(stderr, "install the photo packages: apt-get install facedetect python3-skimage\n");
        return 1;
    }
    const Image photo = labhouse::faces::ToImage(*photo_mat);
    const std::map<std::string, Image> extra = {{"reference_image", labhouse::faces::ToImage(*reference_mat)}};
    cv::Mat big_mat;
    const double scale = 3000.0 / std::max(photo_mat->cols, photo_mat->rows);  // a 9-megapixel phone picture
    cv::resize(*photo_mat, big_mat, cv::Size(), scale, scale, cv::INTER_CUBIC);
    const Image big = labhouse::faces::ToImage(big_mat);
    std::printf("face-swap: photo %s (%dx%d), reference %s\n", photo_path.c_str(), photo.width, photo.height,
                reference_path.c_str());

    labhouse::faces::FaceSwapTransformer swap({});
    Image result;
    const double cold = TimeJob(swap, photo, extra, &result);
    if (cold < 0) return 1;
    Save(out_dir, "face_swap.png", result);
    Report("face-swap first job (model load included)", {cold});
    std::vector<double> warm, phone;
    for (int i = 0; i < repeat; ++i) warm.push_back(TimeJob(swap, photo, extra, nullptr));
    Report("face-swap warm, photo size", warm);
    for (int i = 0; i < std::max(1, repeat / 2); ++i)
        phone.push_back(TimeJob(swap, big, extra, i == 0 ? &result : nullptr));
    Report("face-swap warm, photo scaled to 3000 px", phone);

#ifdef LABHOUSE_BENCH_PIX2PIX
    const std::string model_path =
        (std::filesystem::temp_directory_path() / "labhouse-bench-pix2pix-unet256.pt").string();
    if (!std::filesystem::exists(model_path)) {
        auto model = labhouse::pix2pix::Pix2PixModel::Create({});  // the paper's unet_256, ngf 64
        if (!model || !model->Save(model_path, /*training_state=*/false)) {
            std::fprintf(stderr, "error: cannot write %s\n", model_path.c_str());
            return 1;
        }
    }
    labhouse::faces::Pix2PixTransformer pix2pix({model_path, {}, 16});
    const std::map<std::string, Image> none;
    const double p2p_cold = TimeJob(pix2pix, photo, none, &result);
    if (p2p_cold < 0) return 1;
    Save(out_dir, "pix2pix_random_weights.png", result);
    Report("pix2pix unet_256 first job (load included)", {p2p_cold});
    std::vector<double> p2p;
    for (int i = 0; i < repeat; ++i) p2p.push_back(TimeJob(pix2pix, photo, none, nullptr));
    Report("pix2pix unet_256 warm, photo size", p2p);
#endif
    if (!out_dir.empty()) std::printf("results written to %s\n", out_dir.c_str());
    return 0;
}
