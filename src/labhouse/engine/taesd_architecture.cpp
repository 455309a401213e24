#include "labhouse/engine/taesd_architecture.h"

#include "labhouse/engine/architecture.h"
#include "labhouse/engine/tiny_model.h"

namespace labhouse::engine {
namespace {

constexpr int kUpsamplings = 3;  // latent / 8 -> pixels, as the SDXL VAE
constexpr int kBlocksPerLevel = 3;

bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::vector<TaesdLayer> TaesdDecoderLayers(const TaesdDecoderLayout& layout) {
    using K = TaesdLayer::Kind;
    const int c = layout.width;
    std::vector<TaesdLayer> layers = {{K::kConv, layout.latent_channels, c, true}, {K::kRelu, c, c, false}};
    for (int level = 0; level < kUpsamplings; ++level) {
        for (int i = 0; i < kBlocksPerLevel; ++i) layers.push_back({K::kBlock, c, c, true});
        layers.push_back({K::kUpsample, c, c, false});
        layers.push_back({K::kConv, c, c, false});
    }
    layers.push_back({K::kBlock, c, c, true});
    layers.push_back({K::kConv, c, 3, true});
    return layers;
}

std::vector<TensorSpec> TaesdDecoderSpecs(const TaesdDecoderLayout& layout, DType dtype) {
    std::vector<TensorSpec> specs;
    auto conv = [&](const std::string& name, int in, int out, bool bias) {
        specs.push_back({name + ".weight", dtype, {out, in, 3, 3}});
        if (bias) specs.push_back({name + ".bias", dtype, {out}});
    };
    const auto layers = TaesdDecoderLayers(layout);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const TaesdLayer& l = layers[i];
        if (l.kind == TaesdLayer::Kind::kConv) conv(layout.Name(i), l.in, l.out, l.bias);
        if (l.kind == TaesdLayer::Kind::kBlock) {
            for (const char* sub : {".conv.0", ".conv.2", ".conv.4"}) conv(layout.Name(i) + sub, l.out, l.out, true);
        }
    }
    return specs;
}

Result<TaesdDecoderLayout> DetectTaesdDecoder(const std::map<std::string, TensorInfo>& tensors) {
    TaesdDecoderLayout layout;
    if (tensors.count("decoder.layers.0.weight")) {
        layout.prefix = "decoder.layers.";
        layout.first_index = 0;
    } else if (tensors.count("1.weight")) {
        layout.prefix = "";
        layout.first_index = 1;
    } else {
        return InvalidArgument(
            "not a TAESD decoder: expected 'decoder.layers.0.weight' (diffusers AutoencoderTiny) or '1.weight' "
            "(taesdxl_decoder)");
    }
    const TensorInfo& first = tensors.at(layout.Name(0) + ".weight");
    if (first.shape.size() != 4 || first.shape[2] != 3 || first.shape[3] != 3 || first.shape[0] < 1 ||
        first.shape[0] > 1024 || first.shape[1] < 1 || first.shape[1] > 64) {
        return InvalidArgument("TAESD decoder: '" + layout.Name(0) + ".weight' has shape " + ShapeString(first.shape) +
                               ", expected [width, latent channels, 3, 3]");
    }
    layout.width = static_cast<int>(first.shape[0]);
    layout.latent_channels = static_cast<int>(first.shape[1]);

    std::string problems;
    std::map<std::string, bool> expected;
    for (const TensorSpec& spec : TaesdDecoderSpecs(layout, DType::kF32)) {
        expected[spec.name] = true;
        auto it = tensors.find(spec.name);
        if (it == tensors.end()) {
            problems += "\n  missing " + spec.name + " " + ShapeString(spec.shape);
        } else if (it->second.shape != spec.shape) {
            problems += "\n  " + spec.name + " has shape " + ShapeString(it->second.shape) + ", expected " +
                        ShapeString(spec.shape);
        } else if (it->second.dtype != DType::kF16 && it->second.dtype != DType::kBF16 &&
                   it->second.dtype != DType::kF32) {
            problems += "\n  " + spec.name + " is " + std::string(DTypeName(it->second.dtype)) +
                        ", expected F16, BF16 or F32";
        }
    }
    for (const auto& [name, info] : tensors) {
        if (expected.count(name)) continue;
        // The diffusers file also holds the encoder; anything else under the decoder's names is foreign.
        if (!layout.prefix.empty() && !StartsWith(name, layout.prefix)) continue;
        problems += "\n  unexpected " + name + " " + ShapeString(info.shape);
    }
    if (!problems.empty()) {
        return InvalidArgument("TAESD decoder (width " + std::to_string(layout.width) + "):" + problems);
    }
    return layout;
}

double TaesdDecoderFlops(const TaesdDecoderLayout& layout, int latent_h, int latent_w) {
    double pixels = static_cast<double>(latent_h) * latent_w, flops = 0;
    for (const TaesdLayer& l : TaesdDecoderLayers(layout)) {
        const double conv = 2.0 * 9 * l.in * l.out * pixels;
        if (l.kind == TaesdLayer::Kind::kConv) flops += conv;
        if (l.kind == TaesdLayer::Kind::kBlock) flops += 3 * conv;
        if (l.kind == TaesdLayer::Kind::kUpsample) pixels *= 4;
    }
    return flops;
}

Status WriteRandomTaesdDecoder(const std::string& path, DType dtype, std::uint64_t seed) {
    TaesdDecoderLayout layout;
    layout.prefix = "decoder.layers.";
    return WriteRandomTensors(path, TaesdDecoderSpecs(layout, dtype), {{"labhouse.model", "taesd-decoder"}}, seed);
}

}  // namespace labhouse::engine
