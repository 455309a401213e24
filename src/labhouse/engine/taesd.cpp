// TAESD(XL) decoder forward pass (layer list: taesd_architecture.h). Runs in fp32 on channels-last
// activations like the VAE: all of its work is 64-channel 3x3 convolutions, which oneDNN does in NHWC
// without reorders.
#include "labhouse/engine/internal/tiling.h"
#include "labhouse/engine/internal/torch_common.h"
#include "labhouse/engine/taesd_architecture.h"

namespace labhouse::engine {
namespace {

at::Tensor Conv3x3(const W& w, const std::string& name, const at::Tensor& x, bool bias) {
    return at::conv2d(x, w(name + ".weight"), bias ? w(name + ".bias") : at::Tensor(), {1, 1}, {1, 1});
}

}  // namespace

at::Tensor RunTaesdDecoder(const WeightStore& weights, const TaesdDecoderLayout& layout, const at::Tensor& latent) {
    using K = TaesdLayer::Kind;
    const W w = weights.Under("");
    // The input clamp, tanh(x / 3) * 3: keeps out-of-range latents (early steps) from blowing up.
    at::Tensor h = at::tanh(latent.to(at::kFloat) / 3.0).mul_(3.0).contiguous(at::MemoryFormat::ChannelsLast);
    const std::vector<TaesdLayer> layers = TaesdDecoderLayers(layout);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string name = layout.Name(i);
        switch (layers[i].kind) {
            case K::kConv:
                h = Conv3x3(w, name, h, layers[i].bias);
                break;
            case K::kRelu:
                h = h.relu_();
                break;
            case K::kBlock: {
                at::Tensor r = Conv3x3(w, name + ".conv.0", h, true).relu_();
                r = Conv3x3(w, name + ".conv.2", r, true).relu_();
                h = Conv3x3(w, name + ".conv.4", r, true).add_(h).relu_();
                break;
            }
            case K::kUpsample:
                h = at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2});
                break;
        }
    }
    return h.contiguous();  // [B, 3, 8h, 8w], about [0, 1]
}

at::Tensor RunTaesdDecoderTiled(const WeightStore& weights, const TaesdDecoderLayout& layout, const at::Tensor& latent,
                                const VaeTiling& tiling) {
    if (!tiling.enabled()) return RunTaesdDecoder(weights, layout, latent);
    constexpr int kScale = 8;  // three x2 upsamplings
    return TiledApply(latent, tiling.tile / kScale, tiling.overlap / kScale, kScale, 1,
                      [&](const at::Tensor& tile) { return RunTaesdDecoder(weights, layout, tile); });
}

}  // namespace labhouse::engine
