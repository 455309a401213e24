// Module shapes on the tiny model, weight-mode equivalence, and sampler math (torch internals).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "labhouse/engine/internal/cpu_allocator.h"
#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/rng.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

class TinyModulesTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("modules");
        auto path = WriteTinySdxlModel(dir_->path().string());
        ASSERT_TRUE(path.has_value()) << path.error().message;
        auto file = CheckpointSource::Open(*path);
        ASSERT_TRUE(file.has_value()) << file.error().message;
        file_ = std::shared_ptr<CheckpointSource>(std::move(file).value());
        config_ = *DetectSdxlConfig(file_->tensors());
        at::manual_seed(0);
        at::set_num_threads(1);
    }
    static void TearDownTestSuite() {
        file_.reset();
        delete dir_;
    }
    static TempDir* dir_;
    static std::shared_ptr<CheckpointSource> file_;
    static SdxlConfig config_;
};
TempDir* TinyModulesTest::dir_ = nullptr;
std::shared_ptr<CheckpointSource> TinyModulesTest::file_;
SdxlConfig TinyModulesTest::config_;

TEST_F(TinyModulesTest, TextEncoderShapes) {
    c10::InferenceMode guard;
    WeightStore w(file_, at::kCPU, at::kFloat, false);
    at::Tensor ids = at::randint(0, config_.clip_l.vocab - 1, {2, 77}, at::TensorOptions().dtype(at::kLong));
    ids.index_put_({0, 5}, config_.clip_l.vocab - 1);  // EOT of row 0 at position 5
    const TextEncoderOutput l = RunClipText(w, config_.clip_l, ids);
    const TextEncoderOutput g = RunClipText(w, config_.clip_g, ids);
    EXPECT_EQ(l.hidden.sizes(), (std::vector<int64_t>{2, 77, config_.clip_l.width}));
    EXPECT_FALSE(l.pooled.defined());
    EXPECT_EQ(g.hidden.sizes(), (std::vector<int64_t>{2, 77, config_.clip_g.width}));
    EXPECT_EQ(g.pooled.sizes(), (std::vector<int64_t>{2, config_.clip_g.projection_dim}));
    EXPECT_TRUE(at::isfinite(g.hidden).all().item<bool>());
    // Causal mask: changing a token after position 5 leaves the hidden states up to 5 unchanged.
    at::Tensor ids2 = ids.clone();
    ids2.index_put_({0, 40}, 7);
    const TextEncoderOutput l2 = RunClipText(w, config_.clip_l, ids2);
    EXPECT_TRUE(at::allclose(l.hidden[0].narrow(0, 0, 40), l2.hidden[0].narrow(0, 0, 40)));
    EXPECT_FALSE(at::allclose(l.hidden[0][40], l2.hidden[0][40]));
}

TEST_F(TinyModulesTest, UnetShapesIncludingNonSquare) {
    c10::InferenceMode guard;
    WeightStore w(file_, at::kCPU, at::kFloat, false);
    const UnetPlan plan = MakeUnetPlan(config_.unet);
    for (auto hw : {std::pair<int64_t, int64_t>{8, 8}, {8, 12}}) {
        at::Tensor x = at::randn({2, 4, hw.first, hw.second});
        at::Tensor t = at::tensor({999.0f, 12.5f});
        at::Tensor ctx = at::randn({2, 77, config_.unet.context_dim});
        at::Tensor y = at::randn({2, config_.unet.adm_in_channels});
        at::Tensor eps = RunUnet(w, config_.unet, plan, x, t, ctx, y);
        EXPECT_EQ(eps.sizes(), x.sizes());
        EXPECT_TRUE(at::isfinite(eps).all().item<bool>());
        // Batch items are independent: item 1 alone gives the same result.
        at::Tensor eps1 = RunUnet(w, config_.unet, plan, x.narrow(0, 1, 1), t.narrow(0, 1, 1), ctx.narrow(0, 1, 1),
                                  y.narrow(0, 1, 1));
        EXPECT_TRUE(at::allclose(eps.narrow(0, 1, 1), eps1, 1e-4, 1e-5));
    }
}

