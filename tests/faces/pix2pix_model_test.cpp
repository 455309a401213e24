// pix2pix on libtorch with tiny networks: the paper's sizes, learning a synthetic mapping,
// checkpoints that round-trip bit for bit and resume.
#include "labhouse/pix2pix/pix2pix.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace labhouse::pix2pix {
namespace {

namespace fs = std::filesystem;

// 32x32 crops, 8 base filters, 5 downsamplings (bottleneck 1x1): about 50 k generator weights.
Pix2PixConfig TinyConfig() {
    Pix2PixConfig config;
    config.image_size = 32;
    config.base_filters = 8;
    config.depth = 5;
    return config;
}

// A smooth random picture: a 4x4 grid of random colours, bilinearly interpolated.
Image SmoothImage(std::mt19937& rng, int size) {
    std::uniform_int_distribution<int> colour(0, 255);
    int grid[4][4][3];
    for (auto& row : grid)
        for (auto& cell : row)
            for (int& c : cell) c = colour(rng);
    Image image = Image::Filled(size, size, 0, 0, 0);
    for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
            const double gx = x * 3.0 / (size - 1), gy = y * 3.0 / (size - 1);
            const int x0 = std::min(2, static_cast<int>(gx)), y0 = std::min(2, static_cast<int>(gy));
            const double fx = gx - x0, fy = gy - y0;
            for (int c = 0; c < 3; ++c) {
                const double v = (1 - fx) * (1 - fy) * grid[y0][x0][c] + fx * (1 - fy) * grid[y0][x0 + 1][c] +
                                 (1 - fx) * fy * grid[y0 + 1][x0][c] + fx * fy * grid[y0 + 1][x0 + 1][c];
                image.Pixel(x, y)[c] = static_cast<std::uint8_t>(v + 0.5);
            }
        }
    }
    return image;
}

// The mapping to learn: colour negative with red and blue swapped. Pixel-wise, so a U-Net
// learns it quickly, and far from the identity (an untrained or copying network scores badly).
Image Mapped(const Image& a) {
    Image b = a;
    for (std::size_t i = 0; i < a.rgb.size(); i += 3) {
        b.rgb[i] = 255 - a.rgb[i + 2];
        b.rgb[i + 1] = 255 - a.rgb[i + 1];
        b.rgb[i + 2] = 255 - a.rgb[i];
    }
    return b;
}

std::vector<TrainingPair> MakePairs(int count, std::uint32_t seed, int size = 32) {
    std::mt19937 rng(seed);
    std::vector<TrainingPair> pairs;
    for (int i = 0; i < count; ++i) {
        Image a = SmoothImage(rng, size);
        pairs.push_back({a, Mapped(a)});
    }
    return pairs;
}

