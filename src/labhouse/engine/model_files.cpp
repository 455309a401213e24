// Where the tokenizer files of a model are found (issue 4: beside the model, in the models dir,
// or given explicitly). No torch.
#include <cstdlib>
#include <filesystem>

#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/tokenizer.h"

namespace labhouse::engine {

Result<std::string> FindTokenizerDir(const std::string& model_path, const std::string& explicit_dir) {
    namespace fs = std::filesystem;
    if (!explicit_dir.empty()) {
        if (ClipTokenizer::DirHasTokenizer(explicit_dir)) return explicit_dir;
        return NotFound("no CLIP tokenizer in '" + explicit_dir +
                        "' (need vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz)");
    }
    std::vector<std::string> candidates;
    std::error_code ec;
    if (fs::is_directory(model_path, ec))
        candidates.push_back((fs::path(model_path) / "tokenizer").string());  // diffusers folder
    const fs::path model_dir = fs::path(model_path).parent_path();
    candidates.push_back(model_dir.empty() ? "." : model_dir.string());
    candidates.push_back((model_dir / "tokenizer").string());
    if (const char* models = std::getenv("LABHOUSE_MODELS_DIR"); models != nullptr && *models != '\0') {
        candidates.push_back(models);
        candidates.push_back((fs::path(models) / "tokenizer").string());
    }
    for (const auto& dir : candidates) {
        if (ClipTokenizer::DirHasTokenizer(dir)) return dir;
    }
    std::string tried;
    for (const auto& dir : candidates) tried += (tried.empty() ? "" : ", ") + dir;
    return NotFound("no CLIP tokenizer files (vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz) found in " +
                    tried + "; pass --tokenizer DIR or set LABHOUSE_MODELS_DIR");
}

}  // namespace labhouse::engine
