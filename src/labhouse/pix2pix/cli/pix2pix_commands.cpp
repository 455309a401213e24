#include "labhouse/pix2pix/cli/pix2pix_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "labhouse/adapters/faces/face_analyzer.h"
#include "labhouse/adapters/faces/face_geometry.h"
#include "labhouse/adapters/faces/face_swap_transformer.h"
#include "labhouse/pix2pix/pix2pix.h"

namespace labhouse::pix2pix {

namespace {

namespace fs = std::filesystem;

struct TrainArgs {
    std::string pairs_dir;
    std::string out;
    int epochs = 200;       // the paper's 100 constant + 100 decaying
    int decay_epochs = -1;  // -1: half of --epochs
    int size = 256;
    int filters = 64;
    int depth = 0;  // 0: log2(size), a 1x1 bottleneck as in unet_256
    int batch = 1;
    std::uint64_t seed = 0;
    bool resume = false;
    bool jitter = false;
};

struct MakePairsArgs {
    std::string photos_dir;
    std::string reference;
    std::string out_dir;
    std::string landmarks = faces::kDefaultPredictorPath;
    int size = 256;
};

[[noreturn]] void Fail(const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    throw CLI::RuntimeError(1);
}

std::vector<fs::path> ImageFiles(const std::string& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::string ext = entry.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (entry.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp")) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

Image ResizedImage(const cv::Mat& rgb, int size) {
    cv::Mat resized;
    cv::resize(rgb, resized, cv::Size(size, size), 0, 0, rgb.cols > size ? cv::INTER_AREA : cv::INTER_CUBIC);
    return faces::ToImage(resized);
}

// Reads the reference layout of data/aligned_dataset.py: one file per pair, A left, B right.
std::vector<TrainingPair> LoadPairs(const std::string& dir, int size) {
    if (!fs::is_directory(dir)) Fail("--pairs " + dir + " is not a directory");
    std::vector<TrainingPair> pairs;
    for (const fs::path& file : ImageFiles(dir)) {
        auto image = faces::ReadRgb(file.string());
        if (!image) Fail(image.error().message);
        const int half = image->cols / 2;
        if (image->rows < 8 || image->cols != 2 * image->rows) {
            Fail(file.string() + " is not an A|B pair (expected two images side by side, width = 2 x height)");
        }
        pairs.push_back({ResizedImage((*image)(cv::Rect(0, 0, half, image->rows)), size),
                         ResizedImage((*image)(cv::Rect(half, 0, half, image->rows)), size)});
    }
    if (pairs.empty()) Fail("no training pairs (*.png, *.jpg) in " + dir);
    return pairs;
}

std::string Duration(double seconds) {
    const long s = std::lround(std::max(0.0, seconds));
    char buffer[32];
    if (s >= 3600) {
        std::snprintf(buffer, sizeof(buffer), "%ldh%02ldm", s / 3600, (s / 60) % 60);
    } else {
        std::snprintf(buffer, sizeof(buffer), "%ldm%02lds", s / 60, s % 60);
    }
    return buffer;
}

void PrintProgress(const TrainProgress& p, int first_epoch) {
    constexpr int kWidth = 24;
    const int filled = p.steps_per_epoch ? p.step * kWidth / p.steps_per_epoch : 0;
    const double done = (p.epoch - first_epoch) * static_cast<double>(p.steps_per_epoch) + p.step;
    const double left = (p.epochs - p.epoch) * static_cast<double>(p.steps_per_epoch) - p.step;
    const double eta = done > 0 ? p.seconds / done * left : 0;
    std::fprintf(stderr, "\repoch %d/%d [%s%s] %d/%d  L1 %.4f  G %.3f  D %.3f  ETA %s   ", p.epoch + 1, p.epochs,
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), p.step, p.steps_per_epoch,
                 p.loss_g_l1, p.loss_g_gan, p.loss_d, Duration(eta).c_str());
    if (p.step == p.steps_per_epoch) std::fprintf(stderr, "\n");
}

void RunTrain(const TrainArgs& args) {
    Result<Pix2PixModel> model = Error{};
    if (args.resume && fs::exists(args.out)) {
        model = Pix2PixModel::Load(args.out);
        if (!model) Fail(model.error().message);
        std::fprintf(stderr, "resuming %s after epoch %d\n", args.out.c_str(), model->epochs_done());
    } else {
        if (fs::exists(args.out)) Fail(args.out + " already exists: pass --resume to continue training it");
        Pix2PixConfig config;
        config.image_size = args.size;
        config.base_filters = args.filters;
        config.depth = args.depth > 0 ? args.depth : static_cast<int>(std::lround(std::log2(std::max(args.size, 1))));
        model = Pix2PixModel::Create(config, args.seed);
        if (!model) Fail(model.error().message);
    }
    const std::vector<TrainingPair> pairs = LoadPairs(args.pairs_dir, model->config().image_size);
    TrainOptions options;
    options.epochs = args.epochs;
    options.decay_epochs = args.decay_epochs >= 0 ? args.decay_epochs : args.epochs / 2;
    options.batch_size = args.batch;
    options.jitter = args.jitter;
    options.seed = args.seed;
    options.checkpoint_path = args.out;
    std::fprintf(stderr, "training on %zu pairs, %dx%d, generator %lld parameters\n", pairs.size(),
                 model->config().image_size, model->config().image_size,
                 static_cast<long long>(model->GeneratorParameterCount()));
    const int first_epoch = model->epochs_done();
    auto summary = model->Train(pairs, options, {[&](const TrainProgress& p) { PrintProgress(p, first_epoch); }, {}});
    if (!summary) Fail(summary.error().message);
    std::fprintf(stderr, "done: %d epochs, L1 %.4f -> %.4f, saved %s\n", summary->epochs_done, summary->first_loss_g_l1,
                 summary->last_loss_g_l1, args.out.c_str());
}

cv::Mat SideBySide(const cv::Mat& a, const cv::Mat& b) {
    cv::Mat pair;
    cv::hconcat(a, b, pair);
    return pair;
}

void RunMakePairs(const MakePairsArgs& args) {
    if (!fs::is_directory(args.photos_dir)) Fail("--photos " + args.photos_dir + " is not a directory");
    if (args.size < 16) Fail("--size must be at least 16");
    faces::FaceAnalyzerConfig analyzer_config;
    analyzer_config.predictor_path = args.landmarks;
    auto analyzer = faces::FaceAnalyzer::Create(analyzer_config);
    if (!analyzer) Fail(analyzer.error().message);
    auto reference_photo = faces::ReadRgb(args.reference);
    if (!reference_photo) Fail("--reference: " + reference_photo.error().message);
    auto reference = faces::FindReferenceFace(**analyzer, *reference_photo);
    if (!reference) Fail("--reference " + args.reference + ": " + reference.error().message);
    std::error_code ec;
    fs::create_directories(args.out_dir, ec);
    if (ec) Fail("cannot create --out " + args.out_dir + ": " + ec.message());

    int written = 0;
    const std::vector<fs::path> photos = ImageFiles(args.photos_dir);
    for (const fs::path& file : photos) {
        auto photo = faces::ReadRgb(file.string());
        if (!photo) {
            std::fprintf(stderr, "skip %s: %s\n", file.c_str(), photo.error().message.c_str());
            continue;
        }
        auto analysis = (*analyzer)->Analyze(*photo);
        if (!analysis || analysis->faces.empty()) {
            std::fprintf(stderr, "skip %s: no usable face\n", file.c_str());
            continue;
        }
        for (std::size_t k = 0; k < analysis->faces.size(); ++k) {
            const faces::FaceLandmarks& face = analysis->faces[k];
            cv::Mat swapped = photo->clone();
            if (auto swap = faces::SwapFace(swapped, face, reference->photo, reference->face); !swap) {
                std::fprintf(stderr, "skip %s face %zu: %s\n", file.c_str(), k, swap.error().message.c_str());
                continue;
            }
            const faces::AlignedFace a = faces::AlignFace(*photo, face, args.size);
            cv::Mat b;
            cv::warpAffine(swapped, b, a.photo_to_crop, a.crop.size(), cv::INTER_AREA, cv::BORDER_REFLECT_101);
            cv::Mat bgr;
            cv::cvtColor(SideBySide(a.crop, b), bgr, cv::COLOR_RGB2BGR);
            const fs::path out = fs::path(args.out_dir) / (file.stem().string() + "_face" + std::to_string(k) + ".png");
            if (!cv::imwrite(out.string(), bgr)) Fail("cannot write " + out.string());
            ++written;
        }
    }
    if (written == 0)
        Fail("no pairs written: no usable face in the " + std::to_string(photos.size()) + " photos of " +
             args.photos_dir);
    std::fprintf(stderr, "wrote %d pairs from %zu photos to %s\n", written, photos.size(), args.out_dir.c_str());
}

}  // namespace

void AddPix2PixCommands(CLI::App& app) {
    CLI::App* group = app.add_subcommand("pix2pix", "Train and prepare pix2pix face models");
    group->require_subcommand(1);

    auto train = std::make_shared<TrainArgs>();
    CLI::App* train_cmd =
        group->add_subcommand("train", "Train a pix2pix generator on A|B pairs (checkpoints every epoch)");
    train_cmd->add_option("--pairs", train->pairs_dir, "Folder of A|B side-by-side images")->required();
    train_cmd->add_option("--out", train->out, "Model file to write (and resume from)")->required();
    train_cmd->add_option("--epochs", train->epochs, "Total epochs (the paper: 200)")->check(CLI::Range(1, 100000));
    train_cmd->add_option("--decay-epochs", train->decay_epochs,
                          "Final epochs with a linearly decaying rate (default: half)");
    train_cmd->add_option("--size", train->size, "Crop size (a power of two, 32..1024)")->check(CLI::Range(32, 1024));
    train_cmd->add_option("--filters", train->filters, "Base filters ngf = ndf (the paper: 64)")
        ->check(CLI::Range(1, 512));
    train_cmd->add_option("--depth", train->depth, "U-Net downsamplings (default: log2 of --size)");
    train_cmd->add_option("--batch", train->batch, "Batch size (the paper: 1)")->check(CLI::Range(1, 256));
    train_cmd->add_option("--seed", train->seed, "Seed for weights, shuffling and augmentation");
    train_cmd->add_flag("--resume", train->resume, "Continue training the model in --out");
    train_cmd->add_flag("--jitter", train->jitter, "Random resize-and-crop augmentation (the paper's jitter)");
    train_cmd->callback([train] { RunTrain(*train); });

    auto pairs = std::make_shared<MakePairsArgs>();
    CLI::App* pairs_cmd =
        group->add_subcommand("make-pairs", "Build training pairs from photos with the face-swap backend");
    pairs_cmd->add_option("--photos", pairs->photos_dir, "Folder of photos with faces")->required();
    pairs_cmd->add_option("--reference", pairs->reference, "Photo of the face to put in")->required();
    pairs_cmd->add_option("--out", pairs->out_dir, "Folder to write the A|B pairs to")->required();
    pairs_cmd->add_option("--size", pairs->size, "Aligned crop size")->check(CLI::Range(16, 1024));
    pairs_cmd->add_option("--landmarks", pairs->landmarks, "dlib 68-point shape predictor file");
    pairs_cmd->callback([pairs] { RunMakePairs(*pairs); });
}

}  // namespace labhouse::pix2pix
