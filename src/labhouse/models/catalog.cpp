#include "labhouse/models/catalog.h"

#include <algorithm>
#include <cctype>

namespace labhouse::models {
namespace {

// The CLIP BPE files shipped in the diffusers layout of the SDXL repositories (sdxl-reference.md
// 4.2: "SDXL repo tokenizer/ and tokenizer_2/"; the two differ only in pad_token, which lives in
// tokenizer_config.json, so one vocab.json + merges.txt serves both encoders). They are small
// non-LFS files: the hub's ETag is their git blob id, which pull checks.
std::vector<CatalogFile> SdxlRepoTokenizer() {
    return {{"tokenizer/vocab.json", -1, ""}, {"tokenizer/merges.txt", -1, ""}};
}

std::vector<CatalogFile> With(std::vector<CatalogFile> files, const std::vector<CatalogFile>& more) {
    files.insert(files.end(), more.begin(), more.end());
    return files;
}

std::vector<CatalogEntry> BuildCatalog() {
    std::vector<CatalogEntry> catalog;

    // stabilityai/sdxl-turbo: single-file checkpoints in Stability's (sgm) layout, the layout the
    // native engine loads. Sizes per sdxl-reference.md section 0 are rounded ("6.94 GB", "13.9 GB"),
    // so they are not pinned here; the hub's X-Linked-Size and X-Linked-Etag are used.
    catalog.push_back(
        {"sdxl-turbo",
         "stabilityai/sdxl-turbo",
         "checkpoint",
         "SDXL-Turbo 1.0: 1-4 step SDXL distillation, 512x512, no CFG",
         "sdxl-turbo",
         {{"fp16",
           With({{"sd_xl_turbo_1.0_fp16.safetensors", -1, ""}}, SdxlRepoTokenizer()),
           {"sdxl"},
           "6.9 GB; for GPUs and to halve disk and download; the CPU engine converts to fp32 as it loads"},
          {"fp32",
           With({{"sd_xl_turbo_1.0.safetensors", -1, ""}}, SdxlRepoTokenizer()),
           {"sdxl"},
           "13.9 GB; full precision"}}});

    // stabilityai/stable-diffusion-xl-base-1.0. The single-file checkpoint is stored in fp16; its
    // size and SHA-256 are cited in sdxl-reference.md section 1 ([S HF]). The repository has no
    // fp32 single file: fp32 weights exist only in its diffusers folder layout (unet/,
    // text_encoder/, text_encoder_2/, vae/), which the native engine does not load yet.
    catalog.push_back({"sdxl-base-1.0",
                       "stabilityai/stable-diffusion-xl-base-1.0",
                       "checkpoint",
                       "SDXL base 1.0: 1024x1024, ~25 steps with CFG",
                       "sdxl-base-1.0",
                       {{"fp16",
                         With({{"sd_xl_base_1.0.safetensors", 6'938'078'334,
                                "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b"}},
                              SdxlRepoTokenizer()),
                         {"sdxl"},
                         "6.9 GB single file (fp16 storage; the CPU engine converts to fp32 as it loads)"},
                        {"fp32",
                         With({{"model_index.json", -1, ""},
                               {"unet/config.json", -1, ""},
                               {"unet/diffusion_pytorch_model.safetensors", -1, ""},
                               {"text_encoder/config.json", -1, ""},
                               {"text_encoder/model.safetensors", -1, ""},
                               {"text_encoder_2/config.json", -1, ""},
                               {"text_encoder_2/model.safetensors", -1, ""},
                               {"vae/config.json", -1, ""},
                               {"vae/diffusion_pytorch_model.safetensors", -1, ""},
                               {"scheduler/scheduler_config.json", -1, ""}},
                              SdxlRepoTokenizer()),
                         {},
                         "~14 GB diffusers folder layout; not loadable by the native engine yet (use fp16)"}}});

    // madebyollin/sdxl-vae-fp16-fix: the SDXL VAE fine-tuned so its activations stay in fp16
    // range (sdxl-reference.md 5.3). sdxl_vae.safetensors is its single-file form.
    catalog.push_back({"sdxl-vae-fp16-fix",
                       "madebyollin/sdxl-vae-fp16-fix",
                       "vae",
                       "SDXL VAE that does not overflow in fp16 (for fp16 GPU inference)",
                       "sdxl-vae-fp16-fix",
                       {{"any", {{"sdxl_vae.safetensors", -1, ""}}, {}, "not loaded by the native engine yet"}}});

    // madebyollin/taesdxl: the tiny SDXL autoencoder (same latent API as the SDXL VAE), as two
    // ~4.9 MB safetensors files. The engine uses the decoder (engine/taesd_architecture.h).
    catalog.push_back({"taesdxl",
                       "madebyollin/taesdxl",
                       "preview-vae",
                       "TAESDXL: tiny SDXL decoder for live previews and fast finals (decoder=taesd)",
                       "taesdxl",
                       {{"any",
                         {{"taesdxl_encoder.safetensors", -1, ""}, {"taesdxl_decoder.safetensors", -1, ""}},
                         {"sdxl"},
                         "the sdxl backend finds it in the models dir: previews on the job's event stream and the "
                         "decoder=taesd option"}}});

    // openai/clip-vit-large-patch14: the CLIP BPE files on their own, installed as <models>/tokenizer,
    // one of the places the engine looks for them (engine FindTokenizerDir).
    catalog.push_back({"clip-tokenizer",
                       "openai/clip-vit-large-patch14",
                       "tokenizer",
                       "CLIP BPE tokenizer files (vocab.json + merges.txt) shared by both SDXL text encoders",
                       "tokenizer",
                       {{"any",
                         {{"vocab.json", -1, ""}, {"merges.txt", -1, ""}},
                         {"sdxl"},
                         "into <models>/tokenizer, where the engine finds it through LABHOUSE_MODELS_DIR"}}});
    return catalog;
}

std::string CatalogNames() {
    std::string names;
    for (const auto& entry : Catalog()) names += (names.empty() ? "" : ", ") + entry.name;
    return names;
}

bool IsRepoId(const std::string& name) {
    const auto slash = name.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == name.size()) return false;
    if (name.find('/', slash + 1) != std::string::npos) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                                  c == '/';
                       }) &&
           IsSafeRelativePath(name);
}

}  // namespace

