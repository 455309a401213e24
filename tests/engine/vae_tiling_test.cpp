// Tiled VAE (vae_tiling.h, internal/tiling.h): the generic TiledApply against untiled results,
// the tiled encoder and decoder on the tiny model, and tiling through the public pipeline.
#include <gtest/gtest.h>

#include <cmath>

#include "labhouse/engine/internal/tiling.h"
#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

double MaxAbs(const at::Tensor& a) {
    return a.abs().max().item<double>();
}

// Pointwise and nearest-upsampling functions commute with tiling, so tiled must equal untiled up
// to the float rounding of the blend (weights that sum to one, products rounded separately).
TEST(TiledApplyTest, PointwiseAndResamplingFunctionsGiveTheUntiledResult) {
    c10::InferenceMode guard;
    at::manual_seed(3);
    const at::Tensor x = at::randn({2, 3, 40, 72});
    const at::Tensor x_copy = x.clone();
    int calls = 0;
    auto square = [&](const at::Tensor& t) {
        ++calls;
        return t * t + 1.0;
    };
    at::Tensor tiled = TiledApply(x, 16, 4, 1, 1, square);
    EXPECT_EQ(calls, 3 * 6);  // 40 -> 3 tiles of 16, 72 -> 6 tiles of 16 (stride <= 12)
    EXPECT_TRUE(at::allclose(tiled, square(x), 1e-6, 1e-6)) << MaxAbs(tiled - square(x));
    auto upsample = [](const at::Tensor& t) { return at::upsample_nearest2d(t, {t.size(2) * 8, t.size(3) * 8}); };
    at::Tensor up = TiledApply(x, 16, 4, 8, 1, upsample);
    ASSERT_EQ(up.sizes(), (std::vector<int64_t>{2, 3, 320, 576}));
    EXPECT_TRUE(at::allclose(up, upsample(x), 1e-6, 1e-6)) << MaxAbs(up - upsample(x));
    // Downsampling by 8 (the encoder's direction): pixel tiles on the 8-pixel grid.
    const at::Tensor pixels = at::randn({1, 3, 200, 136});
    auto pool = [](const at::Tensor& t) { return at::avg_pool2d(t, {8, 8}); };
    at::Tensor down = TiledApply(pixels, 64, 16, 1, 8, pool);
    ASSERT_EQ(down.sizes(), (std::vector<int64_t>{1, 3, 25, 17}));
    EXPECT_TRUE(at::allclose(down, pool(pixels), 1e-6, 1e-6)) << MaxAbs(down - pool(pixels));
    EXPECT_TRUE(at::equal(x, x_copy));  // the input is not written to (an identity fn returns views of it)
    auto identity = [](const at::Tensor& t) { return t; };
    EXPECT_TRUE(at::allclose(TiledApply(x, 16, 4, 1, 1, identity), x, 1e-6, 1e-6));
    EXPECT_TRUE(at::equal(x, x_copy));
}

// A function whose output depends on the tile (its call number) shows the blend: each tile's
// value alone outside the overlaps, a linear ramp from one to the next inside them.
TEST(TiledApplyTest, OverlapsAreBlendedLinearly) {
    c10::InferenceMode guard;
    const at::Tensor x = at::zeros({1, 1, 8, 64});  // one row of tiles: 64 -> tiles of 24 at 0, 20, 40
    float call = 0;
    at::Tensor out = TiledApply(x, 24, 4, 1, 1, [&](const at::Tensor& t) { return at::full_like(t, call++); });
    ASSERT_EQ(call, 3);
    const at::Tensor row = out[0][0][3];
    auto v = [&](int i) { return row[i].item<float>(); };
    EXPECT_EQ(v(0), 0.0f);
    EXPECT_EQ(v(19), 0.0f);
    EXPECT_FLOAT_EQ(v(20), 0.125f);  // overlap [20, 24): (j + 0.5) / 4 of the next tile
    EXPECT_FLOAT_EQ(v(21), 0.375f);
    EXPECT_FLOAT_EQ(v(22), 0.625f);
    EXPECT_FLOAT_EQ(v(23), 0.875f);
    EXPECT_EQ(v(24), 1.0f);
    EXPECT_EQ(v(39), 1.0f);
    EXPECT_FLOAT_EQ(v(40), 1.125f);
    EXPECT_EQ(v(63), 2.0f);
    EXPECT_TRUE(at::equal(out[0][0][0], out[0][0][7]));  // the same on every row
}

