// The public pipeline on the tiny model: img2img and txt2img end to end, determinism, RNG modes,
// cancellation, broken checkpoints through Load, and the golden-latent regression.
#include "labhouse/engine/sdxl_pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "labhouse/core/base/sha256.h"
#include "labhouse/engine/checkpoint.h"
#include "labhouse/engine/safetensors.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

Image TestImage(int width, int height) {
    Image image = Image::Filled(width, height, 0, 0, 0);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::uint8_t* p = image.Pixel(x, y);
            p[0] = static_cast<std::uint8_t>(x * 255 / (width - 1));
            p[1] = static_cast<std::uint8_t>(y * 255 / (height - 1));
            p[2] = static_cast<std::uint8_t>(((x / 8 + y / 8) % 2) * 200);
        }
    }
    return image;
}

class PipelineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("pipeline");
        auto path = WriteTinySdxlModel(dir_->path().string());
        ASSERT_TRUE(path.has_value()) << path.error().message;
        model_ = *path;
        SdxlLoadOptions options;
        options.threads = 1;  // tiny tensors: more threads only add OpenMP overhead on a busy CI box
        auto pipeline = SdxlPipeline::Load(model_, dir_->path().string(), options);
        ASSERT_TRUE(pipeline.has_value()) << pipeline.error().message;
        pipeline_ = std::move(pipeline).value().release();
    }
    static void TearDownTestSuite() {
        delete pipeline_;
        delete dir_;
    }
    static SdxlRequest Img2Img(const Image* image) {
        SdxlRequest r;
        r.init_image = image;
        r.prompt = "a photo of a cat in the style of van gogh";
        r.steps = 4;
        r.strength = 0.5;
        r.seed = 42;
        return r;
    }
    static TempDir* dir_;
    static std::string model_;
    static SdxlPipeline* pipeline_;
};
TempDir* PipelineTest::dir_ = nullptr;
std::string PipelineTest::model_;
SdxlPipeline* PipelineTest::pipeline_ = nullptr;

TEST_F(PipelineTest, Img2ImgEndToEndWithProgress) {
    const Image input = TestImage(64, 64);
    std::vector<std::string> events;
    auto result = pipeline_->Generate(
        Img2Img(&input),
        [&](const std::string& stage, int step, int total, double secs) {
            EXPECT_GE(secs, 0.0);
            events.push_back(stage + " " + std::to_string(step) + "/" + std::to_string(total));
        },
        nullptr);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->image.width, 64);
    EXPECT_EQ(result->image.height, 64);
    EXPECT_EQ(result->image.rgb.size(), 64u * 64 * 3);
    EXPECT_EQ(events, (std::vector<std::string>{"text_encoders 1/1", "vae_encode 1/1", "unet 1/2", "unet 2/2",
                                                "vae_decode 1/1"}));
    EXPECT_EQ(result->meta.at("steps_run"), "2");  // diffusers convention: int(4 * 0.5)
    EXPECT_EQ(result->meta.at("sampler"), "euler_a");
    EXPECT_EQ(result->meta.at("spacing"), "trailing");
    EXPECT_EQ(result->meta.at("rng"), "cuda");
    EXPECT_EQ(result->meta.at("sigma_start"), "1.613");  // t = 499
    EXPECT_EQ(result->latent_shape, (std::vector<std::int64_t>{1, 4, 8, 8}));
    for (float v : result->latent) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(PipelineTest, SameSeedSameBitsOtherSeedOrRngDiffers) {
    const Image input = TestImage(64, 64);
    SdxlRequest request = Img2Img(&input);
    auto a = pipeline_->Generate(request, {}, nullptr);
    auto b = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->latent, b->latent);
    EXPECT_EQ(a->image.rgb, b->image.rgb);
    request.seed = 43;
    auto c = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(a->latent, c->latent);
    request.seed = 42;
    request.rng = "cpu";
    auto d = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(d.has_value());
    EXPECT_NE(a->latent, d->latent);
}