TEST_F(TinyModulesTest, VaeShapes) {
    c10::InferenceMode guard;
    WeightStore w(file_, at::kCPU, at::kFloat, false);
    const int f = config_.vae.downscale();
    EXPECT_EQ(f, 8);
    at::Tensor image = at::rand({1, 3, 64, 96}) * 2 - 1;
    at::Tensor moments = RunVaeEncoder(w, config_.vae, image);
    EXPECT_EQ(moments.sizes(), (std::vector<int64_t>{1, 2 * config_.vae.z_channels, 64 / f, 96 / f}));
    at::Tensor decoded = RunVaeDecoder(w, config_.vae, moments.narrow(1, 0, config_.vae.z_channels));
    EXPECT_EQ(decoded.sizes(), (std::vector<int64_t>{1, 3, 64, 96}));
    EXPECT_TRUE(at::isfinite(decoded).all().item<bool>());
}

TEST_F(TinyModulesTest, FastAndLowMemoryModesAgree) {
    c10::InferenceMode guard;
    WeightStore low(file_, at::kCPU, at::kFloat, false);
    WeightStore fast(file_, at::kCPU, at::kFloat, true);
    const UnetPlan plan = MakeUnetPlan(config_.unet);
    at::Tensor x = at::randn({1, 4, 8, 8});
    at::Tensor t = at::tensor({500.0f});
    at::Tensor ctx = at::randn({1, 77, config_.unet.context_dim});
    at::Tensor y = at::randn({1, config_.unet.adm_in_channels});
    // Not bitwise: low-memory mode's Linear layers run blocked sgemms on weights converted per
    // block (LinearFromStored), fast mode at::linear on the fp32 copy; both accumulate in fp32.
    const at::Tensor from_low = RunUnet(low, config_.unet, plan, x, t, ctx, y);
    const at::Tensor from_fast = RunUnet(fast, config_.unet, plan, x, t, ctx, y);
    const double scale = 1.0 + from_fast.abs().max().item<double>();
    EXPECT_LT((from_low - from_fast).abs().max().item<double>(), 1e-4 * scale);
}

TEST(TorchBlocksTest, TimestepEmbeddingIsCosFirst) {
    at::Tensor e = TimestepEmbedding(at::tensor({0.0f, 1.0f}), 8);
    // E(0) = 4 ones then 4 zeros (sdxl-reference.md 2.4); E(1)[0] = cos(1), E(1)[4] = sin(1).
    EXPECT_TRUE(at::equal(e[0], at::tensor({1.f, 1.f, 1.f, 1.f, 0.f, 0.f, 0.f, 0.f})));
    EXPECT_NEAR(e[1][0].item<float>(), std::cos(1.0), 1e-6);
    EXPECT_NEAR(e[1][4].item<float>(), std::sin(1.0), 1e-6);
    EXPECT_NEAR(e[1][1].item<float>(), std::cos(std::exp(-std::log(10000.0) / 4)), 1e-6);
}

TEST(TorchBlocksTest, ChunkedAttentionEqualsFullAttention) {
    at::manual_seed(1);
    at::Tensor q = at::randn({1, 1, 5000, 64}), k = at::randn({1, 1, 5000, 64}), v = at::randn({1, 1, 5000, 64});
    at::Tensor full = at::matmul(at::softmax(at::matmul(q, k.transpose(-1, -2)) / 8.0, -1), v);
    EXPECT_TRUE(at::allclose(Attention(q, k, v), MergeHeads(full), 1e-4, 1e-5));
}

TEST(TorchBlocksTest, AttentionAppliesTheMaskPerQueryChunkAndMergesHeads) {
    at::manual_seed(2);
    at::Tensor q = at::randn({2, 3, 300, 16}), k = at::randn({2, 3, 300, 16}), v = at::randn({2, 3, 300, 16});
    at::Tensor mask = at::full({300, 300}, -std::numeric_limits<float>::infinity()).triu_(1);
    at::Tensor full = at::matmul(at::softmax(at::matmul(q, k.transpose(-1, -2)) / 4.0 + mask, -1), v);
    EXPECT_TRUE(at::allclose(Attention(q, k, v, mask), MergeHeads(full), 1e-4, 1e-5));
}

