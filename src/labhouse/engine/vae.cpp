// SDXL VAE (AutoencoderKL), mirroring generative-models `sgm/modules/diffusionmodules/model.py`
// (Encoder, Decoder, ResnetBlock, AttnBlock, Downsample with right/bottom padding); sdxl-reference.md
// section 5. It always runs in float32 (the SDXL VAE overflows in fp16: section 5.3, diffusers
// force_upcast), whatever the compute dtype of the rest.
#include "labhouse/engine/internal/torch_common.h"

namespace labhouse::engine {
namespace {

at::Tensor F32(const at::Tensor& t) {
    return t.to(at::kFloat);
}

at::Tensor Conv32(const W& w, const std::string& name, const at::Tensor& x, int stride = 1, int padding = -1) {
    at::Tensor weight = F32(w(name + ".weight"));
    if (padding < 0) padding = static_cast<int>(weight.size(2) / 2);
    return at::conv2d(x, weight, F32(w(name + ".bias")), {stride, stride}, {padding, padding});
}

at::Tensor NormSwish(const W& w, const std::string& name, const at::Tensor& x) {
    return GroupNormAct(x, w(name + ".weight"), w(name + ".bias"), 1e-6, true);
}

at::Tensor ResnetBlock(const W& w, const at::Tensor& x) {
    at::Tensor h = Conv32(w, "conv1", NormSwish(w, "norm1", x));
    h = Conv32(w, "conv2", NormSwish(w, "norm2", h));
    return h.add_(x.size(1) != h.size(1) ? Conv32(w, "nin_shortcut", x) : x);
}

at::Tensor AttnBlock(const W& w, const at::Tensor& x, bool linear) {
    // Single-head attention over H*W tokens, scale C^-0.5; q/k/v/proj_out are 1x1 convs (or Linear).
    const auto b = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3);
    at::Tensor h = GroupNormAct(x, w("norm.weight"), w("norm.bias"), 1e-6, false);
    h = h.permute({0, 2, 3, 1}).reshape({b, hgt * wid, c});  // [B, N, C], a view when channels-last
    auto proj = [&](const char* name, const at::Tensor& in) {
        at::Tensor weight = F32(w(std::string(name) + ".weight"));
        if (!linear) weight = weight.view({weight.size(0), weight.size(1)});
        return at::linear(in, weight, F32(w(std::string(name) + ".bias")));
    };
    at::Tensor q = proj("q", h).unsqueeze(1), k = proj("k", h).unsqueeze(1), v = proj("v", h).unsqueeze(1);
    at::Tensor a = proj("proj_out", Attention(q, k, v));
    return a.reshape({b, hgt, wid, c}).permute({0, 3, 1, 2}).add_(x);
}

at::Tensor Mid(const W& w, const at::Tensor& x, bool linear) {
    at::Tensor h = ResnetBlock(w.Sub("mid.block_1"), x);
    h = AttnBlock(w.Sub("mid.attn_1"), h, linear);
    return ResnetBlock(w.Sub("mid.block_2"), h);
}

}  // namespace

at::Tensor RunVaeEncoder(const WeightStore& weights, const VaeConfig& config, const at::Tensor& image) {
    const W root = weights.Under(kVaePrefix);
    const W w = root.Sub("encoder");
    const int levels = static_cast<int>(config.ch_mult.size());
    // Channels-last throughout: oneDNN's NHWC convolutions ran 1.4-2x faster than NCHW at VAE sizes.
    at::Tensor h = Conv32(w, "conv_in", F32(image).contiguous(at::MemoryFormat::ChannelsLast));
    for (int i = 0; i < levels; ++i) {
        const W level = w.Sub("down." + std::to_string(i));
        for (int j = 0; j < config.num_res_blocks; ++j) h = ResnetBlock(level.Sub("block." + std::to_string(j)), h);
        if (i != levels - 1) {
            h = at::constant_pad_nd(h, {0, 1, 0, 1}, 0);  // right/bottom only, then stride 2 without padding
            h = Conv32(level, "downsample.conv", h, 2, 0);
        }
    }
    h = Mid(w, h, config.linear_attention);
    h = Conv32(w, "conv_out", NormSwish(w, "norm_out", h));
    return Conv32(root, "quant_conv", h).contiguous();
}

at::Tensor RunVaeDecoder(const WeightStore& weights, const VaeConfig& config, const at::Tensor& z) {
    const W root = weights.Under(kVaePrefix);
    const W w = root.Sub("decoder");
    const int levels = static_cast<int>(config.ch_mult.size());
    at::Tensor h = Conv32(root, "post_quant_conv", F32(z).contiguous(at::MemoryFormat::ChannelsLast));
    h = Conv32(w, "conv_in", h);
    h = Mid(w, h, config.linear_attention);
    for (int i = levels - 1; i >= 0; --i) {
        const W level = w.Sub("up." + std::to_string(i));
        for (int j = 0; j < config.num_res_blocks + 1; ++j) h = ResnetBlock(level.Sub("block." + std::to_string(j)), h);
        if (i != 0) {
            h = at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2});
            h = Conv32(level, "upsample.conv", h);
        }
    }
    return Conv32(w, "conv_out", NormSwish(w, "norm_out", h)).contiguous();
}

at::Tensor RunVaeResnetBlock(const W& w, const at::Tensor& x) {
    return ResnetBlock(w, x);
}

}  // namespace labhouse::engine