TEST_F(PipelineTest, Txt2ImgWithCfgAndEverySampler) {
    for (const char* sampler : {"euler", "euler_a", "dpmpp_2m"}) {
        SdxlRequest request;
        request.prompt = "a dog";
        request.negative_prompt = "blurry";
        request.guidance = 5.0;
        request.steps = 3;
        request.sampler = sampler;
        request.width = 96;
        request.height = 64;
        auto result = pipeline_->Generate(request, {}, nullptr);
        ASSERT_TRUE(result.has_value()) << sampler << ": " << result.error().message;
        EXPECT_EQ(result->image.width, 96);
        EXPECT_EQ(result->meta.at("steps_run"), "3");
        EXPECT_EQ(result->meta.at("mode"), "txt2img");
        // CFG matters: with guidance 1 (off) the result differs.
        request.guidance = 1.0;
        auto plain = pipeline_->Generate(request, {}, nullptr);
        ASSERT_TRUE(plain.has_value());
        EXPECT_NE(plain->latent, result->latent) << sampler;
    }
}

// Prompts over 75 tokens are encoded in chunks, as A1111 does: their tail changes the result (it
// was truncated before); a shorter negative prompt gets empty chunks; past 8 chunks the tail is
// dropped and the record says so.
TEST_F(PipelineTest, LongPromptsAreEncodedInChunks) {
    const Image input = TestImage(64, 64);
    std::string words;
    for (int i = 0; i < 80; ++i) words += "a dog, ";  // well over 75 tokens
    SdxlRequest request = Img2Img(&input);
    request.prompt = words + "in the snow";
    auto snow = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(snow.has_value()) << snow.error().message;
    request.prompt = words + "on the beach";
    auto beach = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(beach.has_value()) << beach.error().message;
    EXPECT_NE(snow->latent, beach->latent) << "the words after token 75 count";
    const int chunks = std::stoi(snow->meta.at("prompt_chunks"));
    EXPECT_GE(chunks, 2);
    EXPECT_EQ(snow->meta.count("prompt_truncated"), 0u);

    request.negative_prompt = "blurry";  // one chunk against the prompt's several
    request.guidance = 4.0;
    auto cfg = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
    EXPECT_EQ(std::stoi(cfg->meta.at("prompt_chunks")), chunks);
    EXPECT_NE(cfg->latent, beach->latent);

    std::string endless;
    for (int i = 0; i < 1000; ++i) endless += "dog ";
    request.prompt = endless;
    auto cut = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(cut.has_value()) << cut.error().message;
    EXPECT_EQ(cut->meta.at("prompt_chunks"), "8");
    EXPECT_EQ(cut->meta.at("prompt_truncated"), "true");

    request.prompt = "a dog";  // short prompts: one chunk, as before
    auto short_prompt = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(short_prompt.has_value());
    EXPECT_EQ(short_prompt->meta.at("prompt_chunks"), "1");
}

// A1111 emphasis: a weight of 1 is the plain prompt exactly, a weight changes the result (and the
// record says emphasis was used), brackets are not read as text, BREAK adds a chunk.
TEST_F(PipelineTest, EmphasisWeightsTheirTokens) {
    const Image input = TestImage(64, 64);
    SdxlRequest request = Img2Img(&input);
    request.prompt = "a photo of a cat, snow";
    auto plain = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(plain.has_value()) << plain.error().message;
    EXPECT_EQ(plain->meta.count("prompt_emphasis"), 0u);
    request.prompt = "a photo of a (cat:1.0), snow";
    auto unit = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(unit.has_value());
    EXPECT_EQ(unit->latent, plain->latent) << "weight 1 and brackets that only group change nothing";
    request.prompt = "a photo of a (cat:1.6), snow";
    auto strong = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(strong.has_value());
    EXPECT_NE(strong->latent, plain->latent);
    EXPECT_EQ(strong->meta.at("prompt_emphasis"), "a1111-original");
    request.prompt = "a photo of a [cat], snow";
    auto weak = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(weak.has_value());
    EXPECT_NE(weak->latent, plain->latent);
    EXPECT_NE(weak->latent, strong->latent);
    // The negative prompt is weighted too, with CFG.
    request.prompt = "a photo of a cat, snow";
    request.guidance = 4.0;
    request.negative_prompt = "blurry";
    auto negative = pipeline_->Generate(request, {}, nullptr);
    request.negative_prompt = "(blurry:1.5)";
    auto weighted_negative = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(negative.has_value() && weighted_negative.has_value());
    EXPECT_NE(negative->latent, weighted_negative->latent);
    // BREAK: a second chunk.
    request.negative_prompt.clear();
    request.prompt = "a photo of a cat BREAK snow";
    auto broken = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(broken.has_value());
    EXPECT_EQ(broken->meta.at("prompt_chunks"), "2");
}