const std::vector<CatalogEntry>& Catalog() {
    static const std::vector<CatalogEntry> catalog = BuildCatalog();
    return catalog;
}

const CatalogEntry* FindCatalogEntry(const std::string& name) {
    for (const auto& entry : Catalog()) {
        if (entry.name == name) return &entry;
    }
    return nullptr;
}

bool IsSafeRelativePath(const std::string& path) {
    if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
    if (path.find('\0') != std::string::npos) return false;
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto end = std::min(path.find('/', start), path.size());
        const std::string part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

std::string PullCommandFor(const std::string& name, const std::string& dtype) {
    std::string command = "labhouse models pull " + name;
    if (!dtype.empty() && dtype != "any") command += " --dtype " + dtype;
    return command;
}

Result<ModelSpec> ResolvePullRequest(const PullRequest& request) {
    if (request.revision.empty() || !IsSafeRelativePath(request.revision) ||
        request.revision.find('/') != std::string::npos) {
        return InvalidArgument("invalid revision '" + request.revision + "' (a branch, tag or commit)");
    }
    if (!request.dtype.empty() && request.dtype != "fp16" && request.dtype != "fp32") {
        return InvalidArgument("dtype must be fp16 or fp32, not '" + request.dtype + "'");
    }
    if (const CatalogEntry* entry = FindCatalogEntry(request.name)) {
        if (!request.files.empty()) {
            return InvalidArgument("--file is for <org>/<repo> names; '" + request.name +
                                   "' is a catalog model whose files are known");
        }
        const std::string wanted = request.dtype.empty() ? "fp16" : request.dtype;
        const CatalogVariant* chosen = nullptr;
        for (const auto& variant : entry->variants) {
            if (variant.dtype == wanted || variant.dtype == "any") {
                chosen = &variant;
                break;
            }
        }
        if (chosen == nullptr) {
            std::string have;
            for (const auto& variant : entry->variants) have += (have.empty() ? "" : ", ") + variant.dtype;
            return InvalidArgument(entry->name + " has no " + wanted + " variant (available: " + have + ")");
        }
        return ModelSpec{entry->name,        entry->repo,   request.revision, chosen->dtype, entry->role,
                         entry->install_dir, chosen->files, chosen->backends, chosen->note};
    }
    if (!IsRepoId(request.name)) {
        return InvalidArgument("unknown model '" + request.name + "'; known: " + CatalogNames() +
                               "; or give <org>/<repo> with --file");
    }
    if (request.files.empty()) {
        return InvalidArgument("'" + request.name + "' is not in the catalog: name the files to fetch with --file");
    }
    ModelSpec spec;
    spec.name = request.name;
    spec.repo = request.name;
    spec.revision = request.revision;
    spec.dtype = request.dtype.empty() ? "any" : request.dtype;
    spec.role = "files";
    spec.install_dir =
        request.name.substr(0, request.name.find('/')) + "--" + request.name.substr(request.name.find('/') + 1);
    for (const auto& file : request.files) {
        if (!IsSafeRelativePath(file)) return InvalidArgument("unsafe file path '" + file + "'");
        spec.files.push_back({file, -1, ""});
    }
    return spec;
}

}  // namespace labhouse::models
