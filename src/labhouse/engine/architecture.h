// SDXL architecture description: sizes detected from the weights, the block plan of the UNet, and
// the complete list of tensors each part must have (sdxl-reference.md sections 1, 2, 3.5, 5.4).
// The same lists drive checkpoint validation, the forward passes and the random-weight writers,
// so a tiny model and the full-size model go through exactly the same code. No torch here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "labhouse/core/base/result.h"
#include "labhouse/engine/safetensors.h"

namespace labhouse::engine {

inline constexpr const char* kUnetPrefix = "model.diffusion_model.";
inline constexpr const char* kClipLPrefix = "conditioner.embedders.0.transformer.text_model.";
inline constexpr const char* kClipGPrefix = "conditioner.embedders.1.model.";
inline constexpr const char* kVaePrefix = "first_stage_model.";
inline constexpr int kHeadDim = 64;  // SDXL num_head_channels and CLIP head width
inline constexpr double kVaeScaleFactor = 0.13025;

struct ClipTextConfig {
    bool open_clip_names = false;  // embedder 1 (bigG) uses open_clip names, embedder 0 HF names
    int vocab = 0;
    int positions = 0;
    int width = 0;
    int layers = 0;
    int mlp = 0;
    int projection_dim = 0;  // bigG text_projection columns; 0 for CLIP-L (no projection in SDXL)
    int heads() const { return width / kHeadDim; }
};

struct UnetConfig {
    int in_channels = 0;
    int out_channels = 0;
    int model_channels = 0;
    int time_embed_dim = 0;
    int adm_in_channels = 0;
    int context_dim = 0;
    std::vector<int> channel_mult;
    std::vector<int> num_res_blocks;     // per level
    std::vector<int> transformer_depth;  // per level, 0 = no attention at that level
    int mid_depth = 0;
};

struct VaeConfig {
    int in_channels = 3;
    int out_channels = 3;
    int ch = 0;
    int z_channels = 0;
    std::vector<int> ch_mult;
    int num_res_blocks = 0;
    bool linear_attention = false;  // mid.attn_1 q/k/v/proj_out stored as 2-D Linear weights
    int downscale() const { return 1 << (static_cast<int>(ch_mult.size()) - 1); }
};

struct SdxlConfig {
    ClipTextConfig clip_l;
    ClipTextConfig clip_g;
    UnetConfig unet;
    VaeConfig vae;
    // Pixel sizes must be multiples of this (VAE factor x UNet downsampling).
    int size_multiple() const { return vae.downscale() * (1 << (static_cast<int>(unet.channel_mult.size()) - 1)); }
    int size_embed_dim() const { return (unet.adm_in_channels - clip_g.projection_dim) / 6; }
};

// One UNet block in sgm order (`input_blocks.N`, `middle_block`, `output_blocks.N`).
struct UnetBlockPlan {
    std::string prefix;       // e.g. "input_blocks.4"
    bool conv_in = false;     // input_blocks.0: conv 3x3 in_channels -> model_channels
    bool downsample = false;  // `.0.op`
    int res_in = 0;           // ResBlock channels (0 = none)
    int res_out = 0;
    int st_depth = 0;       // SpatialTransformer at `.1` (0 = none)
    bool upsample = false;  // `.1.conv` or `.2.conv`
    int channels() const { return res_out; }
};

struct UnetPlan {
    std::vector<UnetBlockPlan> input;
    std::vector<UnetBlockPlan> output;
    int mid_channels = 0;
    std::vector<int> skip_channels;  // channels pushed by each input block
};
UnetPlan MakeUnetPlan(const UnetConfig& config);

// Detects every size from the tensor names and shapes; the error names the first key it needed.
Result<SdxlConfig> DetectSdxlConfig(const std::map<std::string, TensorInfo>& tensors);

// Every tensor (full name with prefix) the config requires, with its shape; `dtype` is what a writer uses.
std::vector<TensorSpec> SdxlTensorSpecs(const SdxlConfig& config, DType dtype);

// Compares a file against the specs of its detected config: one error lists every missing,
// unexpected, misshaped or wrongly typed tensor.
Status ValidateSdxlTensors(const std::map<std::string, TensorInfo>& tensors, const SdxlConfig& config);
// Tensors present in real files that the engine does not use (sd.cpp `unused_tensors`).
bool IsIgnoredTensor(const std::string& name);

// SDXL base 1.0 / Turbo sizes (sdxl-reference.md section 0), and the tiny test model.
SdxlConfig SdxlBaseConfig();
SdxlConfig TinySdxlConfig(int vocab_size);

std::string ShapeString(const std::vector<std::int64_t>& shape);

}  // namespace labhouse::engine