TEST_F(PipelineTest, CancelBetweenSteps) {
    const Image input = TestImage(64, 64);
    SdxlRequest request = Img2Img(&input);
    request.steps = 8;  // 4 steps run
    std::atomic<bool> cancel{false};
    int unet_steps = 0;
    auto result = pipeline_->Generate(
        request,
        [&](const std::string& stage, int step, int, double) {
            if (stage == "unet") {
                ++unet_steps;
                if (step == 2) cancel.store(true);
            }
        },
        &cancel);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::kCancelled);
    EXPECT_EQ(unet_steps, 2);
    cancel.store(true);
    auto early = pipeline_->Generate(request, {}, &cancel);
    ASSERT_FALSE(early.has_value());
    EXPECT_EQ(early.error().code, ErrorCode::kCancelled);
}

TEST_F(PipelineTest, BadRequestsAreClearErrors) {
    const Image input = TestImage(64, 64);
    const Image odd = TestImage(70, 64);
    struct Case {
        std::function<void(SdxlRequest&)> mutate;
        std::string message;
    };
    const std::vector<Case> cases = {
        {[&](SdxlRequest& r) { r.init_image = &odd; }, "must be positive multiples of 32"},
        {[](SdxlRequest& r) { r.width = 128; }, "resize the image first"},
        {[](SdxlRequest& r) { r.sampler = "ddim"; }, "unknown sampler 'ddim'"},
        {[](SdxlRequest& r) { r.rng = "dice"; }, "unknown rng mode 'dice'"},
        {[](SdxlRequest& r) { r.steps = 1; }, "steps x strength must be at least 1"},
        {[](SdxlRequest& r) { r.strength = 0; }, "strength must be in (0, 1]"},
        {[](SdxlRequest& r) { r.steps = 0; }, "steps must be between 1 and 1000"},
        {[](SdxlRequest& r) { r.spacing = "weird"; }, "unknown timestep spacing"},
    };
    for (const auto& c : cases) {
        SdxlRequest request = Img2Img(&input);
        c.mutate(request);
        auto result = pipeline_->Generate(request, {}, nullptr);
        ASSERT_FALSE(result.has_value()) << c.message;
        EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(result.error().message.find(c.message), std::string::npos) << result.error().message;
    }
}

// Rewrites the tiny checkpoint with one change and returns Load's error message.
std::string LoadBroken(const std::string& model, const std::string& tokenizer_dir, const std::string& out,
                       const std::function<void(std::vector<TensorSpec>&)>& mutate) {
    auto file = SafetensorsFile::Open(model);
    EXPECT_TRUE(file.has_value());
    std::vector<TensorSpec> specs;
    for (const auto& [name, info] : (*file)->tensors()) specs.push_back({name, info.dtype, info.shape});
    mutate(specs);
    const Status written = WriteSafetensors(out, specs, {}, [&](std::size_t i, std::uint8_t* dst, std::size_t bytes) {
        const TensorInfo* info = (*file)->Find(specs[i].name);
        if (info != nullptr)
            std::memcpy(dst, (*file)->Data(*info), std::min<std::size_t>(bytes, info->end - info->begin));
    });
    EXPECT_TRUE(written);
    auto pipeline = SdxlPipeline::Load(out, tokenizer_dir, {});
    EXPECT_FALSE(pipeline.has_value());
    return pipeline ? std::string() : pipeline.error().message;
}

