// Single-file -> diffusers folder converter (the inverse of CheckpointSource's diffusers mapping,
// as diffusers `convert_*` scripts do it): used by the tests to prove both layouts load to the
// same weights, and usable to export a checkpoint. No torch.
#include <cstring>
#include <filesystem>
#include <functional>

#include "labhouse/engine/architecture.h"
#include "labhouse/engine/checkpoint.h"

namespace labhouse::engine {
namespace {

namespace fs = std::filesystem;

bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

struct OutTensor {
    TensorSpec spec;
    std::function<void(std::uint8_t*)> fill;
};

}  // namespace

Status ConvertSingleFileToDiffusers(const std::string& checkpoint_path, const std::string& tokenizer_dir,
                                    const std::string& out_dir) {
    LABHOUSE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(checkpoint_path));
    const SafetensorsFile* f = file.get();
    std::set<std::string> names;
    for (const auto& [name, info] : f->tensors()) names.insert(name);
    int vae_levels = 0;
    while (
        names.count(std::string(kVaePrefix) + "encoder.down." + std::to_string(vae_levels) + ".block.0.conv1.weight"))
        ++vae_levels;
    std::map<std::string, std::vector<OutTensor>> components;
    auto copy = [f](const TensorInfo* info) {
        return [f, info](std::uint8_t* out) { std::memcpy(out, f->Data(*info), info->end - info->begin); };
    };
    const std::string g = kClipGPrefix;
    for (const auto& [name, info] : f->tensors()) {
        const TensorInfo* src = &info;
        if (IsIgnoredTensor(name)) continue;
        if (StartsWith(name, kUnetPrefix)) {
            components["unet"].push_back({{SgmUnetToDiffusers(name, names), info.dtype, info.shape}, copy(src)});
        } else if (StartsWith(name, kVaePrefix)) {
            std::vector<std::int64_t> shape = info.shape;
            if (name.find("mid.attn_1.") != std::string::npos && shape.size() == 4)
                shape.resize(2);  // diffusers: Linear
            components["vae"].push_back({{SgmVaeToDiffusers(name, vae_levels), info.dtype, shape}, copy(src)});
        } else if (StartsWith(name, kClipLPrefix)) {
            components["text_encoder"].push_back(
                {{"text_model." + name.substr(std::strlen(kClipLPrefix)), info.dtype, info.shape}, copy(src)});
        } else if (StartsWith(name, g)) {
            const std::string r = name.substr(g.size());
            auto& out = components["text_encoder_2"];
            const std::size_t elem = DTypeSize(info.dtype);
            if (r == "token_embedding.weight") {
                out.push_back({{"text_model.embeddings.token_embedding.weight", info.dtype, info.shape}, copy(src)});
            } else if (r == "positional_embedding") {
                out.push_back({{"text_model.embeddings.position_embedding.weight", info.dtype, info.shape}, copy(src)});
            } else if (StartsWith(r, "ln_final.")) {
                out.push_back({{"text_model.final_layer_norm." + r.substr(9), info.dtype, info.shape}, copy(src)});
            } else if (r == "text_projection") {
                const std::int64_t rows = info.shape[0], cols = info.shape[1];
                out.push_back(
                    {{"text_projection.weight", info.dtype, {cols, rows}}, [f, src, rows, cols, elem](std::uint8_t* o) {
                         const std::uint8_t* in = f->Data(*src);
                         for (std::int64_t r2 = 0; r2 < rows; ++r2) {
                             for (std::int64_t c = 0; c < cols; ++c)
                                 std::memcpy(o + (c * rows + r2) * elem, in + (r2 * cols + c) * elem, elem);
                         }
                     }});
            } else if (StartsWith(r, "transformer.resblocks.")) {
                const std::size_t dot = r.find('.', std::strlen("transformer.resblocks."));
                const std::string k =
                    r.substr(std::strlen("transformer.resblocks."), dot - std::strlen("transformer.resblocks."));
                const std::string rest = r.substr(dot + 1);
                const std::string layer = "text_model.encoder.layers." + k + ".";
                if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
                    const std::string kind = rest == "attn.in_proj_weight" ? "weight" : "bias";
                    std::vector<std::int64_t> shape = info.shape;
                    shape[0] /= 3;
                    const std::size_t part_bytes = (info.end - info.begin) / 3;
                    const char* projections[] = {"q_proj.", "k_proj.", "v_proj."};
                    for (std::size_t p = 0; p < 3; ++p) {
                        out.push_back({{layer + "self_attn." + projections[p] + kind, info.dtype, shape},
                                       [f, src, p, part_bytes](std::uint8_t* o) {
                                           std::memcpy(o, f->Data(*src) + p * part_bytes, part_bytes);
                                       }});
                    }
                    continue;
                }
                static const std::pair<const char*, const char*> kMap[] = {{"ln_1.", "layer_norm1."},
                                                                           {"ln_2.", "layer_norm2."},
                                                                           {"attn.out_proj.", "self_attn.out_proj."},
                                                                           {"mlp.c_fc.", "mlp.fc1."},
                                                                           {"mlp.c_proj.", "mlp.fc2."}};
                for (const auto& [from, to] : kMap) {
                    if (StartsWith(rest, from)) {
                        out.push_back(
                            {{layer + to + rest.substr(std::strlen(from)), info.dtype, info.shape}, copy(src)});
                    }
                }
            }
        }
    }
    std::error_code ec;
    for (auto& [component, tensors] : components) {
        fs::create_directories(fs::path(out_dir) / component, ec);
        const std::string stem = (component == "unet" || component == "vae") ? "diffusion_pytorch_model" : "model";
        std::vector<TensorSpec> specs;
        for (const auto& t : tensors) {
            if (t.spec.name.empty()) return Internal("no diffusers name for a tensor of " + component);
            specs.push_back(t.spec);
        }
        LABHOUSE_RETURN_IF_ERROR(WriteSafetensors(
            (fs::path(out_dir) / component / (stem + ".safetensors")).string(), specs, {{"format", "pt"}},
            [&](std::size_t i, std::uint8_t* out, std::size_t) { tensors[i].fill(out); }));
    }
    if (!tokenizer_dir.empty()) {
        for (const char* sub : {"tokenizer", "tokenizer_2"}) {
            fs::create_directories(fs::path(out_dir) / sub, ec);
            for (const char* name : {"vocab.json", "merges.txt"}) {
                fs::copy_file(fs::path(tokenizer_dir) / name, fs::path(out_dir) / sub / name,
                              fs::copy_options::overwrite_existing, ec);
                if (ec) return Unavailable("cannot copy tokenizer file " + std::string(name) + ": " + ec.message());
            }
        }
    }
    return OkStatus();
}

}  // namespace labhouse::engine
