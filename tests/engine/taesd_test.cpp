// The TAESD decoder: its forward pass against a plain re-statement of taesd.py's Decoder on the
// original file layout, and its use by the pipeline (final decode, previews, errors).
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <cstring>

#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/taesd_architecture.h"
#include "labhouse/engine/tiny_model.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

// Writes the tensors of `from` under the original nn.Sequential names ("decoder.layers.N" -> "N+1").
void WriteAsOriginalLayout(const std::string& from, const std::string& to) {
    auto file = SafetensorsFile::Open(from);
    ASSERT_TRUE(file.has_value()) << file.error().message;
    std::vector<TensorSpec> specs;
    std::vector<const TensorInfo*> sources;
    for (const auto& [name, info] : (*file)->tensors()) {
        const std::string rest = name.substr(std::strlen("decoder.layers."));
        const std::size_t dot = rest.find('.');
        const std::string renamed = std::to_string(std::stoi(rest.substr(0, dot)) + 1) + rest.substr(dot);
        specs.push_back({renamed, info.dtype, info.shape});
        sources.push_back(&info);
    }
    auto status = WriteSafetensors(to, specs, {}, [&](std::size_t i, std::uint8_t* out, std::size_t bytes) {
        std::memcpy(out, (*file)->Data(*sources[i]), bytes);
    });
    ASSERT_TRUE(status) << status.error().message;
}

// taesd.py's Decoder, written out index by index on the original names.
at::Tensor ReferenceDecoder(const SafetensorsFile& file, const at::Tensor& latent) {
    auto t = [&](const std::string& name) {
        const TensorInfo* info = file.Find(name);
        EXPECT_NE(info, nullptr) << name;
        return at::from_blob(const_cast<std::uint8_t*>(file.Data(*info)), info->shape, at::kHalf).to(at::kFloat);
    };
    auto conv = [&](const at::Tensor& x, int index, bool bias) {
        const std::string n = std::to_string(index);
        return at::conv2d(x, t(n + ".weight"), bias ? t(n + ".bias") : at::Tensor(), 1, 1);
    };
    auto block = [&](const at::Tensor& x, int index) {
        const std::string n = std::to_string(index) + ".conv.";
        at::Tensor h = at::relu(at::conv2d(x, t(n + "0.weight"), t(n + "0.bias"), 1, 1));
        h = at::relu(at::conv2d(h, t(n + "2.weight"), t(n + "2.bias"), 1, 1));
        h = at::conv2d(h, t(n + "4.weight"), t(n + "4.bias"), 1, 1);
        return at::relu(h + x);
    };
    auto up = [](const at::Tensor& x) { return at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2}); };
    at::Tensor x = at::tanh(latent / 3) * 3;              // 0: Clamp
    x = at::relu(conv(x, 1, true));                       // 1, 2
    for (int i : {3, 4, 5}) x = block(x, i);              // 3-5
    x = conv(up(x), 7, false);                            // 6, 7
    for (int i : {8, 9, 10}) x = block(x, i);             // 8-10
    x = conv(up(x), 12, false);                           // 11, 12
    for (int i : {13, 14, 15}) x = block(x, i);           // 13-15
    x = conv(up(x), 17, false);                           // 16, 17
    return conv(block(x, 18), 19, true);                  // 18, 19
}

TEST(TaesdDecoderTest, MatchesTheReferenceOnBothLayouts) {
    c10::InferenceMode guard;
    TempDir dir("taesd-ref");
    const std::string diffusers = dir.File("diffusion_pytorch_model.safetensors");
    const std::string original = dir.File("taesdxl_decoder.safetensors");
    ASSERT_TRUE(WriteRandomTaesdDecoder(diffusers, DType::kF16, 3));
    WriteAsOriginalLayout(diffusers, original);

    at::manual_seed(0);
    const at::Tensor latent = at::randn({1, 4, 5, 7}) * 4;  // odd, non-square; beyond the clamp's knee
    auto original_file = SafetensorsFile::Open(original);
    ASSERT_TRUE(original_file.has_value());
    const at::Tensor expected = ReferenceDecoder(**original_file, latent);
    ASSERT_EQ(expected.sizes(), (std::vector<int64_t>{1, 3, 40, 56}));
    ASSERT_GT(expected.abs().max().item<float>(), 1e-3f);  // the random weights do not zero everything

    for (const std::string& path : {diffusers, original}) {
        auto source = CheckpointSource::Open(path);
        ASSERT_TRUE(source.has_value());
        auto layout = DetectTaesdDecoder((*source)->tensors());
        ASSERT_TRUE(layout.has_value()) << layout.error().message;
        for (bool preconvert : {true, false}) {
            WeightStore weights(std::shared_ptr<const CheckpointSource>(std::move(*CheckpointSource::Open(path))),
                                at::Device(at::kCPU), at::kFloat, preconvert);
            const at::Tensor got = RunTaesdDecoder(weights, *layout, latent);
            EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-5)) << path << " max diff "
                                                                 << (got - expected).abs().max().item<float>();
        }
    }
}

class TaesdPipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("taesd-pipeline");
        auto model = WriteTinySdxlModel(dir_->path().string());
        ASSERT_TRUE(model.has_value()) << model.error().message;
        model_ = *model;
        taesd_ = dir_->File("taesd.safetensors");
        ASSERT_TRUE(WriteRandomTaesdDecoder(taesd_, DType::kF16, 11));
        SdxlLoadOptions options;
        options.threads = 1;
        options.taesd_path = taesd_;
        auto pipeline = SdxlPipeline::Load(model_, dir_->path().string(), options);
        ASSERT_TRUE(pipeline.has_value()) << pipeline.error().message;
        pipeline_ = std::move(pipeline).value().release();
    }
    static void TearDownTestSuite() {
        delete pipeline_;
        delete dir_;
    }
    static SdxlRequest Txt2Img(const std::string& decoder) {
        SdxlRequest r;
        r.prompt = "a photo of a cat";
        r.steps = 4;
        r.seed = 5;
        r.width = 64;
        r.height = 96;
        r.decoder = decoder;
        return r;
    }
    static TempDir* dir_;
    static std::string model_, taesd_;
    static SdxlPipeline* pipeline_;
};
TempDir* TaesdPipelineTest::dir_ = nullptr;
std::string TaesdPipelineTest::model_, TaesdPipelineTest::taesd_;
SdxlPipeline* TaesdPipelineTest::pipeline_ = nullptr;

TEST_F(TaesdPipelineTest, TaesdFinalDecodeSamplesTheSameLatent) {
    ASSERT_TRUE(pipeline_->has_taesd());
    auto vae = pipeline_->Generate(Txt2Img("vae"), nullptr, nullptr);
    auto taesd = pipeline_->Generate(Txt2Img("taesd"), nullptr, nullptr);
    ASSERT_TRUE(vae.has_value()) << vae.error().message;
    ASSERT_TRUE(taesd.has_value()) << taesd.error().message;
    EXPECT_EQ(vae->latent, taesd->latent);  // the decoder only changes the last stage
    EXPECT_EQ(taesd->image.width, 64);
    EXPECT_EQ(taesd->image.height, 96);
    EXPECT_EQ(taesd->image.rgb.size(), 64u * 96 * 3);
    EXPECT_NE(vae->image.rgb, taesd->image.rgb);
    EXPECT_EQ(taesd->meta.at("decoder"), "taesd");
    EXPECT_EQ(vae->meta.at("decoder"), "vae");
}

TEST_F(TaesdPipelineTest, LargeImagesAreDecodedInTilesLikeTheVae) {
    SdxlLoadOptions options;
    options.threads = 1;
    options.taesd_path = taesd_;
    options.vae_tile = 256;
    auto tiled = SdxlPipeline::Load(model_, dir_->path().string(), options);
    ASSERT_TRUE(tiled.has_value()) << tiled.error().message;
    SdxlRequest request = Txt2Img("taesd");
    request.width = 320;
    request.height = 256;
    auto whole = pipeline_->Generate(request, nullptr, nullptr);
    auto tiles = (*tiled)->Generate(request, nullptr, nullptr);
    ASSERT_TRUE(whole.has_value()) << whole.error().message;
    ASSERT_TRUE(tiles.has_value()) << tiles.error().message;
    EXPECT_EQ(whole->meta.at("vae_tile"), "off");
    EXPECT_EQ(tiles->meta.at("vae_tiles"), "1x2");
    ASSERT_EQ(tiles->latent, whole->latent);
    ASSERT_EQ(tiles->image.rgb.size(), whole->image.rgb.size());
    // No normalisation in TAESD: tiles differ from the whole only where its convolutions reach
    // past the 8-latent overlap, and the blend spreads that out.
    double total = 0;
    int largest = 0;
    for (std::size_t i = 0; i < whole->image.rgb.size(); ++i) {
        const int d = std::abs(int(tiles->image.rgb[i]) - int(whole->image.rgb[i]));
        total += d;
        largest = std::max(largest, d);
    }
    const double mean = total / static_cast<double>(whole->image.rgb.size());
    double level = 0;
    for (auto v : whole->image.rgb) level += v;
    // Measured on the tiny model: mean |diff| 0.025 of 255 (a few pixels by the seam up to 57) on
    // an image of mean level ~168; a missing blend or a misplaced tile moves thousands of pixels.
    EXPECT_GT(level / static_cast<double>(whole->image.rgb.size()), 10.0) << "a comparison of black images";
    EXPECT_LT(mean, 0.5) << "max |diff| " << largest;
}

