// Single-file and diffusers-folder checkpoints behind one sgm-named tensor set. The diffusers <->
// sgm name tables follow diffusers `scripts/convert_diffusers_to_original_sdxl.py` and sd.cpp
// `name_conversion.cpp` (sdxl-reference.md 2.6, 3.5, 5.4).
#include "labhouse/engine/checkpoint.h"

#include <cstring>
#include <filesystem>

#include "labhouse/engine/architecture.h"

namespace labhouse::engine {
namespace {

namespace fs = std::filesystem;

bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

// Matches "<prefix><int>.<rest>"; fills index and rest.
bool Match(const std::string& name, const std::string& prefix, int* index, std::string* rest) {
    if (!StartsWith(name, prefix)) return false;
    std::size_t pos = prefix.size();
    std::size_t end = pos;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
    if (end == pos || end >= name.size() || name[end] != '.') return false;
    *index = std::stoi(name.substr(pos, end - pos));
    *rest = name.substr(end + 1);
    return true;
}

// Replaces a leading token from the first column of `pairs` with the second (or back).
std::string MapLeading(const std::string& rest, const std::vector<std::pair<std::string, std::string>>& pairs,
                       bool forward) {
    for (const auto& [a, b] : pairs) {
        const std::string& from = forward ? a : b;
        const std::string& to = forward ? b : a;
        if (StartsWith(rest, from)) return to + rest.substr(from.size());
    }
    return "";
}

const std::vector<std::pair<std::string, std::string>> kUnetResnet = {
    {"norm1.", "in_layers.0."},  {"conv1.", "in_layers.2."},  {"time_emb_proj.", "emb_layers.1."},
    {"norm2.", "out_layers.0."}, {"conv2.", "out_layers.3."}, {"conv_shortcut.", "skip_connection."}};
const std::vector<std::pair<std::string, std::string>> kUnetTop = {{"conv_in.", "input_blocks.0.0."},
                                                                   {"time_embedding.linear_1.", "time_embed.0."},
                                                                   {"time_embedding.linear_2.", "time_embed.2."},
                                                                   {"add_embedding.linear_1.", "label_emb.0.0."},
                                                                   {"add_embedding.linear_2.", "label_emb.0.2."},
                                                                   {"conv_norm_out.", "out.0."},
                                                                   {"conv_out.", "out.2."}};
const std::vector<std::pair<std::string, std::string>> kVaeResnet = {{"norm1.", "norm1."},
                                                                     {"conv1.", "conv1."},
                                                                     {"norm2.", "norm2."},
                                                                     {"conv2.", "conv2."},
                                                                     {"conv_shortcut.", "nin_shortcut."}};
const std::vector<std::pair<std::string, std::string>> kVaeAttention = {
    {"group_norm.", "norm."},   {"to_q.", "q."},  {"to_k.", "k."}, {"to_v.", "v."},
    {"to_out.0.", "proj_out."}, {"query.", "q."}, {"key.", "k."},  {"value.", "v."},
    {"proj_attn.", "proj_out."}};
const std::vector<std::pair<std::string, std::string>> kBigGLayer = {{"layer_norm1.", "ln_1."},
                                                                     {"layer_norm2.", "ln_2."},
                                                                     {"self_attn.out_proj.", "attn.out_proj."},
                                                                     {"mlp.fc1.", "mlp.c_fc."},
                                                                     {"mlp.fc2.", "mlp.c_proj."}};

int DiffusersResBlocksPerLevel(const std::set<std::string>& names) {
    int n = 0;
    while (names.count("down_blocks.0.resnets." + std::to_string(n) + ".conv1.weight")) ++n;
    return n;
}

}  // namespace

std::string DiffusersUnetToSgm(const std::string& name, const std::set<std::string>& names) {
    const int n = DiffusersResBlocksPerLevel(names);
    std::string out = MapLeading(name, kUnetTop, true);
    int i = 0, j = 0;
    std::string rest, rest2;
    if (!out.empty()) {
    } else if (Match(name, "down_blocks.", &i, &rest)) {
        if (Match(rest, "resnets.", &j, &rest2)) {
            const std::string r = MapLeading(rest2, kUnetResnet, true);
            if (!r.empty()) out = "input_blocks." + std::to_string(i * (n + 1) + j + 1) + ".0." + r;
        } else if (Match(rest, "attentions.", &j, &rest2)) {
            out = "input_blocks." + std::to_string(i * (n + 1) + j + 1) + ".1." + rest2;
        } else if (StartsWith(rest, "downsamplers.0.conv.")) {
            out = "input_blocks." + std::to_string((i + 1) * (n + 1)) + ".0.op." +
                  rest.substr(std::strlen("downsamplers.0.conv."));
        }
    } else if (Match(name, "mid_block.resnets.", &j, &rest) && j <= 1) {
        const std::string r = MapLeading(rest, kUnetResnet, true);
        if (!r.empty()) out = "middle_block." + std::to_string(j * 2) + "." + r;
    } else if (StartsWith(name, "mid_block.attentions.0.")) {
        out = "middle_block.1." + name.substr(std::strlen("mid_block.attentions.0."));
    } else if (Match(name, "up_blocks.", &i, &rest)) {
        if (Match(rest, "resnets.", &j, &rest2)) {
            const std::string r = MapLeading(rest2, kUnetResnet, true);
            if (!r.empty()) out = "output_blocks." + std::to_string(i * (n + 1) + j) + ".0." + r;
        } else if (Match(rest, "attentions.", &j, &rest2)) {
            out = "output_blocks." + std::to_string(i * (n + 1) + j) + ".1." + rest2;
        } else if (StartsWith(rest, "upsamplers.0.conv.")) {
            const bool attn = names.count("up_blocks." + std::to_string(i) + ".attentions.0.proj_in.weight") != 0;
            out = "output_blocks." + std::to_string(i * (n + 1) + n) + (attn ? ".2.conv." : ".1.conv.") +
                  rest.substr(std::strlen("upsamplers.0.conv."));
        }
    }
    return out.empty() ? "" : kUnetPrefix + out;
}

std::string SgmUnetToDiffusers(const std::string& sgm_name, const std::set<std::string>& sgm_names) {
    if (!StartsWith(sgm_name, kUnetPrefix)) return "";
    const std::string name = sgm_name.substr(std::strlen(kUnetPrefix));
    int n = 0;
    while (
        sgm_names.count(std::string(kUnetPrefix) + "input_blocks." + std::to_string(n + 1) + ".0.in_layers.2.weight"))
        ++n;
    if (std::string top = MapLeading(name, kUnetTop, false); !top.empty()) return top;
    int k = 0, m = 0;
    std::string rest, rest2;
    if (Match(name, "input_blocks.", &k, &rest) && k >= 1 && Match(rest, "", &m, &rest2)) {
        const int i = (k - 1) / (n + 1), j = (k - 1) % (n + 1);
        if (j == n && m == 0 && StartsWith(rest2, "op."))
            return "down_blocks." + std::to_string(i) + ".downsamplers.0.conv." + rest2.substr(3);
        if (m == 0)
            return "down_blocks." + std::to_string(i) + ".resnets." + std::to_string(j) + "." +
                   MapLeading(rest2, kUnetResnet, false);
        if (m == 1) return "down_blocks." + std::to_string(i) + ".attentions." + std::to_string(j) + "." + rest2;
    } else if (Match(name, "middle_block.", &m, &rest)) {
        if (m == 1) return "mid_block.attentions.0." + rest;
        return "mid_block.resnets." + std::to_string(m / 2) + "." + MapLeading(rest, kUnetResnet, false);
    } else if (Match(name, "output_blocks.", &k, &rest) && Match(rest, "", &m, &rest2)) {
        const int i = k / (n + 1), j = k % (n + 1);
        if (m >= 1 && StartsWith(rest2, "conv."))
            return "up_blocks." + std::to_string(i) + ".upsamplers.0.conv." + rest2.substr(5);
        if (m == 0)
            return "up_blocks." + std::to_string(i) + ".resnets." + std::to_string(j) + "." +
                   MapLeading(rest2, kUnetResnet, false);
        if (m == 1) return "up_blocks." + std::to_string(i) + ".attentions." + std::to_string(j) + "." + rest2;
    }
    return "";
}

std::string DiffusersVaeToSgm(const std::string& name, int levels) {
    std::string out;
    int i = 0, j = 0;
    std::string rest, rest2;
    for (const std::string side : {"encoder.", "decoder."}) {
        if (!StartsWith(name, side)) continue;
        const std::string r = name.substr(side.size());
        if (Match(r, "down_blocks.", &i, &rest)) {
            if (Match(rest, "resnets.", &j, &rest2)) {
                const std::string m = MapLeading(rest2, kVaeResnet, true);
                if (!m.empty()) out = side + "down." + std::to_string(i) + ".block." + std::to_string(j) + "." + m;
            } else if (StartsWith(rest, "downsamplers.0.conv.")) {
                out = side + "down." + std::to_string(i) + ".downsample.conv." +
                      rest.substr(std::strlen("downsamplers.0.conv."));
            }
        } else if (Match(r, "up_blocks.", &i, &rest)) {
            const std::string level = std::to_string(levels - 1 - i);
            if (Match(rest, "resnets.", &j, &rest2)) {
                const std::string m = MapLeading(rest2, kVaeResnet, true);
                if (!m.empty()) out = side + "up." + level + ".block." + std::to_string(j) + "." + m;
            } else if (StartsWith(rest, "upsamplers.0.conv.")) {
                out = side + "up." + level + ".upsample.conv." + rest.substr(std::strlen("upsamplers.0.conv."));
            }
        } else if (Match(r, "mid_block.resnets.", &j, &rest) && j <= 1) {
            const std::string m = MapLeading(rest, kVaeResnet, true);
            if (!m.empty()) out = side + "mid.block_" + std::to_string(j + 1) + "." + m;
        } else if (StartsWith(r, "mid_block.attentions.0.")) {
            const std::string m = MapLeading(r.substr(std::strlen("mid_block.attentions.0.")), kVaeAttention, true);
            if (!m.empty()) out = side + "mid.attn_1." + m;
        } else if (StartsWith(r, "conv_norm_out.")) {
            out = side + "norm_out." + r.substr(std::strlen("conv_norm_out."));
        } else if (StartsWith(r, "conv_in.") || StartsWith(r, "conv_out.")) {
            out = name;
        }
    }
    if (StartsWith(name, "quant_conv.") || StartsWith(name, "post_quant_conv.")) out = name;
    return out.empty() ? "" : kVaePrefix + out;
}

std::string SgmVaeToDiffusers(const std::string& sgm_name, int levels) {
    if (!StartsWith(sgm_name, kVaePrefix)) return "";
    const std::string name = sgm_name.substr(std::strlen(kVaePrefix));
    int i = 0, j = 0;
    std::string rest, rest2;
    for (const std::string side : {"encoder.", "decoder."}) {
        if (!StartsWith(name, side)) continue;
        const std::string r = name.substr(side.size());
        if (Match(r, "down.", &i, &rest)) {
            if (Match(rest, "block.", &j, &rest2)) {
                return side + "down_blocks." + std::to_string(i) + ".resnets." + std::to_string(j) + "." +
                       MapLeading(rest2, kVaeResnet, false);
            }
            if (StartsWith(rest, "downsample.conv."))
                return side + "down_blocks." + std::to_string(i) + ".downsamplers.0.conv." + rest.substr(16);
        } else if (Match(r, "up.", &i, &rest)) {
            const std::string block = std::to_string(levels - 1 - i);
            if (Match(rest, "block.", &j, &rest2)) {
                return side + "up_blocks." + block + ".resnets." + std::to_string(j) + "." +
                       MapLeading(rest2, kVaeResnet, false);
            }
            if (StartsWith(rest, "upsample.conv."))
                return side + "up_blocks." + block + ".upsamplers.0.conv." + rest.substr(14);
        } else if (StartsWith(r, "mid.block_")) {
            const int b = r[std::strlen("mid.block_")] - '1';
            return side + "mid_block.resnets." + std::to_string(b) + "." +
                   MapLeading(r.substr(std::strlen("mid.block_1.")), kVaeResnet, false);
        } else if (StartsWith(r, "mid.attn_1.")) {
            // The first matching pair in reverse is the modern name (to_q, ..., to_out.0).
            return side + "mid_block.attentions.0." +
                   MapLeading(r.substr(std::strlen("mid.attn_1.")), kVaeAttention, false);
        } else if (StartsWith(r, "norm_out.")) {
            return side + "conv_norm_out." + r.substr(std::strlen("norm_out."));
        }
        return name;
    }
    return name;  // quant_conv, post_quant_conv
}

const SourceTensor* CheckpointSource::Find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> CheckpointSource::file_paths() const {
    std::vector<std::string> paths;
    for (const auto& f : files_) paths.push_back(f->path());
    return paths;
}

std::uint64_t CheckpointSource::total_bytes() const {
    std::uint64_t total = 0;
    for (const auto& f : files_) total += f->file_size();
    return total;
}

Result<std::unique_ptr<CheckpointSource>> CheckpointSource::Open(const std::string& path) {
    std::unique_ptr<CheckpointSource> source(new CheckpointSource());
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
        LABHOUSE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
        for (const auto& [name, info] : file->tensors()) {
            SourceTensor t;
            t.parts.push_back({file.get(), &info});
            t.info = info;
            source->entries_[name] = t;
            source->infos_[name] = info;
        }
        source->files_.push_back(std::move(file));
        source->layout_ = "single-file";
        return source;
    }
    source->layout_ = "diffusers";
    for (const char* component : {"unet", "text_encoder", "text_encoder_2", "vae"}) {
        LABHOUSE_RETURN_IF_ERROR(source->AddDiffusersComponent(path, component));
    }
    if (fs::exists(fs::path(path) / "tokenizer", ec)) source->tokenizer_dir_ = (fs::path(path) / "tokenizer").string();
    return source;
}

