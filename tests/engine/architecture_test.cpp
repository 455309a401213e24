#include "labhouse/engine/architecture.h"

#include <gtest/gtest.h>

#include <cmath>

#include <cstring>
#include <fstream>
#include <iterator>

#include "labhouse/engine/checkpoint.h"
#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/tiny_model.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

struct Count {
    int tensors = 0;
    std::int64_t params = 0;
};

Count CountPrefix(const std::vector<TensorSpec>& specs, const std::string& prefix) {
    Count c;
    for (const auto& s : specs) {
        if (s.name.rfind(prefix, 0) != 0) continue;
        ++c.tensors;
        std::int64_t n = 1;
        for (auto d : s.shape) n *= d;
        c.params += n;
    }
    return c;
}

std::map<std::string, TensorInfo> AsInfos(const std::vector<TensorSpec>& specs) {
    std::map<std::string, TensorInfo> infos;
    for (const auto& s : specs) infos[s.name] = TensorInfo{s.name, s.dtype, s.shape, 0, 0};
    return infos;
}

// sdxl-reference.md section 1 counts: the block plan and key lists reproduce the real checkpoint.
TEST(ArchitectureTest, FullSizeSpecsMatchTheReferenceCounts) {
    const auto specs = SdxlTensorSpecs(SdxlBaseConfig(), DType::kF16);
    const Count unet = CountPrefix(specs, kUnetPrefix);
    EXPECT_EQ(unet.tensors, 1680);
    EXPECT_EQ(unet.params, 2567463684);
    const Count clip_l = CountPrefix(specs, kClipLPrefix);
    EXPECT_EQ(clip_l.tensors, 196);
    EXPECT_EQ(clip_l.params, 123060480);
    const Count clip_g = CountPrefix(specs, kClipGPrefix);
    EXPECT_EQ(clip_g.tensors, 389);  // 390 in the file with logit_scale, which the engine ignores
    EXPECT_EQ(clip_g.params, 694659840);
    const Count vae = CountPrefix(specs, kVaePrefix);
    EXPECT_EQ(vae.tensors, 248);
    EXPECT_EQ(vae.params, 83653863);
}

TEST(ArchitectureTest, UnetPlanMatchesTheBlockTable) {
    const UnetPlan plan = MakeUnetPlan(SdxlBaseConfig().unet);
    ASSERT_EQ(plan.input.size(), 9u);
    ASSERT_EQ(plan.output.size(), 9u);
    EXPECT_TRUE(plan.input[3].downsample);
    EXPECT_EQ(plan.input[4].res_in, 320);
    EXPECT_EQ(plan.input[4].res_out, 640);
    EXPECT_EQ(plan.input[4].st_depth, 2);
    EXPECT_EQ(plan.input[7].st_depth, 10);
    EXPECT_EQ(plan.output[0].res_in, 2560);
    EXPECT_EQ(plan.output[2].res_in, 1920);
    EXPECT_TRUE(plan.output[2].upsample);
    EXPECT_EQ(plan.output[5].res_in, 960);
    EXPECT_TRUE(plan.output[5].upsample);
    EXPECT_EQ(plan.output[6].st_depth, 0);
    EXPECT_EQ(plan.output[8].res_in, 640);
    EXPECT_EQ(SdxlBaseConfig().size_multiple(), 32);
}

TEST(ArchitectureTest, DetectsEverySizeFromTheWeights) {
    for (const SdxlConfig& config : {SdxlBaseConfig(), TinySdxlConfig(600)}) {
        auto detected = DetectSdxlConfig(AsInfos(SdxlTensorSpecs(config, DType::kF16)));
        ASSERT_TRUE(detected.has_value()) << detected.error().message;
        EXPECT_EQ(detected->unet.channel_mult, config.unet.channel_mult);
        EXPECT_EQ(detected->unet.num_res_blocks, config.unet.num_res_blocks);
        EXPECT_EQ(detected->unet.transformer_depth, config.unet.transformer_depth);
        EXPECT_EQ(detected->unet.mid_depth, config.unet.mid_depth);
        EXPECT_EQ(detected->unet.context_dim, config.unet.context_dim);
        EXPECT_EQ(detected->unet.adm_in_channels, config.unet.adm_in_channels);
        EXPECT_EQ(detected->clip_l.layers, config.clip_l.layers);
        EXPECT_EQ(detected->clip_g.projection_dim, config.clip_g.projection_dim);
        EXPECT_EQ(detected->vae.ch_mult, config.vae.ch_mult);
        EXPECT_EQ(detected->vae.num_res_blocks, config.vae.num_res_blocks);
        EXPECT_TRUE(ValidateSdxlTensors(AsInfos(SdxlTensorSpecs(config, DType::kF16)), *detected));
    }
}

