// SDXL VAE (AutoencoderKL), mirroring generative-models `sgm/modules/diffusionmodules/model.py`
// (Encoder, Decoder, ResnetBlock, AttnBlock, Downsample with right/bottom padding); sdxl-reference.md
// section 5. It always runs in float32 (the SDXL VAE overflows in fp16: section 5.3, diffusers
// force_upcast), whatever the compute dtype of the rest.
#include <stdexcept>

#include "labhouse/engine/internal/tiling.h"
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
        const at::Tensor bias = F32(w(std::string(name) + ".bias"));
        // On the CPU the engine's Linear (oneDNN, torch_common.h); elsewhere ATen's.
        return in.is_cpu() && weight.is_cpu() ? LinearFromStored(in, weight.contiguous(), bias)
                                              : at::linear(in, weight, bias);
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

at::Tensor TiledApply(const at::Tensor& x, std::int64_t max_tile, std::int64_t min_overlap, std::int64_t scale_num,
                      std::int64_t scale_den, const std::function<at::Tensor(const at::Tensor&)>& fn) {
    if (x.dim() != 4) throw std::invalid_argument("TiledApply needs a [B, C, H, W] tensor");
    auto plan = [&](std::int64_t length) {
        auto axis = PlanTileAxis(length, max_tile, min_overlap, scale_den);
        if (!axis) throw std::invalid_argument(axis.error().message);
        return *axis;
    };
    const TileAxis rows = plan(x.size(2)), cols = plan(x.size(3));
    if (rows.starts.size() == 1 && cols.starts.size() == 1) return fn(x);  // one tile: exactly the untiled result
    const auto out = [&](std::int64_t v) { return v * scale_num / scale_den; };
    const std::vector<std::vector<float>> row_weights = TileBlendWeights(rows, scale_num, scale_den);
    const std::vector<std::vector<float>> col_weights = TileBlendWeights(cols, scale_num, scale_den);
    at::Tensor result;  // allocated once the first tile gives the output's channels and dtype
    for (std::size_t r = 0; r < rows.starts.size(); ++r) {
        for (std::size_t c = 0; c < cols.starts.size(); ++c) {
            const at::Tensor tile = fn(x.narrow(2, rows.starts[r], rows.size).narrow(3, cols.starts[c], cols.size));
            if (tile.dim() != 4 || tile.size(0) != x.size(0) || tile.size(2) != out(rows.size) ||
                tile.size(3) != out(cols.size)) {
                throw std::invalid_argument("TiledApply: a tile's output has the wrong shape");
            }
            if (!result.defined()) {
                result = at::zeros({x.size(0), tile.size(1), out(x.size(2)), out(x.size(3))}, tile.options());
            }
            // Separable weights: a row ramp times a column ramp; both are partitions of one, so is the product.
            const auto float_opts = at::TensorOptions().dtype(at::kFloat);
            at::Tensor wy = at::from_blob(const_cast<float*>(row_weights[r].data()), {1, 1, out(rows.size), 1},
                                          float_opts).to(tile.options());
            at::Tensor wx = at::from_blob(const_cast<float*>(col_weights[c].data()), {1, 1, 1, out(cols.size)},
                                          float_opts).to(tile.options());
            result.narrow(2, out(rows.starts[r]), out(rows.size))
                .narrow(3, out(cols.starts[c]), out(cols.size))
                .add_(tile * (wy * wx));  // not in place: fn may return a view of x
        }
    }
    return result;
}

at::Tensor RunVaeEncoderTiled(const WeightStore& weights, const VaeConfig& config, const at::Tensor& image,
                              const VaeTiling& tiling) {
    if (!tiling.enabled()) return RunVaeEncoder(weights, config, image);
    const int f = config.downscale();
    // Pixel tiles on the latent grid (granularity f), so each maps to whole latents.
    return TiledApply(image, tiling.tile, tiling.overlap, 1, f,
                      [&](const at::Tensor& tile) { return RunVaeEncoder(weights, config, tile); });
}

at::Tensor RunVaeDecoderTiled(const WeightStore& weights, const VaeConfig& config, const at::Tensor& z,
                              const VaeTiling& tiling) {
    if (!tiling.enabled()) return RunVaeDecoder(weights, config, z);
    const int f = config.downscale();
    return TiledApply(z, tiling.tile / f, tiling.overlap / f, f, 1,
                      [&](const at::Tensor& tile) { return RunVaeDecoder(weights, config, tile); });
}

at::Tensor RunVaeResnetBlock(const W& w, const at::Tensor& x) {
    return ResnetBlock(w, x);
}

}  // namespace labhouse::engine