Status CheckpointSource::AddDiffusersComponent(const std::string& dir, const std::string& component) {
    const std::string stem = (component == "unet" || component == "vae") ? "diffusion_pytorch_model" : "model";
    std::string file_path;
    std::error_code ec;
    for (const char* variant : {".safetensors", ".fp16.safetensors"}) {
        const fs::path candidate = fs::path(dir) / component / (stem + variant);
        if (fs::exists(candidate, ec)) {
            file_path = candidate.string();
            break;
        }
    }
    if (file_path.empty()) {
        return NotFound("diffusers folder '" + dir + "' lacks " + component + "/" + stem +
                        ".safetensors (or .fp16.safetensors)");
    }
    LABHOUSE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(file_path));
    const SafetensorsFile* f = file.get();
    std::set<std::string> names;
    for (const auto& [name, info] : f->tensors()) names.insert(name);
    int vae_levels = 0;
    while (names.count("encoder.down_blocks." + std::to_string(vae_levels) + ".resnets.0.conv1.weight")) ++vae_levels;
    auto add = [&](const std::string& sgm, SourceTensor::Op op, std::vector<const TensorInfo*> parts) -> Status {
        SourceTensor t;
        t.op = op;
        t.info = *parts[0];
        t.info.name = sgm;
        for (const TensorInfo* p : parts) {
            if (p->dtype != parts[0]->dtype || p->shape.size() != parts[0]->shape.size()) {
                return InvalidArgument("'" + file_path + "': tensors '" + parts[0]->name + "' and '" + p->name +
                                       "' must share dtype and rank to form '" + sgm + "'");
            }
            t.parts.push_back({f, p});
        }
        if (op == SourceTensor::Op::kConcatRows) {
            t.info.shape[0] = 0;
            for (const TensorInfo* p : parts) t.info.shape[0] += p->shape[0];
        } else if (op == SourceTensor::Op::kTranspose && t.info.shape.size() == 2) {
            std::swap(t.info.shape[0], t.info.shape[1]);
        }
        entries_[sgm] = t;
        infos_[sgm] = t.info;
        return OkStatus();
    };
    const std::string g = kClipGPrefix;
    for (const auto& [name, info] : f->tensors()) {
        std::string sgm;
        if (component == "unet") {
            sgm = DiffusersUnetToSgm(name, names);
        } else if (component == "vae") {
            sgm = DiffusersVaeToSgm(name, vae_levels);
        } else if (component == "text_encoder") {
            if (StartsWith(name, "text_model.")) sgm = kClipLPrefix + name.substr(std::strlen("text_model."));
        } else {  // text_encoder_2: HF CLIPTextModelWithProjection -> open_clip names
            int k = 0;
            std::string rest;
            if (name == "text_model.embeddings.token_embedding.weight")
                sgm = g + "token_embedding.weight";
            else if (name == "text_model.embeddings.position_embedding.weight")
                sgm = g + "positional_embedding";
            else if (name == "text_model.embeddings.position_ids")
                continue;  // buffer, unused
            else if (StartsWith(name, "text_model.final_layer_norm."))
                sgm = g + "ln_final." + name.substr(std::strlen("text_model.final_layer_norm."));
            else if (name == "text_projection.weight") {
                LABHOUSE_RETURN_IF_ERROR(
                    add(g + "text_projection", SourceTensor::Op::kTranspose, {&info}));  // HF stores P^T
                continue;
            } else if (Match(name, "text_model.encoder.layers.", &k, &rest)) {
                const std::string layer = g + "transformer.resblocks." + std::to_string(k) + ".";
                if (StartsWith(rest, "self_attn.q_proj.") || StartsWith(rest, "self_attn.k_proj.") ||
                    StartsWith(rest, "self_attn.v_proj.")) {
                    if (!StartsWith(rest, "self_attn.q_proj.")) continue;                    // handled with q
                    const std::string kind = rest.substr(std::strlen("self_attn.q_proj."));  // weight or bias
                    const std::string base = "text_model.encoder.layers." + std::to_string(k) + ".self_attn.";
                    const TensorInfo* q = f->Find(base + "q_proj." + kind);
                    const TensorInfo* kk = f->Find(base + "k_proj." + kind);
                    const TensorInfo* v = f->Find(base + "v_proj." + kind);
                    if (q && kk && v) {
                        LABHOUSE_RETURN_IF_ERROR(
                            add(layer + "attn.in_proj_" + kind, SourceTensor::Op::kConcatRows, {q, kk, v}));
                    }
                    continue;
                }
                const std::string mapped = MapLeading(rest, kBigGLayer, true);
                if (!mapped.empty()) sgm = layer + mapped;
            }
        }
        if (sgm.empty()) sgm = component + "/" + name;  // reported as unexpected by validation
        LABHOUSE_RETURN_IF_ERROR(add(sgm, SourceTensor::Op::kDirect, {&info}));
    }
    files_.push_back(std::move(file));
    return OkStatus();
}

}  // namespace labhouse::engine