TEST(TiledApplyTest, BadPlansAndWrongShapesThrow) {
    c10::InferenceMode guard;
    const at::Tensor x = at::zeros({1, 1, 40, 40});
    auto identity = [](const at::Tensor& t) { return t; };
    EXPECT_THROW(TiledApply(x, 16, 16, 1, 1, identity), std::invalid_argument);   // overlap = tile
    EXPECT_THROW(TiledApply(x, 16, 4, 1, 3, identity), std::invalid_argument);    // 40 not on a grid of 3
    EXPECT_THROW(TiledApply(at::zeros({40, 40}), 16, 4, 1, 1, identity), std::invalid_argument);
    EXPECT_THROW(TiledApply(x, 16, 4, 2, 1, identity), std::invalid_argument);    // output not 2x its tile
}

class TiledVaeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("vae-tiling");
        auto path = WriteTinySdxlModel(dir_->path().string());
        ASSERT_TRUE(path.has_value()) << path.error().message;
        model_ = *path;
        auto file = CheckpointSource::Open(model_);
        ASSERT_TRUE(file.has_value()) << file.error().message;
        file_ = std::shared_ptr<CheckpointSource>(std::move(file).value());
        config_ = *DetectSdxlConfig(file_->tensors());
        at::set_num_threads(1);
    }
    static void TearDownTestSuite() {
        file_.reset();
        delete dir_;
    }
    static TempDir* dir_;
    static std::string model_;
    static std::shared_ptr<CheckpointSource> file_;
    static SdxlConfig config_;
};
TempDir* TiledVaeTest::dir_ = nullptr;
std::string TiledVaeTest::model_;
std::shared_ptr<CheckpointSource> TiledVaeTest::file_;
SdxlConfig TiledVaeTest::config_;

TEST_F(TiledVaeTest, ATileCoveringTheImageIsTheUntiledVae) {
    c10::InferenceMode guard;
    WeightStore w(file_, at::kCPU, at::kFloat, false);
    at::manual_seed(5);
    const at::Tensor image = at::rand({1, 3, 64, 96}) * 2 - 1;
    const VaeTiling whole{256, 64};
    EXPECT_TRUE(at::equal(RunVaeEncoderTiled(w, config_.vae, image, whole), RunVaeEncoder(w, config_.vae, image)));
    const at::Tensor z = at::randn({1, 4, 8, 12});
    EXPECT_TRUE(at::equal(RunVaeDecoderTiled(w, config_.vae, z, whole), RunVaeDecoder(w, config_.vae, z)));
    EXPECT_TRUE(at::equal(RunVaeDecoderTiled(w, config_.vae, z, VaeTiling{}), RunVaeDecoder(w, config_.vae, z)));
}

// Mean |x[.., c + 1] - x[.., c]| per column c (over batch, channels and rows).
at::Tensor ColumnJumps(const at::Tensor& x) {
    const int64_t w = x.size(3);
    return (x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1)).abs().mean({0, 1, 2});
}