TEST(CpuAllocatorTest, ReusesFreedLargeBlocksAndReleasesThem) {
    InstallCachingCpuAllocator(64 << 20);
    ReleaseCachedCpuMemory();
    const CpuAllocatorStats before = GetCpuAllocatorStats();
    void* first = nullptr;
    {
        at::Tensor t = at::empty({1 << 20});  // 4 MiB
        first = t.data_ptr();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
    }
    EXPECT_GE(GetCpuAllocatorStats().cached_bytes, 4u << 20);
    at::Tensor again = at::empty({(1 << 20) - 100});  // same size class
    EXPECT_EQ(again.data_ptr(), first);
    EXPECT_EQ(GetCpuAllocatorStats().hits, before.hits + 1);
    again = at::Tensor();
    ReleaseCachedCpuMemory();
    EXPECT_EQ(GetCpuAllocatorStats().cached_bytes, 0u);
    at::Tensor small = at::ones({10});  // below the cached sizes: plain malloc, still usable
    EXPECT_EQ(small.sum().item<float>(), 10.0f);
}

// With data ~ N(0, 1) the ideal denoiser is D(x, s) = x / (1 + s^2) and the probability-flow ODE
// solution is x(s) = x_T * sqrt(1 + s^2) / sqrt(1 + s_T^2). The samplers must converge to it at
// their order: doubling the steps halves Euler's error and quarters DPM++ 2M's.
double OdeError(SamplerKind kind, int steps) {
    const std::vector<double> sigmas = MakeSigmas(Spacing::kKarras, steps);
    const at::Tensor x_t = at::tensor({1.0, -2.0, 0.5}, at::kDouble) * sigmas[0];
    const at::Tensor exact = x_t / std::sqrt(1 + sigmas[0] * sigmas[0]);
    SamplerHooks hooks;
    hooks.denoise = [](const at::Tensor& x, double s) { return x / (1 + s * s); };
    hooks.noise = [] { return at::zeros({3}, at::kDouble); };
    return (RunSampler(kind, sigmas, x_t, hooks) - exact).abs().max().item<double>();
}

TEST(SamplerTest, DeterministicSamplersSolveTheGaussianOdeAtTheirOrder) {
    const double euler_30 = OdeError(SamplerKind::kEuler, 30), euler_60 = OdeError(SamplerKind::kEuler, 60);
    const double dpm_30 = OdeError(SamplerKind::kDpmpp2m, 30), dpm_60 = OdeError(SamplerKind::kDpmpp2m, 60);
    EXPECT_LT(euler_60, 0.06);
    EXPECT_GT(euler_30 / euler_60, 1.6);
    EXPECT_LT(euler_30 / euler_60, 2.5);
    EXPECT_LT(dpm_60, 0.003);
    EXPECT_GT(dpm_30 / dpm_60, 3.0);
    EXPECT_LT(dpm_30, euler_30 / 5);
}

TEST(SamplerTest, EulerAncestralDrawsNoiseExceptOnTheLastStepAndCanBeCancelled) {
    const std::vector<double> sigmas = MakeSigmas(Spacing::kTrailing, 4);
    int draws = 0;
    SamplerHooks hooks;
    hooks.denoise = [](const at::Tensor& x, double s) { return x * 0.0; };
    hooks.noise = [&] {
        ++draws;
        return at::ones({2});
    };
    at::Tensor out = RunSampler(SamplerKind::kEulerAncestral, sigmas, at::ones({2}) * sigmas[0], hooks);
    EXPECT_EQ(draws, 3);
    EXPECT_TRUE(at::allclose(out, at::zeros({2})));  // the last step lands on D
    hooks.after_step = [](int step, int, const at::Tensor&) { return step < 2; };
    EXPECT_FALSE(RunSampler(SamplerKind::kEulerAncestral, sigmas, at::ones({2}), hooks).defined());
}

}  // namespace
}  // namespace labhouse::engine