class Pix2PixModelTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("labhouse-pix2pix-" + std::to_string(std::random_device()()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string Path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

TEST_F(Pix2PixModelTest, PaperSizedNetworksHaveThePaperParameterCounts) {
    auto model = Pix2PixModel::Create(Pix2PixConfig{});
    ASSERT_TRUE(model) << model.error().message;
    // pytorch-CycleGAN-and-pix2pix prints 54.414 M for unet_256 and 2.769 M for the basic D.
    EXPECT_EQ(model->GeneratorParameterCount(), 54'413'955);
    EXPECT_EQ(model->DiscriminatorParameterCount(), 2'768'705);
}

TEST_F(Pix2PixModelTest, RejectsSizesThatDoNotFit) {
    Pix2PixConfig config = TinyConfig();
    config.image_size = 48;  // not a multiple of 2^5
    EXPECT_EQ(Pix2PixModel::Create(config).error().code, ErrorCode::kInvalidArgument);
    config = TinyConfig();
    config.discriminator_layers = 4;  // 32 >> 4 = 2: no PatchGAN output left
    EXPECT_EQ(Pix2PixModel::Create(config).error().code, ErrorCode::kInvalidArgument);

    auto model = Pix2PixModel::Create(TinyConfig());
    ASSERT_TRUE(model);
    EXPECT_EQ(model->Generate(Image::Filled(16, 16, 1, 2, 3)).error().code, ErrorCode::kInvalidArgument);
    auto wrong = MakePairs(2, 1, 64);
    EXPECT_EQ(model->Train(wrong, {}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(Pix2PixModelTest, LearnsASyntheticMapping) {
    const auto train = MakePairs(48, 1);
    const auto held_out = MakePairs(12, 2);
    auto model = Pix2PixModel::Create(TinyConfig(), 3);
    ASSERT_TRUE(model);
    const double before = *model->MeanAbsoluteError(held_out);

    TrainOptions options;
    options.epochs = 40;
    options.batch_size = 4;
    int steps_seen = 0;
    auto summary = model->Train(train, options,
                                {[&](const TrainProgress& p) {
                                     ++steps_seen;
                                     EXPECT_EQ(p.steps_per_epoch, 12);
                                 },
                                 {}});
    ASSERT_TRUE(summary) << summary.error().message;
    EXPECT_EQ(summary->steps, 40 * 12);
    EXPECT_EQ(steps_seen, 40 * 12);
    EXPECT_EQ(model->epochs_done(), 40);
    // The L1 term (on the [-1, 1] scale) falls to well under half of the first epoch's.
    EXPECT_LT(summary->last_loss_g_l1, summary->first_loss_g_l1 * 0.5)
        << summary->first_loss_g_l1 << " -> " << summary->last_loss_g_l1;
    // On pictures it never saw: within 20 of 255 per channel on average, from over 30 untrained
    // (an untrained generator's output is a flat grey).
    const double after = *model->MeanAbsoluteError(held_out);
    std::printf("pix2pix synthetic mapping: held-out L1 %.2f -> %.2f (0..255), train L1 %.4f -> %.4f\n", before, after,
                summary->first_loss_g_l1, summary->last_loss_g_l1);
    EXPECT_GT(before, 30.0);
    EXPECT_LT(after, 20.0) << "held-out L1 before " << before << ", after " << after;
}

TEST_F(Pix2PixModelTest, SaveAndLoadRoundTripBitForBit) {
    const auto pairs = MakePairs(8, 4);
    auto model = Pix2PixModel::Create(TinyConfig(), 5);
    ASSERT_TRUE(model);
    TrainOptions options;
    options.batch_size = 2;
    ASSERT_TRUE(model->Train(pairs, options));  // so the Adam moments are not empty
    ASSERT_TRUE(model->Save(Path("model.pt")));

    auto loaded = Pix2PixModel::Load(Path("model.pt"));
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->epochs_done(), 1);
    EXPECT_EQ(loaded->config().image_size, 32);
    EXPECT_EQ(loaded->config().base_filters, 8);
    EXPECT_EQ(loaded->config().depth, 5);
    EXPECT_DOUBLE_EQ(loaded->config().learning_rate, 2e-4);
    const auto expected = model->StateForComparison();
    const auto actual = loaded->StateForComparison();
    ASSERT_EQ(actual.size(), expected.size());
    int optimizer_entries = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(actual[i].first, expected[i].first);
        EXPECT_EQ(actual[i].second, expected[i].second) << expected[i].first;  // exact float equality
        optimizer_entries += expected[i].first.rfind("optimizer", 0) == 0;
    }
    EXPECT_GT(optimizer_entries, 0);
    EXPECT_EQ(loaded->Generate(pairs[0].a)->rgb, model->Generate(pairs[0].a)->rgb);

    // A generator-only export serves the same pictures but cannot be trained further.
    ASSERT_TRUE(model->Save(Path("deploy.pt"), /*training_state=*/false));
    auto deployed = Pix2PixModel::Load(Path("deploy.pt"));
    ASSERT_TRUE(deployed) << deployed.error().message;
    EXPECT_FALSE(deployed->has_training_state());
    EXPECT_EQ(deployed->Generate(pairs[1].a)->rgb, model->Generate(pairs[1].a)->rgb);
    EXPECT_LT(fs::file_size(Path("deploy.pt")), fs::file_size(Path("model.pt")));
    EXPECT_EQ(deployed->Train(pairs, options).error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(Pix2PixModelTest, ResumedTrainingMatchesUninterruptedTraining) {
    const auto pairs = MakePairs(6, 6);
    TrainOptions options;
    options.batch_size = 2;
    options.seed = 9;

    auto straight = Pix2PixModel::Create(TinyConfig(), 7);
    ASSERT_TRUE(straight);
    options.epochs = 3;
    ASSERT_TRUE(straight->Train(pairs, options));

    auto first = Pix2PixModel::Create(TinyConfig(), 7);
    ASSERT_TRUE(first);
    options.epochs = 2;
    options.checkpoint_path = Path("ckpt.pt");
    ASSERT_TRUE(first->Train(pairs, options));
    auto resumed = Pix2PixModel::Load(Path("ckpt.pt"));
    ASSERT_TRUE(resumed) << resumed.error().message;
    EXPECT_EQ(resumed->epochs_done(), 2);
    options.epochs = 3;
    auto summary = resumed->Train(pairs, options);
    ASSERT_TRUE(summary);
    EXPECT_EQ(summary->steps, 3) << "only the third epoch runs";
    EXPECT_EQ(resumed->epochs_done(), 3);
    EXPECT_EQ(resumed->Generate(pairs[0].a)->rgb, straight->Generate(pairs[0].a)->rgb);
    EXPECT_TRUE(fs::exists(Path("ckpt.pt")));
    EXPECT_FALSE(fs::exists(Path("ckpt.pt.tmp")));
}

TEST_F(Pix2PixModelTest, CancelStopsTraining) {
    auto model = Pix2PixModel::Create(TinyConfig());
    ASSERT_TRUE(model);
    TrainOptions options;
    options.epochs = 5;
    int steps = 0;
    auto summary =
        model->Train(MakePairs(4, 8), options, {[&](const TrainProgress&) { ++steps; }, [&] { return steps >= 3; }});
    ASSERT_FALSE(summary);
    EXPECT_EQ(summary.error().code, ErrorCode::kCancelled);
    EXPECT_EQ(steps, 3);
}

TEST_F(Pix2PixModelTest, LoadReportsMissingAndForeignFiles) {
    EXPECT_EQ(Pix2PixModel::Load(Path("absent.pt")).error().code, ErrorCode::kNotFound);
    std::ofstream(Path("junk.pt")) << "not a model";
    EXPECT_EQ(Pix2PixModel::Load(Path("junk.pt")).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace labhouse::pix2pix
