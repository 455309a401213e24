// The tiny model is the reference's "tiny random-weight models of the same architecture"
// (ARCHITECTURE.md, Models and weights): same key names and topology as sd_xl_base_1.0.safetensors,
// every width at its minimum.
#include "labhouse/engine/tiny_model.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "labhouse/engine/tokenizer.h"
#include "labhouse/engine/sdxl_pipeline.h"

namespace labhouse::engine {
namespace {

std::uint64_t SplitMix(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::uint64_t HashName(const std::string& name) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
    return h;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// (offset, scale): value = offset + scale * u, u uniform in [-1, 1).
std::pair<float, float> InitFor(const TensorSpec& spec) {
    const std::string& n = spec.name;
    const bool is_norm = n.find("norm") != std::string::npos || n.find(".ln_") != std::string::npos ||
                         n.find("ln_final") != std::string::npos;
    if (spec.shape.size() == 1) {
        if (is_norm && EndsWith(n, ".weight")) return {1.0f, 0.02f};
        return {0.0f, 0.02f};
    }
    if (n.find("embedding") != std::string::npos) return {0.0f, 0.02f * std::sqrt(3.0f)};
    double fan_in = 1;
    if (EndsWith(n, "text_projection")) {
        fan_in = static_cast<double>(spec.shape[0]);
    } else {
        for (std::size_t i = 1; i < spec.shape.size(); ++i) fan_in *= static_cast<double>(spec.shape[i]);
    }
    return {0.0f, static_cast<float>(std::sqrt(3.0 / fan_in))};  // variance 1 / fan_in
}

}  // namespace

Status WriteRandomTensors(const std::string& path, const std::vector<TensorSpec>& specs,
                          std::map<std::string, std::string> metadata, std::uint64_t seed) {
    for (const TensorSpec& spec : specs) {
        if (spec.dtype != DType::kF16 && spec.dtype != DType::kBF16 && spec.dtype != DType::kF32) {
            return InvalidArgument("random checkpoints are F16, BF16 or F32");
        }
    }
    metadata["format"] = "pt";
    metadata["labhouse.random_weights"] = "true";
    metadata["labhouse.seed"] = std::to_string(seed);
    return WriteSafetensors(path, specs, metadata, [&](std::size_t index, std::uint8_t* out, std::size_t bytes) {
        const DType dtype = specs[index].dtype;
        const auto [offset, scale] = InitFor(specs[index]);
        std::uint64_t state = seed ^ HashName(specs[index].name);
        const std::size_t count = bytes / DTypeSize(dtype);
        for (std::size_t i = 0; i < count; ++i) {
            // 24 random bits -> uniform in [-1, 1).
            const float u = static_cast<float>(SplitMix(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
            const float v = offset + scale * u;
            if (dtype == DType::kF16) {
                const std::uint16_t h = FloatToHalf(v);
                std::memcpy(out + 2 * i, &h, 2);
            } else if (dtype == DType::kBF16) {
                std::uint32_t bits;
                std::memcpy(&bits, &v, 4);
                const auto b =
                    static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);  // nearest even
                std::memcpy(out + 2 * i, &b, 2);
            } else {
                std::memcpy(out + 4 * i, &v, 4);
            }
        }
    });
}

Status WriteRandomCheckpoint(const std::string& path, const SdxlConfig& config, DType dtype, std::uint64_t seed) {
    if (dtype != DType::kF16 && dtype != DType::kBF16 && dtype != DType::kF32) {
        return InvalidArgument("random checkpoints are F16, BF16 or F32");
    }
    return WriteRandomTensors(path, SdxlTensorSpecs(config, dtype), {}, seed);
}

Result<int> WriteTinyTokenizer(const std::string& dir) {
    // Merges are the left-to-right chains of a fixed word list ("c a", "ca t</w>", ...), so every
    // listed word becomes one token and other text falls back to shorter pieces.
    static const char* const kWords[] = {
        "photo",      "of",     "cat",     "dog",    "portrait",  "in",     "the",   "style", "painting", "oil",
        "watercolor", "sketch", "anime",   "lovely", "beautiful", "person", "face",  "city",  "night",    "sunset",
        "mountain",   "forest", "sea",     "sky",    "red",       "blue",   "green", "light", "dark",     "cinematic",
        "detailed",   "high",   "quality", "blurry", "ugly",      "art",    "by",    "with",  "and",      "on",
        "hdr",        "4k",     "lowres",  "van",    "gogh",      "pixar",  "comic", "pop"};
    const auto& table = ByteToUnicode();
    std::vector<std::string> merges;
    std::set<std::string> seen;
    for (const char* word : kWords) {
        std::vector<std::string> symbols;
        for (const char* c = word; *c != '\0'; ++c) symbols.push_back(table[static_cast<unsigned char>(*c)]);
        symbols.back() += "</w>";
        std::string left = symbols[0];
        for (std::size_t i = 1; i < symbols.size(); ++i) {
            const std::string merge = left + " " + symbols[i];
            if (seen.insert(merge).second) merges.push_back(merge);
            left += symbols[i];
        }
    }
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    int id = 0;
    for (const auto& s : ByteSymbolsInVocabOrder()) vocab[s] = id++;
    for (const auto& s : ByteSymbolsInVocabOrder()) vocab[s + "</w>"] = id++;
    for (const auto& m : merges) {
        const std::string token = m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1);
        if (!vocab.contains(token)) vocab[token] = id++;
    }
    vocab["<|startoftext|>"] = id++;
    vocab["<|endoftext|>"] = id++;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::ofstream vocab_out(std::filesystem::path(dir) / "vocab.json", std::ios::binary);
    vocab_out << vocab.dump();
    std::ofstream merges_out(std::filesystem::path(dir) / "merges.txt", std::ios::binary);
    merges_out << "#version: 0.2\n";
    for (const auto& m : merges) merges_out << m << "\n";
    vocab_out.close();
    merges_out.close();
    if (!vocab_out || !merges_out) return Unavailable("cannot write the tiny tokenizer into '" + dir + "'");
    return id;
}

Status WriteTinySdxlModelAs(const std::string& dir, const std::string& file_name, const std::string& dtype) {
    auto tok = ClipTokenizer::LoadFromDir(dir);
    if (!tok) return tok.error();
    const DType d = dtype == "F32" ? DType::kF32 : dtype == "BF16" ? DType::kBF16 : DType::kF16;
    return WriteRandomCheckpoint((std::filesystem::path(dir) / file_name).string(),
                                 TinySdxlConfig((*tok)->vocab_size()), d, 20261126);
}

Result<std::string> WriteTinySdxlModel(const std::string& dir) {
    LABHOUSE_ASSIGN_OR_RETURN(int vocab_size, WriteTinyTokenizer(dir));
    const std::string path = (std::filesystem::path(dir) / kTinyModelFileName).string();
    LABHOUSE_RETURN_IF_ERROR(WriteRandomCheckpoint(path, TinySdxlConfig(vocab_size), DType::kF16, 20261126));
    return path;
}

}  // namespace labhouse::engine
