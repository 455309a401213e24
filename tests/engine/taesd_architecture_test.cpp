// TAESD decoder layer list, layout detection and validation (no torch).
#include "labhouse/engine/taesd_architecture.h"

#include <gtest/gtest.h>

#include "labhouse/engine/tiny_model.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

std::map<std::string, TensorInfo> Infos(const std::vector<TensorSpec>& specs) {
    std::map<std::string, TensorInfo> infos;
    for (const auto& spec : specs) infos[spec.name] = TensorInfo{spec.name, spec.dtype, spec.shape, 0, 0};
    return infos;
}

TaesdDecoderLayout Diffusers() {
    TaesdDecoderLayout layout;
    layout.prefix = "decoder.layers.";
    return layout;
}

TaesdDecoderLayout Original() {
    TaesdDecoderLayout layout;
    layout.first_index = 1;
    return layout;
}

TEST(TaesdArchitectureTest, ParameterCountAndNamesOfBothLayouts) {
    std::int64_t params = 0;
    const auto specs = TaesdDecoderSpecs(Diffusers(), DType::kF16);
    for (const auto& spec : specs) {
        std::int64_t n = 1;
        for (auto d : spec.shape) n *= d;
        params += n;
    }
    // conv_in 2,368 + 10 blocks x 110,784 + 3 bias-free convs x 36,864 + conv_out 1,731.
    EXPECT_EQ(params, 1'222'531);
    EXPECT_EQ(specs.front().name, "decoder.layers.0.weight");
    EXPECT_EQ(specs.back().name, "decoder.layers.18.bias");
    const auto infos = Infos(specs);
    EXPECT_TRUE(infos.count("decoder.layers.2.conv.4.weight"));  // first block
    EXPECT_TRUE(infos.count("decoder.layers.6.weight"));         // conv after the first upsample
    EXPECT_FALSE(infos.count("decoder.layers.6.bias"));

    const auto original = Infos(TaesdDecoderSpecs(Original(), DType::kF16));
    EXPECT_TRUE(original.count("1.weight"));
    EXPECT_TRUE(original.count("3.conv.0.bias"));
    EXPECT_TRUE(original.count("19.bias"));
    EXPECT_EQ(original.size(), infos.size());
}

TEST(TaesdArchitectureTest, DetectsEitherLayoutAndIgnoresTheEncoder) {
    auto infos = Infos(TaesdDecoderSpecs(Diffusers(), DType::kF16));
    infos["encoder.layers.0.weight"] = TensorInfo{"encoder.layers.0.weight", DType::kF16, {64, 3, 3, 3}, 0, 0};
    auto layout = DetectTaesdDecoder(infos);
    ASSERT_TRUE(layout.has_value()) << layout.error().message;
    EXPECT_EQ(layout->prefix, "decoder.layers.");
    EXPECT_EQ(layout->first_index, 0);
    EXPECT_EQ(layout->latent_channels, 4);
    EXPECT_EQ(layout->width, 64);

    auto original = DetectTaesdDecoder(Infos(TaesdDecoderSpecs(Original(), DType::kF32)));
    ASSERT_TRUE(original.has_value()) << original.error().message;
    EXPECT_EQ(original->prefix, "");
    EXPECT_EQ(original->first_index, 1);
}

TEST(TaesdArchitectureTest, ValidationNamesEveryProblem) {
    auto infos = Infos(TaesdDecoderSpecs(Diffusers(), DType::kF16));
    infos.erase("decoder.layers.7.conv.2.bias");
    infos["decoder.layers.18.weight"].shape = {4, 64, 3, 3};
    infos["decoder.layers.11.weight"].dtype = DType::kI64;
    infos["decoder.layers.99.weight"] = TensorInfo{"decoder.layers.99.weight", DType::kF16, {1}, 0, 0};
    auto layout = DetectTaesdDecoder(infos);
    ASSERT_FALSE(layout.has_value());
    const std::string& m = layout.error().message;
    EXPECT_NE(m.find("missing decoder.layers.7.conv.2.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("decoder.layers.18.weight has shape [4,64,3,3], expected [3,64,3,3]"), std::string::npos) << m;
    EXPECT_NE(m.find("decoder.layers.11.weight is I64"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected decoder.layers.99.weight"), std::string::npos) << m;

    EXPECT_FALSE(DetectTaesdDecoder({}).has_value());
    auto sdxl_vae = Infos({{"first_stage_model.decoder.conv_in.weight", DType::kF16, {512, 4, 3, 3}}});
    auto not_taesd = DetectTaesdDecoder(sdxl_vae);
    ASSERT_FALSE(not_taesd.has_value());
    EXPECT_NE(not_taesd.error().message.find("not a TAESD decoder"), std::string::npos);

    auto odd = Infos(TaesdDecoderSpecs(Diffusers(), DType::kF16));
    odd["decoder.layers.0.weight"].shape = {64, 4, 1, 1};
    EXPECT_FALSE(DetectTaesdDecoder(odd).has_value());
}

TEST(TaesdArchitectureTest, FlopsCountEveryConvolutionAtItsResolution) {
    // 64x64 latent: conv_in + 9 block convs at 64^2, 10 convs at 128^2 and at 256^2, 4 at 512^2, conv_out.
    const double c = 2.0 * 9 * 64 * 64;
    const double expected = 2.0 * 9 * 4 * 64 * 4096 + 9 * c * 4096 + 10 * c * 16384 + 10 * c * 65536 +
                            4 * c * 262144 + 2.0 * 9 * 64 * 3 * 262144;
    EXPECT_DOUBLE_EQ(TaesdDecoderFlops(Diffusers(), 64, 64), expected);
    EXPECT_NEAR(TaesdDecoderFlops(Diffusers(), 64, 64) / 1e12, 0.141, 0.001);  // vs 2.51 TFLOP for the VAE
}

TEST(TaesdArchitectureTest, RandomDecoderFileIsValid) {
    testing::TempDir dir("taesd-arch");
    ASSERT_TRUE(WriteRandomTaesdDecoder(dir.File("taesd.safetensors"), DType::kF16, 7));
    auto file = SafetensorsFile::Open(dir.File("taesd.safetensors"));
    ASSERT_TRUE(file.has_value()) << file.error().message;
    auto layout = DetectTaesdDecoder((*file)->tensors());
    ASSERT_TRUE(layout.has_value()) << layout.error().message;
    EXPECT_EQ((*file)->metadata().at("labhouse.model"), "taesd-decoder");
    EXPECT_FALSE(WriteRandomTaesdDecoder(dir.File("bad.safetensors"), DType::kI64, 7));
}

}  // namespace
}  // namespace labhouse::engine