TEST_F(PipelineTest, BrokenCheckpointsEachFailWithTheirOwnMessage) {
    const std::string tok = dir_->path().string();
    const std::string out = dir_->File("broken.safetensors");
    const std::string victim = "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_k.weight";
    std::string m = LoadBroken(model_, tok, out, [&](auto& specs) {
        std::erase_if(specs, [&](const TensorSpec& s) { return s.name == victim; });
    });
    EXPECT_NE(m.find("1 missing tensor(s):\n    " + victim), std::string::npos) << m;
    m = LoadBroken(model_, tok, out, [&](auto& specs) {
        for (auto& s : specs) {
            if (s.name == victim) s.shape = {64, 96};
        }
    });
    EXPECT_NE(m.find(victim + " (expected [64,128], found [64,96])"), std::string::npos) << m;
    m = LoadBroken(model_, tok, out, [&](auto& specs) {
        for (auto& s : specs) {
            if (s.name == victim) s.dtype = DType::kI16;
        }
    });
    EXPECT_NE(m.find(victim + " (I16; weights must be F16, BF16 or F32)"), std::string::npos) << m;
    // Truncated file: the last tensor runs past the end.
    std::filesystem::copy_file(model_, out, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(out, std::filesystem::file_size(out) - 100);
    auto truncated = SdxlPipeline::Load(out, tok, {});
    ASSERT_FALSE(truncated.has_value());
    EXPECT_NE(truncated.error().message.find("past the end of the file"), std::string::npos)
        << truncated.error().message;
    // A 2 GB header claim.
    testing::WriteRawSafetensors(out, "{}", "", 2ull << 30);
    auto huge = SdxlPipeline::Load(out, tok, {});
    ASSERT_FALSE(huge.has_value());
    EXPECT_NE(huge.error().message.find("over the 104857600-byte limit"), std::string::npos) << huge.error().message;
    // Missing tokenizer.
    TempDir empty("pipeline-empty");
    auto no_tok = SdxlPipeline::Load(model_, empty.path().string(), {});
    ASSERT_FALSE(no_tok.has_value());
    EXPECT_NE(no_tok.error().message.find("no CLIP tokenizer"), std::string::npos);
}

// The same random values stored as F32, F16 and BF16 load and give close results (the storage
// precision is the only difference: F32 vs F16 must be much closer than F32 vs BF16).
TEST_F(PipelineTest, F32AndBf16CheckpointsLoad) {
    const Image input = TestImage(64, 64);
    SdxlLoadOptions options;
    options.threads = 1;
    std::map<std::string, std::vector<float>> latents;
    for (const char* dtype : {"F32", "BF16"}) {
        const std::string name = std::string("tiny-") + dtype + ".safetensors";
        ASSERT_TRUE(WriteTinySdxlModelAs(dir_->path().string(), name, dtype));
        auto file = SafetensorsFile::Open(dir_->File(name));
        ASSERT_TRUE(file.has_value());
        EXPECT_EQ(DTypeName((*file)->Find("model.diffusion_model.out.2.weight")->dtype), dtype);
        auto pipeline = SdxlPipeline::Load(dir_->File(name), dir_->path().string(), options);
        ASSERT_TRUE(pipeline.has_value()) << dtype << ": " << pipeline.error().message;
        auto result = (*pipeline)->Generate(Img2Img(&input), {}, nullptr);
        ASSERT_TRUE(result.has_value()) << dtype << ": " << result.error().message;
        latents[dtype] = result->latent;
    }
    auto f16 = pipeline_->Generate(Img2Img(&input), {}, nullptr);
    ASSERT_TRUE(f16.has_value());
    auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
        double m = 0;
        for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
        return m;
    };
    const double f16_error = max_diff(latents["F32"], f16->latent);
    const double bf16_error = max_diff(latents["F32"], latents["BF16"]);
    EXPECT_GT(bf16_error, 0.0);
    EXPECT_LT(f16_error, bf16_error);
    EXPECT_LT(bf16_error, 0.5);
}