TEST_F(TaesdPipelineTest, PreviewsAfterEveryNthStepButTheLast) {
    for (int every : {1, 2, 5}) {
        SdxlRequest request = Txt2Img("vae");
        request.preview_every = every;
        std::vector<int> steps;
        std::vector<Image> previews;
        request.on_preview = [&](int step, int total, const Image& preview) {
            EXPECT_EQ(total, 4);
            steps.push_back(step);
            previews.push_back(preview);
        };
        auto result = pipeline_->Generate(request, nullptr, nullptr);
        ASSERT_TRUE(result.has_value()) << result.error().message;
        const std::vector<int> expected = every == 1 ? std::vector<int>{1, 2, 3}
                                          : every == 2 ? std::vector<int>{2}
                                                       : std::vector<int>{};
        EXPECT_EQ(steps, expected) << "every " << every;
        for (const Image& p : previews) {
            EXPECT_EQ(p.width, 64);
            EXPECT_EQ(p.height, 96);
            EXPECT_EQ(p.rgb.size(), p.ByteSize());
        }
        if (every == 1) {
            EXPECT_NE(previews[0].rgb, previews[2].rgb);  // each step's prediction differs
        }
    }
}

TEST_F(TaesdPipelineTest, BadDecoderRequestsAreClearErrors) {
    auto bad = pipeline_->Generate(Txt2Img("tiny"), nullptr, nullptr);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
    SdxlRequest negative = Txt2Img("vae");
    negative.preview_every = -1;
    EXPECT_EQ(pipeline_->Generate(negative, nullptr, nullptr).error().code, ErrorCode::kInvalidArgument);

    SdxlLoadOptions plain;
    plain.threads = 1;
    auto without = SdxlPipeline::Load(model_, dir_->path().string(), plain);
    ASSERT_TRUE(without.has_value());
    EXPECT_FALSE((*without)->has_taesd());
    auto refused = (*without)->Generate(Txt2Img("taesd"), nullptr, nullptr);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.error().message.find("taesd_path"), std::string::npos) << refused.error().message;
    SdxlRequest previews = Txt2Img("vae");
    previews.preview_every = 1;
    previews.on_preview = [](int, int, const Image&) {};
    EXPECT_EQ((*without)->Generate(previews, nullptr, nullptr).error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(TaesdPipelineTest, BadTaesdFilesFailTheLoad) {
    auto load = [&](const std::string& taesd) {
        SdxlLoadOptions options;
        options.threads = 1;
        options.taesd_path = taesd;
        return SdxlPipeline::Load(model_, dir_->path().string(), options);
    };
    auto missing = load(dir_->File("nope.safetensors"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("nope.safetensors"), std::string::npos) << missing.error().message;

    auto sdxl = load(model_);  // the SDXL checkpoint is not a TAESD file
    ASSERT_FALSE(sdxl.has_value());
    EXPECT_NE(sdxl.error().message.find("not a TAESD decoder"), std::string::npos) << sdxl.error().message;

    TaesdDecoderLayout eight;
    eight.prefix = "decoder.layers.";
    eight.latent_channels = 8;
    const std::string wide = dir_->File("taesd-8ch.safetensors");
    ASSERT_TRUE(WriteRandomTensors(wide, TaesdDecoderSpecs(eight, DType::kF16), {}, 1));
    auto mismatch = load(wide);
    ASSERT_FALSE(mismatch.has_value());
    EXPECT_NE(mismatch.error().message.find("8-channel"), std::string::npos) << mismatch.error().message;
}

}  // namespace
}  // namespace labhouse::engine