TEST(ArchitectureTest, ValidationListsEveryProblemInOneError) {
    const SdxlConfig config = TinySdxlConfig(600);
    auto infos = AsInfos(SdxlTensorSpecs(config, DType::kF16));
    infos.erase("model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_v.weight");
    infos.erase("first_stage_model.decoder.up.0.block.1.conv2.bias");
    infos["model.diffusion_model.out.2.bias"].shape = {5};
    infos["conditioner.embedders.1.model.ln_final.weight"].dtype = DType::kI32;
    infos["model.diffusion_model.surprise.weight"] =
        TensorInfo{"model.diffusion_model.surprise.weight", DType::kF16, {1}, 0, 0};
    infos["conditioner.embedders.1.model.logit_scale"] = TensorInfo{"", DType::kF16, {}, 0, 0};  // ignored
    const Status status = ValidateSdxlTensors(infos, config);
    ASSERT_FALSE(status);
    const std::string& m = status.error().message;
    EXPECT_NE(m.find("2 missing tensor(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("input_blocks.4.1.transformer_blocks.0.attn2.to_v.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("decoder.up.0.block.1.conv2.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("model.diffusion_model.out.2.bias (expected [4], found [5])"), std::string::npos) << m;
    EXPECT_NE(m.find("ln_final.weight (I32; weights must be F16, BF16 or F32)"), std::string::npos) << m;
    EXPECT_NE(m.find("1 unexpected tensor(s):\n    model.diffusion_model.surprise.weight"), std::string::npos) << m;
    EXPECT_EQ(m.find("logit_scale"), std::string::npos) << m;
}

TEST(ArchitectureTest, DetectionNamesTheKeyItNeeds) {
    auto infos = AsInfos(SdxlTensorSpecs(TinySdxlConfig(600), DType::kF16));
    infos.erase("model.diffusion_model.input_blocks.0.0.weight");
    auto detected = DetectSdxlConfig(infos);
    ASSERT_FALSE(detected.has_value());
    EXPECT_NE(detected.error().message.find(
                  "cannot detect the UNet layout: missing tensor 'model.diffusion_model.input_blocks.0.0.weight'"),
              std::string::npos)
        << detected.error().message;
}

// sgm <-> diffusers names (sdxl-reference.md 2.6 and 5.4 tables) on the full-size key list.
TEST(DiffusersNamesTest, KnownPairsAndRoundTrip) {
    std::set<std::string> sgm_names;
    for (const auto& s : SdxlTensorSpecs(SdxlBaseConfig(), DType::kF16)) sgm_names.insert(s.name);
    const std::string u = kUnetPrefix;
    const std::vector<std::pair<std::string, std::string>> unet_pairs = {
        {u + "input_blocks.0.0.weight", "conv_in.weight"},
        {u + "input_blocks.3.0.op.weight", "down_blocks.0.downsamplers.0.conv.weight"},
        {u + "input_blocks.4.0.skip_connection.weight", "down_blocks.1.resnets.0.conv_shortcut.weight"},
        {u + "input_blocks.4.1.proj_in.weight", "down_blocks.1.attentions.0.proj_in.weight"},
        {u + "input_blocks.8.1.transformer_blocks.9.ff.net.2.bias",
         "down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2.bias"},
        {u + "middle_block.2.out_layers.3.weight", "mid_block.resnets.1.conv2.weight"},
        {u + "middle_block.1.norm.weight", "mid_block.attentions.0.norm.weight"},
        {u + "output_blocks.2.2.conv.weight", "up_blocks.0.upsamplers.0.conv.weight"},
        {u + "output_blocks.5.2.conv.bias", "up_blocks.1.upsamplers.0.conv.bias"},
        {u + "output_blocks.4.0.emb_layers.1.weight", "up_blocks.1.resnets.1.time_emb_proj.weight"},
        {u + "output_blocks.8.0.in_layers.0.weight", "up_blocks.2.resnets.2.norm1.weight"},
        {u + "label_emb.0.2.weight", "add_embedding.linear_2.weight"},
        {u + "out.2.bias", "conv_out.bias"}};
    std::set<std::string> diffusers_names;
    for (const auto& name : sgm_names) {
        if (name.rfind(u, 0) == 0) diffusers_names.insert(SgmUnetToDiffusers(name, sgm_names));
    }
    for (const auto& [sgm, diffusers] : unet_pairs) {
        EXPECT_EQ(SgmUnetToDiffusers(sgm, sgm_names), diffusers);
        EXPECT_EQ(DiffusersUnetToSgm(diffusers, diffusers_names), sgm);
    }
    const std::string v = kVaePrefix;
    const std::vector<std::pair<std::string, std::string>> vae_pairs = {
        {v + "encoder.down.1.block.0.nin_shortcut.weight", "encoder.down_blocks.1.resnets.0.conv_shortcut.weight"},
        {v + "encoder.down.2.downsample.conv.weight", "encoder.down_blocks.2.downsamplers.0.conv.weight"},
        {v + "encoder.mid.attn_1.proj_out.weight", "encoder.mid_block.attentions.0.to_out.0.weight"},
        {v + "decoder.mid.block_2.norm1.bias", "decoder.mid_block.resnets.1.norm1.bias"},
        {v + "decoder.up.3.block.0.conv1.weight", "decoder.up_blocks.0.resnets.0.conv1.weight"},
        {v + "decoder.up.1.upsample.conv.weight", "decoder.up_blocks.2.upsamplers.0.conv.weight"},
        {v + "decoder.norm_out.weight", "decoder.conv_norm_out.weight"},
        {v + "post_quant_conv.weight", "post_quant_conv.weight"}};
    for (const auto& [sgm, diffusers] : vae_pairs) {
        EXPECT_EQ(SgmVaeToDiffusers(sgm, 4), diffusers);
        EXPECT_EQ(DiffusersVaeToSgm(diffusers, 4), sgm);
    }
    EXPECT_EQ(DiffusersVaeToSgm("encoder.mid_block.attentions.0.query.weight", 4),
              v + "encoder.mid.attn_1.q.weight");  // old names
    int round_trips = 0;
    for (const auto& name : sgm_names) {
        if (name.rfind(u, 0) == 0) {
            EXPECT_EQ(DiffusersUnetToSgm(SgmUnetToDiffusers(name, sgm_names), diffusers_names), name);
            ++round_trips;
        } else if (name.rfind(v, 0) == 0) {
            EXPECT_EQ(DiffusersVaeToSgm(SgmVaeToDiffusers(name, 4), 4), name);
            ++round_trips;
        }
    }
    EXPECT_EQ(round_trips, 1680 + 248);
}

std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(TinyModelTest, WritesADeterministicValidCheckpoint) {
    TempDir a("tiny-a"), b("tiny-b");
    auto path_a = WriteTinySdxlModel(a.path().string());
    auto path_b = WriteTinySdxlModel(b.path().string());
    ASSERT_TRUE(path_a.has_value()) << path_a.error().message;
    ASSERT_TRUE(path_b.has_value());
    EXPECT_EQ(ReadAll(*path_a), ReadAll(*path_b));
    EXPECT_EQ(ReadAll(a.File("vocab.json")), ReadAll(b.File("vocab.json")));
    EXPECT_EQ(ReadAll(a.File("merges.txt")), ReadAll(b.File("merges.txt")));
    auto file = SafetensorsFile::Open(*path_a);
    ASSERT_TRUE(file.has_value()) << file.error().message;
    auto config = DetectSdxlConfig((*file)->tensors());
    ASSERT_TRUE(config.has_value()) << config.error().message;
    EXPECT_TRUE(ValidateSdxlTensors((*file)->tensors(), *config));
    EXPECT_LT((*file)->file_size(), 30u << 20);  // tiny: fast to write and load in every test
    // Weights are f16 and finite.
    const TensorInfo* w = (*file)->Find("model.diffusion_model.out.2.weight");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->dtype, DType::kF16);
    std::uint16_t h;
    std::memcpy(&h, (*file)->Data(*w), 2);
    EXPECT_TRUE(std::isfinite(HalfToFloat(h)));
}

}  // namespace
}  // namespace labhouse::engine