TEST_F(PipelineTest, ModelHashInTheRecordWhenAsked) {
    SdxlLoadOptions options;
    options.threads = 1;
    options.hash_model = true;
    auto hashed = SdxlPipeline::Load(model_, dir_->path().string(), options);
    ASSERT_TRUE(hashed.has_value()) << hashed.error().message;
    SdxlRequest request;
    request.prompt = "a cat";
    request.width = request.height = 32;
    request.steps = 1;
    auto result = (*hashed)->Generate(request, {}, nullptr);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    std::ifstream in(model_, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(result->meta.at("model_sha256"), Sha256Hex(bytes));
    EXPECT_EQ(result->image.width, 32);
    auto plain = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->meta.count("model_sha256"), 0u);
}

TEST_F(PipelineTest, DiffusersFolderLoadsTheSameWeights) {
    const std::string folder = dir_->File("diffusers");
    ASSERT_TRUE(ConvertSingleFileToDiffusers(model_, dir_->path().string(), folder));
    ASSERT_TRUE(std::filesystem::exists(folder + "/text_encoder_2/model.safetensors"));
    auto tokenizer = FindTokenizerDir(folder, "");
    ASSERT_TRUE(tokenizer.has_value()) << tokenizer.error().message;
    EXPECT_EQ(*tokenizer, folder + "/tokenizer");
    SdxlLoadOptions options;
    options.threads = 1;
    auto diffusers = SdxlPipeline::Load(folder, *tokenizer, options);
    ASSERT_TRUE(diffusers.has_value()) << diffusers.error().message;
    const Image input = TestImage(64, 64);
    auto a = pipeline_->Generate(Img2Img(&input), {}, nullptr);
    auto b = (*diffusers)->Generate(Img2Img(&input), {}, nullptr);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(b->meta.at("model_layout"), "diffusers");
    ASSERT_EQ(a->latent.size(), b->latent.size());
    for (std::size_t i = 0; i < a->latent.size(); ++i) ASSERT_NEAR(a->latent[i], b->latent[i], 1e-5) << i;
    // A diffusers folder with a missing component names it.
    std::filesystem::remove(folder + "/vae/diffusion_pytorch_model.safetensors");
    auto broken = SdxlPipeline::Load(folder, *tokenizer, options);
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("lacks vae/diffusion_pytorch_model.safetensors"), std::string::npos)
        << broken.error().message;
}

// Golden regression: the final latent of a fixed tiny img2img run, committed in
// tests/engine/golden/tiny_img2img_latent.txt. Tolerance 1e-3 absolute (fp32 on CPU; different
// BLAS builds or thread counts move values by ~1e-6). LABHOUSE_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(PipelineTest, GoldenLatentRegression) {
    const std::string golden = std::string(LABHOUSE_ENGINE_TEST_DIR) + "/golden/tiny_img2img_latent.txt";
    const Image input = TestImage(64, 64);
    SdxlRequest request = Img2Img(&input);
    request.sampler = "dpmpp_2m";
    request.steps = 6;
    request.guidance = 3.0;
    request.negative_prompt = "ugly";
    auto result = pipeline_->Generate(request, {}, nullptr);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    if (const char* update = std::getenv("LABHOUSE_UPDATE_GOLDEN"); update != nullptr && std::string(update) == "1") {
        std::filesystem::create_directories(std::filesystem::path(golden).parent_path());
        std::ofstream out(golden);
        out.precision(9);
        for (float v : result->latent) out << v << "\n";
        GTEST_SKIP() << "golden file rewritten: " << golden;
    }
    std::ifstream in(golden);
    ASSERT_TRUE(in.good()) << "missing golden file " << golden << " (run with LABHOUSE_UPDATE_GOLDEN=1 once)";
    std::vector<float> expected;
    for (float v; in >> v;) expected.push_back(v);
    ASSERT_EQ(expected.size(), result->latent.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
        max_diff = std::max(max_diff, std::abs(double(expected[i]) - result->latent[i]));
    EXPECT_LT(max_diff, 1e-3);
}

}  // namespace
}  // namespace labhouse::engine
