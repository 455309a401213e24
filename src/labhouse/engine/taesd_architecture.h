// TAESDXL, the tiny SDXL autoencoder (madebyollin/taesd, ~2.4 M parameters per half): a decoder that
// turns the diffusion latents straight into pixels at ~1/20 of the SDXL VAE's arithmetic, for
// per-step previews and, when asked, fast finals. Only the decoder is used.
//
// Its layer list, shared by validation, the forward pass (taesd.cpp), the random-weight writer and
// the benchmark's FLOP count. Two file layouts hold the same layers:
//   - diffusers `AutoencoderTiny` (madebyollin/taesdxl diffusion_pytorch_model.safetensors):
//     `decoder.layers.N.*`, N from 0, the input clamp tanh(x / 3) * 3 applied outside the list and
//     the output mapped to [-1, 1] by x * 2 - 1;
//   - the original `Decoder` nn.Sequential (taesdxl_decoder.safetensors): `N.*` with the clamp as
//     layer 0, so every index is one higher; output in [0, 1].
// Either way the engine returns pixels in [0, 1]. The input is the sampler's latent as it is (the
// SDXL VAE scale factor is already in it: TAESD shares the VAE's "latent API"). No torch here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/engine/safetensors.h"

namespace labhouse::engine {

struct TaesdLayer {
    enum class Kind {
        kConv,      // 3x3, padding 1; `.weight` (+ `.bias` when `bias`)
        kRelu,      // no tensors
        kBlock,     // relu(conv.4(relu(conv.2(relu(conv.0(x))))) + x): three biased 3x3 convs, in == out
        kUpsample,  // nearest, x2; no tensors
    };
    Kind kind = Kind::kRelu;
    int in = 0;
    int out = 0;
    bool bias = true;
};

struct TaesdDecoderLayout {
    std::string prefix;        // "decoder.layers." (diffusers) or "" (original)
    int first_index = 0;       // 0 (diffusers) or 1 (original: the clamp is layer 0)
    int latent_channels = 4;   // 4 for SDXL
    int width = 64;            // the decoder's channel count
    std::string Name(std::size_t layer) const { return prefix + std::to_string(first_index + layer); }
};

// The decoder after its input clamp: conv(latent -> width), relu, 3 x (3 blocks, upsample, conv
// without bias), 1 block, conv(width -> 3).
std::vector<TaesdLayer> TaesdDecoderLayers(const TaesdDecoderLayout& layout);
std::vector<TensorSpec> TaesdDecoderSpecs(const TaesdDecoderLayout& layout, DType dtype);

// Finds the layout and sizes from the names and shapes, then checks every tensor the decoder needs
// (one error lists all missing or misshaped ones). A diffusers file's `encoder.*` is ignored.
Result<TaesdDecoderLayout> DetectTaesdDecoder(const std::map<std::string, TensorInfo>& tensors);

// Multiply-adds x 2 of one decode of an h x w latent (batch 1).
double TaesdDecoderFlops(const TaesdDecoderLayout& layout, int latent_h, int latent_w);

// Random weights in the diffusers layout (decoder only), fan-in scaled like the SDXL writer's.
Status WriteRandomTaesdDecoder(const std::string& path, DType dtype, std::uint64_t seed);

}  // namespace labhouse::engine
