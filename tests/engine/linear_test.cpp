// LinearFromStored (the blocked, convert-per-block Linear of torch_common.cpp) against at::linear on
// the fp32 weight, and the weight store's use of it in both memory modes.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/safetensors.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

// Restores ATen's thread count after a test that changes it (other suites in this binary run with 1).
class ThreadCount {
public:
    explicit ThreadCount(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
    ~ThreadCount() { at::set_num_threads(saved_); }

private:
    int saved_;
};

// The reference: ATen's linear on the weight converted to fp32 (f16/bf16 -> f32 is exact).
at::Tensor Reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    return at::linear(x.to(at::kDouble), weight.to(at::kDouble), bias.defined() ? bias.to(at::kDouble) : bias)
        .to(at::kFloat);
}

class LinearFromStoredTest : public ::testing::TestWithParam<std::tuple<at::ScalarType, int>> {};

TEST_P(LinearFromStoredTest, MatchesAtenLinearForShapesBiasAndDtypes) {
    const auto [dtype, threads] = GetParam();
    const ThreadCount thread_count(threads);
    c10::InferenceMode guard;
    at::manual_seed(3);
    // M x K -> N: M = 1 (the UNet's embedding linears), odd sizes, N smaller than one block, N not a
    // multiple of the 16-row block granule, and sizes that give several blocks of up to 256 rows.
    const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
        {1, 1, 1}, {1, 320, 1280}, {3, 7, 5}, {77, 768, 3072}, {77, 1280, 1000}, {5, 4099, 37}, {130, 64, 257},
        {1024, 40, 640}};
    for (const auto& [m, k, n] : shapes) {
        for (const bool with_bias : {false, true}) {
            const at::Tensor x = at::randn({m, k});
            const at::Tensor weight = (at::randn({n, k}) / std::sqrt(static_cast<double>(k))).to(dtype);
            const at::Tensor bias = with_bias ? at::randn({n}).to(dtype) : at::Tensor();
            const at::Tensor got = LinearFromStored(x, weight, bias);
            const at::Tensor want = Reference(x, weight, bias);
            ASSERT_EQ(got.sizes(), want.sizes());
            const double diff = (got - want).abs().max().item<double>();
            EXPECT_LT(diff, 1e-4) << "M=" << m << " K=" << k << " N=" << n << " bias=" << with_bias
                                  << " dtype=" << dtype << " threads=" << threads;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(DtypesAndThreads, LinearFromStoredTest,
                         ::testing::Combine(::testing::Values(at::kHalf, at::kBFloat16, at::kFloat),
                                            ::testing::Values(1, 2)));

TEST(LinearFromStoredShapesTest, KeepsLeadingDimsAndTakesNonContiguousInput) {
    c10::InferenceMode guard;
    at::manual_seed(4);
    const at::Tensor weight = at::randn({96, 40}).to(at::kHalf);
    const at::Tensor bias = at::randn({96});
    // A transposed view: [2, 40, 9] -> [2, 9, 40] with a non-unit last stride.
    const at::Tensor x = at::randn({2, 40, 9}).transpose(1, 2);
    const at::Tensor got = LinearFromStored(x, weight, bias);
    EXPECT_EQ(got.sizes(), (at::IntArrayRef{2, 9, 96}));
    EXPECT_LT((got - Reference(x, weight, bias)).abs().max().item<double>(), 1e-4);
    // Zero rows: an empty result of the right shape.
    EXPECT_EQ(LinearFromStored(at::randn({0, 40}), weight, bias).sizes(), (at::IntArrayRef{0, 96}));
}

TEST(LinearFromStoredShapesTest, RejectsMismatchedShapesAndUnsupportedWeights) {
    c10::InferenceMode guard;
    const at::Tensor weight = at::randn({8, 4}).to(at::kHalf);
    EXPECT_THROW(LinearFromStored(at::randn({2, 5}), weight, {}), c10::Error);              // K mismatch
    EXPECT_THROW(LinearFromStored(at::randn({2, 4}), weight, at::randn({7})), c10::Error);  // bias size
    EXPECT_THROW(LinearFromStored(at::randn({2, 4}), weight.t(), {}), c10::Error);          // not contiguous
    EXPECT_THROW(LinearFromStored(at::randn({2, 4}), weight.to(at::kDouble), {}), c10::Error);
    EXPECT_THROW(LinearFromStored(at::randn({2, 4}).to(at::kDouble), weight, {}), c10::Error);
}

// Through the weight store: low-memory mode multiplies the f16 weight read from the file in blocks,
// fast mode its fp32 copy with at::linear; both match the reference.
TEST(LinearFromStoredShapesTest, LowMemoryAndFastStoresAgree) {
    c10::InferenceMode guard;
    const ThreadCount thread_count(2);
    at::manual_seed(5);
    testing::TempDir dir("linear");
    const at::Tensor weight = (at::randn({300, 130}) * 0.1).to(at::kHalf).contiguous();
    const at::Tensor bias = at::randn({300}).to(at::kHalf).contiguous();
    auto bytes = [](const at::Tensor& t) {
        return std::string(static_cast<const char*>(t.data_ptr()), static_cast<std::size_t>(t.nbytes()));
    };
    const std::string json =
        R"({"l.weight":{"dtype":"F16","shape":[300,130],"data_offsets":[0,78000]},)"
        R"("l.bias":{"dtype":"F16","shape":[300],"data_offsets":[78000,78600]}})";
    testing::WriteRawSafetensors(dir.File("w.safetensors"), json, bytes(weight) + bytes(bias));
    auto source = CheckpointSource::Open(dir.File("w.safetensors"));
    ASSERT_TRUE(source.has_value()) << source.error().message;
    std::shared_ptr<const CheckpointSource> shared(std::move(*source));
    const WeightStore low(shared, at::kCPU, at::kFloat, false);
    const WeightStore fast(shared, at::kCPU, at::kFloat, true);
    ASSERT_TRUE(low.converts_per_use());
    ASSERT_FALSE(fast.converts_per_use());
    const at::Tensor x = at::randn({77, 130});
    const at::Tensor from_low = Linear(low.Under(""), "l", x);
    const at::Tensor from_fast = Linear(fast.Under(""), "l", x);
    // Low-memory mode reads both through the file (pread), not the mapping.
    ASSERT_NE(low.ReadableSlice("l.weight").file, nullptr);
    EXPECT_EQ(fast.ReadableSlice("l.weight").file, nullptr);
    EXPECT_TRUE(at::equal(low.Get("l.weight"), weight.to(at::kFloat)));
    EXPECT_TRUE(at::equal(low.Get("l.bias"), bias.to(at::kFloat)));
    EXPECT_LT((from_low - from_fast).abs().max().item<double>(), 1e-5);
    EXPECT_LT((from_low - Reference(x, weight, bias)).abs().max().item<double>(), 1e-4);
    EXPECT_LT((Linear(low.Under(""), "l", x, false) - Reference(x, weight, {})).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace labhouse::engine
