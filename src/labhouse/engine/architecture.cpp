// Mirrors generative-models `UNetModel.__init__` (openaimodel.py) for the block plan, open_clip /
// Hugging Face CLIP names for the text encoders and sgm `model.py` Encoder/Decoder for the VAE;
// detection follows sd.cpp `unet.hpp` (sizes from shapes). sdxl-reference.md sections 2.2, 2.6, 2.7,
// 3.5, 5.2, 5.4.
#include "labhouse/engine/architecture.h"

#include <functional>
#include <set>
#include <sstream>

namespace labhouse::engine {
namespace {

using Shape = std::vector<std::int64_t>;
using Specs = std::vector<TensorSpec>;

class SpecBuilder {
public:
    SpecBuilder(Specs* out, std::string prefix, DType dtype) : out_(out), prefix_(std::move(prefix)), dtype_(dtype) {}
    void Add(const std::string& name, Shape shape) { out_->push_back({prefix_ + name, dtype_, std::move(shape)}); }
    void Linear(const std::string& name, std::int64_t out, std::int64_t in, bool bias = true) {
        Add(name + ".weight", {out, in});
        if (bias) Add(name + ".bias", {out});
    }
    void Conv(const std::string& name, std::int64_t out, std::int64_t in, std::int64_t k) {
        Add(name + ".weight", {out, in, k, k});
        Add(name + ".bias", {out});
    }
    void Norm(const std::string& name, std::int64_t c) {
        Add(name + ".weight", {c});
        Add(name + ".bias", {c});
    }

private:
    Specs* out_;
    std::string prefix_;
    DType dtype_;
};

void UnetResBlockSpecs(SpecBuilder& b, const std::string& p, int in, int out, int emb) {
    b.Norm(p + ".in_layers.0", in);
    b.Conv(p + ".in_layers.2", out, in, 3);
    b.Linear(p + ".emb_layers.1", out, emb);
    b.Norm(p + ".out_layers.0", out);
    b.Conv(p + ".out_layers.3", out, out, 3);
    if (in != out) b.Conv(p + ".skip_connection", out, in, 1);
}

void SpatialTransformerSpecs(SpecBuilder& b, const std::string& p, int c, int depth, int context) {
    b.Norm(p + ".norm", c);
    b.Linear(p + ".proj_in", c, c);
    for (int k = 0; k < depth; ++k) {
        const std::string t = p + ".transformer_blocks." + std::to_string(k);
        for (const char* attn : {".attn1", ".attn2"}) {
            const int kv_in = std::string(attn) == ".attn1" ? c : context;
            b.Linear(t + attn + ".to_q", c, c, false);
            b.Linear(t + attn + ".to_k", c, kv_in, false);
            b.Linear(t + attn + ".to_v", c, kv_in, false);
            b.Linear(t + attn + ".to_out.0", c, c);
        }
        b.Linear(t + ".ff.net.0.proj", 8 * c, c);
        b.Linear(t + ".ff.net.2", c, 4 * c);
        b.Norm(t + ".norm1", c);
        b.Norm(t + ".norm2", c);
        b.Norm(t + ".norm3", c);
    }
    b.Linear(p + ".proj_out", c, c);
}

void UnetSpecs(Specs* out, const UnetConfig& c, DType dtype) {
    SpecBuilder b(out, kUnetPrefix, dtype);
    b.Linear("time_embed.0", c.time_embed_dim, c.model_channels);
    b.Linear("time_embed.2", c.time_embed_dim, c.time_embed_dim);
    b.Linear("label_emb.0.0", c.time_embed_dim, c.adm_in_channels);
    b.Linear("label_emb.0.2", c.time_embed_dim, c.time_embed_dim);
    const UnetPlan plan = MakeUnetPlan(c);
    auto block_specs = [&](const UnetBlockPlan& blk) {
        if (blk.conv_in) b.Conv(blk.prefix + ".0", c.model_channels, c.in_channels, 3);
        if (blk.downsample) b.Conv(blk.prefix + ".0.op", blk.res_out, blk.res_out, 3);
        if (blk.res_in > 0 && !blk.downsample)
            UnetResBlockSpecs(b, blk.prefix + ".0", blk.res_in, blk.res_out, c.time_embed_dim);
        if (blk.st_depth > 0) SpatialTransformerSpecs(b, blk.prefix + ".1", blk.res_out, blk.st_depth, c.context_dim);
        if (blk.upsample) b.Conv(blk.prefix + (blk.st_depth > 0 ? ".2" : ".1") + ".conv", blk.res_out, blk.res_out, 3);
    };
    for (const auto& blk : plan.input) block_specs(blk);
    UnetResBlockSpecs(b, "middle_block.0", plan.mid_channels, plan.mid_channels, c.time_embed_dim);
    SpatialTransformerSpecs(b, "middle_block.1", plan.mid_channels, c.mid_depth, c.context_dim);
    UnetResBlockSpecs(b, "middle_block.2", plan.mid_channels, plan.mid_channels, c.time_embed_dim);
    for (const auto& blk : plan.output) block_specs(blk);
    b.Norm("out.0", c.model_channels);
    b.Conv("out.2", c.out_channels, c.model_channels, 3);
}

void ClipSpecs(Specs* out, const ClipTextConfig& c, DType dtype) {
    if (!c.open_clip_names) {
        SpecBuilder b(out, kClipLPrefix, dtype);
        b.Add("embeddings.token_embedding.weight", {c.vocab, c.width});
        b.Add("embeddings.position_embedding.weight", {c.positions, c.width});
        for (int k = 0; k < c.layers; ++k) {
            const std::string l = "encoder.layers." + std::to_string(k);
            for (const char* proj :
                 {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.out_proj"}) {
                b.Linear(l + proj, c.width, c.width);
            }
            b.Norm(l + ".layer_norm1", c.width);
            b.Norm(l + ".layer_norm2", c.width);
            b.Linear(l + ".mlp.fc1", c.mlp, c.width);
            b.Linear(l + ".mlp.fc2", c.width, c.mlp);
        }
        b.Norm("final_layer_norm", c.width);
        return;
    }
    SpecBuilder b(out, kClipGPrefix, dtype);
    b.Add("token_embedding.weight", {c.vocab, c.width});
    b.Add("positional_embedding", {c.positions, c.width});
    for (int k = 0; k < c.layers; ++k) {
        const std::string l = "transformer.resblocks." + std::to_string(k);
        b.Norm(l + ".ln_1", c.width);
        b.Add(l + ".attn.in_proj_weight", {3 * c.width, c.width});
        b.Add(l + ".attn.in_proj_bias", {3 * c.width});
        b.Linear(l + ".attn.out_proj", c.width, c.width);
        b.Norm(l + ".ln_2", c.width);
        b.Linear(l + ".mlp.c_fc", c.mlp, c.width);
        b.Linear(l + ".mlp.c_proj", c.width, c.mlp);
    }
    b.Norm("ln_final", c.width);
    b.Add("text_projection", {c.width, c.projection_dim});
}

void VaeResSpecs(SpecBuilder& b, const std::string& p, int in, int out) {
    b.Norm(p + ".norm1", in);
    b.Conv(p + ".conv1", out, in, 3);
    b.Norm(p + ".norm2", out);
    b.Conv(p + ".conv2", out, out, 3);
    if (in != out) b.Conv(p + ".nin_shortcut", out, in, 1);
}

void VaeMidSpecs(SpecBuilder& b, const std::string& p, int c, bool linear_attention) {
    VaeResSpecs(b, p + ".mid.block_1", c, c);
    b.Norm(p + ".mid.attn_1.norm", c);
    for (const char* n : {".q", ".k", ".v", ".proj_out"}) {
        if (linear_attention) {
            b.Linear(p + ".mid.attn_1" + n, c, c);
        } else {
            b.Conv(p + ".mid.attn_1" + n, c, c, 1);
        }
    }
    VaeResSpecs(b, p + ".mid.block_2", c, c);
}

void VaeSpecs(Specs* out, const VaeConfig& c, DType dtype) {
    SpecBuilder b(out, kVaePrefix, dtype);
    const int levels = static_cast<int>(c.ch_mult.size());
    b.Conv("encoder.conv_in", c.ch, c.in_channels, 3);
    int block_in = c.ch;
    for (int i = 0; i < levels; ++i) {
        const int block_out = c.ch * c.ch_mult[i];
        for (int j = 0; j < c.num_res_blocks; ++j) {
            VaeResSpecs(b, "encoder.down." + std::to_string(i) + ".block." + std::to_string(j), block_in, block_out);
            block_in = block_out;
        }
        if (i != levels - 1) b.Conv("encoder.down." + std::to_string(i) + ".downsample.conv", block_in, block_in, 3);
    }
    VaeMidSpecs(b, "encoder", block_in, c.linear_attention);
    b.Norm("encoder.norm_out", block_in);
    b.Conv("encoder.conv_out", 2 * c.z_channels, block_in, 3);
    b.Conv("quant_conv", 2 * c.z_channels, 2 * c.z_channels, 1);
    b.Conv("post_quant_conv", c.z_channels, c.z_channels, 1);
    block_in = c.ch * c.ch_mult.back();
    b.Conv("decoder.conv_in", block_in, c.z_channels, 3);
    VaeMidSpecs(b, "decoder", block_in, c.linear_attention);
    for (int i = levels - 1; i >= 0; --i) {
        const int block_out = c.ch * c.ch_mult[i];
        for (int j = 0; j < c.num_res_blocks + 1; ++j) {
            VaeResSpecs(b, "decoder.up." + std::to_string(i) + ".block." + std::to_string(j), block_in, block_out);
            block_in = block_out;
        }
        if (i != 0) b.Conv("decoder.up." + std::to_string(i) + ".upsample.conv", block_in, block_in, 3);
    }
    b.Norm("decoder.norm_out", block_in);
    b.Conv("decoder.conv_out", c.out_channels, block_in, 3);
}

// Lookup helper for detection.
class Probe {
public:
    explicit Probe(const std::map<std::string, TensorInfo>& t) : t_(t) {}
    bool Has(const std::string& name) const { return t_.count(name) != 0; }
    const TensorInfo* Find(const std::string& name) const {
        auto it = t_.find(name);
        return it == t_.end() ? nullptr : &it->second;
    }
    Result<Shape> Get(const std::string& name, std::size_t rank, const char* part) const {
        auto it = t_.find(name);
        if (it == t_.end())
            return InvalidArgument(std::string("cannot detect the ") + part + " layout: missing tensor '" + name + "'");
        if (it->second.shape.size() != rank) {
            return InvalidArgument(std::string("cannot detect the ") + part + " layout: tensor '" + name +
                                   "' has shape " + ShapeString(it->second.shape) + ", expected rank " +
                                   std::to_string(rank));
        }
        return it->second.shape;
    }
    int Count(const std::function<std::string(int)>& name_of) const {
        int n = 0;
        while (Has(name_of(n))) ++n;
        return n;
    }

private:
    const std::map<std::string, TensorInfo>& t_;
};

Result<ClipTextConfig> DetectClip(const Probe& p, bool open_clip) {
    ClipTextConfig c;
    c.open_clip_names = open_clip;
    const std::string pre = open_clip ? kClipGPrefix : kClipLPrefix;
    const char* part = open_clip ? "OpenCLIP bigG text encoder" : "CLIP-L text encoder";
    LABHOUSE_ASSIGN_OR_RETURN(
        Shape tok, p.Get(pre + (open_clip ? "token_embedding.weight" : "embeddings.token_embedding.weight"), 2, part));
    LABHOUSE_ASSIGN_OR_RETURN(
        Shape pos, p.Get(pre + (open_clip ? "positional_embedding" : "embeddings.position_embedding.weight"), 2, part));
    c.vocab = static_cast<int>(tok[0]);
    c.width = static_cast<int>(tok[1]);
    c.positions = static_cast<int>(pos[0]);
    if (open_clip) {
        c.layers =
            p.Count([&](int k) { return pre + "transformer.resblocks." + std::to_string(k) + ".attn.in_proj_weight"; });
        LABHOUSE_ASSIGN_OR_RETURN(Shape fc, p.Get(pre + "transformer.resblocks.0.mlp.c_fc.weight", 2, part));
        LABHOUSE_ASSIGN_OR_RETURN(Shape proj, p.Get(pre + "text_projection", 2, part));
        c.mlp = static_cast<int>(fc[0]);
        c.projection_dim = static_cast<int>(proj[1]);
    } else {
        c.layers =
            p.Count([&](int k) { return pre + "encoder.layers." + std::to_string(k) + ".self_attn.q_proj.weight"; });
        LABHOUSE_ASSIGN_OR_RETURN(Shape fc, p.Get(pre + "encoder.layers.0.mlp.fc1.weight", 2, part));
        c.mlp = static_cast<int>(fc[0]);
    }
    if (c.layers < 2) return InvalidArgument(std::string(part) + ": need at least 2 layers (penultimate output)");
    if (c.width % kHeadDim != 0)
        return InvalidArgument(std::string(part) + ": width " + std::to_string(c.width) + " is not a multiple of 64");
    if (c.positions < 77) return InvalidArgument(std::string(part) + ": fewer than 77 positions");
    return c;
}

Result<UnetConfig> DetectUnet(const Probe& p) {
    const char* part = "UNet";
    const std::string pre = kUnetPrefix;
    UnetConfig c;
    LABHOUSE_ASSIGN_OR_RETURN(Shape conv_in, p.Get(pre + "input_blocks.0.0.weight", 4, part));
    LABHOUSE_ASSIGN_OR_RETURN(Shape time, p.Get(pre + "time_embed.0.weight", 2, part));
    LABHOUSE_ASSIGN_OR_RETURN(Shape label, p.Get(pre + "label_emb.0.0.weight", 2, part));
    LABHOUSE_ASSIGN_OR_RETURN(Shape out, p.Get(pre + "out.2.weight", 4, part));
    c.model_channels = static_cast<int>(conv_in[0]);
    c.in_channels = static_cast<int>(conv_in[1]);
    c.time_embed_dim = static_cast<int>(time[0]);
    c.adm_in_channels = static_cast<int>(label[1]);
    c.out_channels = static_cast<int>(out[0]);
    // Walk input_blocks: ResBlocks (`.0.in_layers.2`) until a Downsample (`.0.op`) closes a level.
    int nrb = 0;
    int depth = 0;
    for (int i = 1;; ++i) {
        const std::string blk = pre + "input_blocks." + std::to_string(i);
        if (p.Has(blk + ".0.op.weight") || !p.Has(blk + ".0.in_layers.2.weight")) {
            if (nrb == 0) break;
            c.num_res_blocks.push_back(nrb);
            c.transformer_depth.push_back(depth);
            nrb = 0;
            depth = 0;
            if (!p.Has(blk + ".0.op.weight")) break;
            continue;
        }
        LABHOUSE_ASSIGN_OR_RETURN(Shape conv, p.Get(blk + ".0.in_layers.2.weight", 4, part));
        if (nrb == 0) {
            if (conv[0] % c.model_channels != 0)
                return InvalidArgument("UNet: channels not a multiple of model_channels at " + blk);
            c.channel_mult.push_back(static_cast<int>(conv[0] / c.model_channels));
            depth = p.Count(
                [&](int k) { return blk + ".1.transformer_blocks." + std::to_string(k) + ".attn1.to_q.weight"; });
        }
        ++nrb;
    }
    if (c.channel_mult.empty()) return InvalidArgument("cannot detect the UNet layout: no ResBlock in input_blocks");
    c.mid_depth = p.Count(
        [&](int k) { return pre + "middle_block.1.transformer_blocks." + std::to_string(k) + ".attn1.to_q.weight"; });
    if (c.mid_depth == 0)
        return InvalidArgument("cannot detect the UNet layout: missing tensor '" + pre +
                               "middle_block.1.transformer_blocks.0.attn1.to_q.weight'");
    LABHOUSE_ASSIGN_OR_RETURN(Shape k, p.Get(pre + "middle_block.1.transformer_blocks.0.attn2.to_k.weight", 2, part));
    c.context_dim = static_cast<int>(k[1]);
    for (std::size_t l = 0; l < c.channel_mult.size(); ++l) {
        const int ch = c.model_channels * c.channel_mult[l];
        if (ch % 32 != 0 || (c.transformer_depth[l] > 0 && ch % kHeadDim != 0)) {
            return InvalidArgument("UNet: level " + std::to_string(l) + " has " + std::to_string(ch) +
                                   " channels (must be a multiple of 32, and of 64 with attention)");
        }
    }
    return c;
}

Result<VaeConfig> DetectVae(const Probe& p) {
    const char* part = "VAE";
    const std::string pre = kVaePrefix;
    VaeConfig c;
    LABHOUSE_ASSIGN_OR_RETURN(Shape conv_in, p.Get(pre + "encoder.conv_in.weight", 4, part));
    LABHOUSE_ASSIGN_OR_RETURN(Shape dec_in, p.Get(pre + "decoder.conv_in.weight", 4, part));
    LABHOUSE_ASSIGN_OR_RETURN(Shape dec_out, p.Get(pre + "decoder.conv_out.weight", 4, part));
    c.ch = static_cast<int>(conv_in[0]);
    c.in_channels = static_cast<int>(conv_in[1]);
    c.z_channels = static_cast<int>(dec_in[1]);
    c.out_channels = static_cast<int>(dec_out[0]);
    const int levels =
        p.Count([&](int i) { return pre + "encoder.down." + std::to_string(i) + ".block.0.conv1.weight"; });
    if (levels == 0)
        return InvalidArgument("cannot detect the VAE layout: missing tensor '" + pre +
                               "encoder.down.0.block.0.conv1.weight'");
    for (int i = 0; i < levels; ++i) {
        LABHOUSE_ASSIGN_OR_RETURN(Shape conv,
                                  p.Get(pre + "encoder.down." + std::to_string(i) + ".block.0.conv1.weight", 4, part));
        c.ch_mult.push_back(static_cast<int>(conv[0] / c.ch));
    }
    c.num_res_blocks =
        p.Count([&](int j) { return pre + "encoder.down.0.block." + std::to_string(j) + ".conv1.weight"; });
    auto q = p.Find(pre + "encoder.mid.attn_1.q.weight");
    c.linear_attention = q != nullptr && q->shape.size() == 2;
    return c;
}

}  // namespace

UnetPlan MakeUnetPlan(const UnetConfig& c) {
    // generative-models UNetModel.__init__: input side pushes every block's channels; output side
    // pops them; the Upsample index inside an output block is 2 with a transformer, else 1.
    UnetPlan plan;
    const int levels = static_cast<int>(c.channel_mult.size());
    int ch = c.model_channels;
    int index = 0;
    UnetBlockPlan first;
    first.prefix = "input_blocks.0";
    first.conv_in = true;
    first.res_out = ch;
    plan.input.push_back(first);
    plan.skip_channels.push_back(ch);
    for (int level = 0; level < levels; ++level) {
        for (int r = 0; r < c.num_res_blocks[level]; ++r) {
            UnetBlockPlan blk;
            blk.prefix = "input_blocks." + std::to_string(++index);
            blk.res_in = ch;
            blk.res_out = c.model_channels * c.channel_mult[level];
            blk.st_depth = c.transformer_depth[level];
            ch = blk.res_out;
            plan.input.push_back(blk);
            plan.skip_channels.push_back(ch);
        }
        if (level != levels - 1) {
            UnetBlockPlan down;
            down.prefix = "input_blocks." + std::to_string(++index);
            down.downsample = true;
            down.res_in = down.res_out = ch;
            plan.input.push_back(down);
            plan.skip_channels.push_back(ch);
        }
    }
    plan.mid_channels = ch;
    std::vector<int> skips = plan.skip_channels;
    index = 0;
    for (int level = levels - 1; level >= 0; --level) {
        for (int r = 0; r < c.num_res_blocks[level] + 1; ++r) {
            UnetBlockPlan blk;
            blk.prefix = "output_blocks." + std::to_string(index++);
            blk.res_in = ch + skips.back();
            skips.pop_back();
            blk.res_out = c.model_channels * c.channel_mult[level];
            blk.st_depth = c.transformer_depth[level];
            blk.upsample = level != 0 && r == c.num_res_blocks[level];
            ch = blk.res_out;
            plan.output.push_back(blk);
        }
    }
    return plan;
}

Result<SdxlConfig> DetectSdxlConfig(const std::map<std::string, TensorInfo>& tensors) {
    Probe probe(tensors);
    SdxlConfig config;
    LABHOUSE_ASSIGN_OR_RETURN(config.clip_l, DetectClip(probe, false));
    LABHOUSE_ASSIGN_OR_RETURN(config.clip_g, DetectClip(probe, true));
    LABHOUSE_ASSIGN_OR_RETURN(config.unet, DetectUnet(probe));
    LABHOUSE_ASSIGN_OR_RETURN(config.vae, DetectVae(probe));
    if (config.unet.context_dim != config.clip_l.width + config.clip_g.width) {
        return InvalidArgument("UNet cross-attention width " + std::to_string(config.unet.context_dim) +
                               " != CLIP-L width + bigG width (" + std::to_string(config.clip_l.width) + " + " +
                               std::to_string(config.clip_g.width) + ")");
    }
    const int size_part = config.unet.adm_in_channels - config.clip_g.projection_dim;
    if (size_part <= 0 || size_part % 6 != 0 || (size_part / 6) % 2 != 0) {
        return InvalidArgument("UNet label_emb input " + std::to_string(config.unet.adm_in_channels) +
                               " is not pooled (" + std::to_string(config.clip_g.projection_dim) +
                               ") + 6 size embeddings");
    }
    if (config.unet.in_channels != config.vae.z_channels) {
        return InvalidArgument("UNet input channels " + std::to_string(config.unet.in_channels) +
                               " != VAE latent channels " + std::to_string(config.vae.z_channels));
    }
    return config;
}

std::vector<TensorSpec> SdxlTensorSpecs(const SdxlConfig& config, DType dtype) {
    Specs specs;
    ClipSpecs(&specs, config.clip_l, dtype);
    ClipSpecs(&specs, config.clip_g, dtype);
    UnetSpecs(&specs, config.unet, dtype);
    VaeSpecs(&specs, config.vae, dtype);
    return specs;
}

bool IsIgnoredTensor(const std::string& name) {
    return name == std::string(kClipLPrefix) + "embeddings.position_ids" ||
           name == std::string(kClipGPrefix) + "logit_scale" || name == "denoiser.sigmas" ||
           name.rfind("model_ema.", 0) == 0;
}

Status ValidateSdxlTensors(const std::map<std::string, TensorInfo>& tensors, const SdxlConfig& config) {
    std::vector<std::string> missing, misshaped, wrong_dtype, unexpected;
    std::set<std::string> expected;
    for (const auto& spec : SdxlTensorSpecs(config, DType::kF32)) {
        expected.insert(spec.name);
        auto it = tensors.find(spec.name);
        if (it == tensors.end()) {
            missing.push_back(spec.name);
            continue;
        }
        if (it->second.shape != spec.shape) {
            misshaped.push_back(spec.name + " (expected " + ShapeString(spec.shape) + ", found " +
                                ShapeString(it->second.shape) + ")");
        }
        const DType d = it->second.dtype;
        if (d != DType::kF16 && d != DType::kBF16 && d != DType::kF32) {
            wrong_dtype.push_back(spec.name + " (" + std::string(DTypeName(d)) + "; weights must be F16, BF16 or F32)");
        }
    }
    for (const auto& [name, info] : tensors) {
        if (!expected.count(name) && !IsIgnoredTensor(name)) unexpected.push_back(name);
    }
    if (missing.empty() && misshaped.empty() && wrong_dtype.empty() && unexpected.empty()) return OkStatus();
    std::ostringstream msg;
    msg << "checkpoint does not match the SDXL layout detected from its weights:";
    auto list = [&](const char* what, const std::vector<std::string>& names) {
        if (names.empty()) return;
        msg << "\n  " << names.size() << " " << what << ":";
        for (const auto& n : names) msg << "\n    " << n;
    };
    list("missing tensor(s)", missing);
    list("misshaped tensor(s)", misshaped);
    list("tensor(s) with a wrong dtype", wrong_dtype);
    list("unexpected tensor(s)", unexpected);
    return InvalidArgument(msg.str());
}

SdxlConfig SdxlBaseConfig() {
    SdxlConfig c;
    c.clip_l = {false, 49408, 77, 768, 12, 3072, 0};
    c.clip_g = {true, 49408, 77, 1280, 32, 5120, 1280};
    c.unet.in_channels = 4;
    c.unet.out_channels = 4;
    c.unet.model_channels = 320;
    c.unet.time_embed_dim = 1280;
    c.unet.adm_in_channels = 2816;
    c.unet.context_dim = 2048;
    c.unet.channel_mult = {1, 2, 4};
    c.unet.num_res_blocks = {2, 2, 2};
    c.unet.transformer_depth = {0, 2, 10};
    c.unet.mid_depth = 10;
    c.vae.ch = 128;
    c.vae.z_channels = 4;
    c.vae.ch_mult = {1, 2, 4, 4};
    c.vae.num_res_blocks = 2;
    return c;
}

SdxlConfig TinySdxlConfig(int vocab_size) {
    // Same topology as SDXL (3 UNet levels, attention from level 1 on, 4 VAE levels = factor 8),
    // every width at its minimum (heads of 64, GroupNorm of 32).
    SdxlConfig c;
    c.clip_l = {false, vocab_size, 77, 64, 3, 128, 0};
    c.clip_g = {true, vocab_size, 77, 64, 3, 128, 64};
    c.unet.in_channels = 4;
    c.unet.out_channels = 4;
    c.unet.model_channels = 64;
    c.unet.time_embed_dim = 256;
    c.unet.adm_in_channels = 64 + 6 * 16;
    c.unet.context_dim = 128;
    c.unet.channel_mult = {1, 1, 2};
    c.unet.num_res_blocks = {2, 2, 2};
    c.unet.transformer_depth = {0, 1, 2};
    c.unet.mid_depth = 1;
    c.vae.ch = 32;
    c.vae.z_channels = 4;
    c.vae.ch_mult = {1, 1, 2, 2};
    c.vae.num_res_blocks = 1;
    return c;
}

std::string ShapeString(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace labhouse::engine