// Tiles smaller than the image: right shapes, finite values, close to untiled, and no seam.
// Each tile's GroupNorm sees only that tile, so tiled differs from untiled everywhere; with the
// tiny model's random weights by ~15% of the mean magnitude (decode) and ~7% (encode) -- measured
// here, asserted with headroom. The random decoder's output is noise-like (neighbouring pixels
// differ as much as across any seam), so the seam check looks at tiled - untiled instead: a hard
// cut between tiles is a step in that difference, the linear blend must not be. A hard-cut
// stitch of the same two tiles is the control that the measure sees a seam at all.
TEST_F(TiledVaeTest, TiledDecodeAndEncodeOfALargerImage) {
    c10::InferenceMode guard;
    WeightStore w(file_, at::kCPU, at::kFloat, false);
    at::manual_seed(7);
    const VaeTiling tiling{256, 64};  // 320x384 px: 2x2 tiles of 192x224 px; columns at 0 and 160
    ASSERT_EQ(VaeTileGrid(tiling, 384, 320, 8), "2x2");
    const at::Tensor z = at::randn({1, 4, 40, 48}) * 0.5;
    const at::Tensor tiled = RunVaeDecoderTiled(w, config_.vae, z, tiling);
    const at::Tensor plain = RunVaeDecoder(w, config_.vae, z);
    ASSERT_EQ(tiled.sizes(), (std::vector<int64_t>{1, 3, 320, 384}));
    ASSERT_TRUE(at::isfinite(tiled).all().item<bool>());
    const double spread = plain.abs().mean().item<double>();
    EXPECT_LT((tiled - plain).abs().mean().item<double>(), 0.25 * spread);

    const at::Tensor jumps = ColumnJumps(tiled - plain);
    const double in_overlap = jumps.narrow(0, 159, 66).max().item<double>();  // columns 159..224
    const double elsewhere = std::max(jumps.narrow(0, 0, 150).max().item<double>(),
                                      jumps.narrow(0, 234, 149).max().item<double>());
    EXPECT_LT(in_overlap, 1.25 * elsewhere) << in_overlap << " vs " << elsewhere;
    // Control: the same two column tiles (latents 0..27 and 20..47) stitched without a blend at 192 px.
    const at::Tensor left = RunVaeDecoder(w, config_.vae, z.narrow(3, 0, 28));
    const at::Tensor right = RunVaeDecoder(w, config_.vae, z.narrow(3, 20, 28));
    const at::Tensor cut = at::cat({left.narrow(3, 0, 192), right.narrow(3, 32, 192)}, 3);
    const at::Tensor cut_jumps = ColumnJumps(cut - plain);
    const double at_cut = cut_jumps[191].item<double>();
    EXPECT_GT(at_cut, 1.5 * std::max(cut_jumps.narrow(0, 0, 185).max().item<double>(),
                                     cut_jumps.narrow(0, 198, 185).max().item<double>()));

    const at::Tensor image = at::rand({1, 3, 320, 384}) * 2 - 1;
    const at::Tensor moments = RunVaeEncoderTiled(w, config_.vae, image, tiling);
    ASSERT_EQ(moments.sizes(), (std::vector<int64_t>{1, 8, 40, 48}));
    ASSERT_TRUE(at::isfinite(moments).all().item<bool>());
    const at::Tensor plain_moments = RunVaeEncoder(w, config_.vae, image);
    EXPECT_LT((moments - plain_moments).abs().mean().item<double>(), 0.15 * plain_moments.abs().mean().item<double>());
}

TEST_F(TiledVaeTest, LoadRefusesBadTileOptions) {
    for (int bad : {-2, 64, 300, 8192}) {
        SdxlLoadOptions options;
        options.threads = 1;
        options.vae_tile = bad;
        auto pipeline = SdxlPipeline::Load(model_, dir_->path().string(), options);
        ASSERT_FALSE(pipeline.has_value()) << bad;
        EXPECT_EQ(pipeline.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(pipeline.error().message.find("vae tile must be"), std::string::npos) << pipeline.error().message;
    }
}

// A non-square img2img through the public API with tiles of 256 px: 512x320 needs 2x3 tiles.
TEST_F(TiledVaeTest, PipelineTilesANonSquareImageAndRecordsIt) {
    const int width = 512, height = 320;
    Image input = Image::Filled(width, height, 0, 0, 0);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::uint8_t* p = input.Pixel(x, y);
            p[0] = static_cast<std::uint8_t>(x * 255 / (width - 1));
            p[1] = static_cast<std::uint8_t>(y * 255 / (height - 1));
            p[2] = static_cast<std::uint8_t>(((x / 16 + y / 16) % 2) * 200);
        }
    }
    SdxlRequest request;
    request.init_image = &input;
    request.prompt = "a photo of a cat";
    request.steps = 2;
    request.strength = 0.5;
    request.seed = 11;
    std::map<int, SdxlGenerationResult> results;
    for (int tile : {256, -1}) {
        SdxlLoadOptions options;
        options.threads = 1;
        options.vae_tile = tile;
        auto pipeline = SdxlPipeline::Load(model_, dir_->path().string(), options);
        ASSERT_TRUE(pipeline.has_value()) << pipeline.error().message;
        auto result = (*pipeline)->Generate(request, {}, nullptr);
        ASSERT_TRUE(result.has_value()) << result.error().message;
        EXPECT_EQ(result->image.width, width);
        EXPECT_EQ(result->image.height, height);
        results[tile] = std::move(*result);
    }
    EXPECT_EQ(results[256].meta.at("vae_tile"), "256/64");
    EXPECT_EQ(results[256].meta.at("vae_tiles"), "2x3");
    EXPECT_EQ(results[-1].meta.at("vae_tile"), "off");
    EXPECT_EQ(results[-1].meta.count("vae_tiles"), 0u);
    // Tiled encoder and decoder change the result a little (GroupNorm per tile), not wholesale.
    const auto& a = results[256].image.rgb;
    const auto& b = results[-1].image.rgb;
    double diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff += std::abs(int(a[i]) - int(b[i]));
    diff /= static_cast<double>(a.size());
    EXPECT_GT(diff, 0.0);
    EXPECT_LT(diff, 8.0);  // 2.7 of 255 measured
}

}  // namespace
}  // namespace labhouse::engine
