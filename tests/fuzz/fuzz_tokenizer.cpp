// libFuzzer target: the CLIP BPE tokenizer's vocab.json / merges.txt loaders, its text clean-up,
// the prompt emphasis parser, encoding and chunking. Input: vocab JSON, a NUL byte, merges text, a NUL byte, a prompt.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "labhouse/engine/prompt_emphasis.h"
#include "labhouse/engine/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const auto first = input.find('\0');
    const auto second = first == std::string::npos ? std::string::npos : input.find('\0', first + 1);
    const std::string prompt = second == std::string::npos ? input : input.substr(second + 1);
    (void)labhouse::engine::ClipTokenizer::CleanText(prompt);
    for (const auto& fragment : labhouse::engine::ParsePromptEmphasis(prompt)) {
        if (fragment.is_break && !fragment.text.empty()) __builtin_trap();
    }
    if (second == std::string::npos) return 0;
    static const std::string dir = [] {
        char pattern[] = "/tmp/labhouse-fuzz-tok-XXXXXX";
        return std::string(mkdtemp(pattern));
    }();
    std::ofstream(dir + "/vocab.json", std::ios::binary | std::ios::trunc) << input.substr(0, first);
    std::ofstream(dir + "/merges.txt", std::ios::binary | std::ios::trunc) << input.substr(first + 1, second - first - 1);
    auto tokenizer = labhouse::engine::ClipTokenizer::LoadVocabAndMerges(dir + "/vocab.json", dir + "/merges.txt");
    if (tokenizer) {
        auto ids = (*tokenizer)->EncodeForEncoder(prompt, 0);
        if (ids.size() != static_cast<std::size_t>(labhouse::engine::kClipContextLength)) __builtin_trap();
        for (const auto& chunk : (*tokenizer)->SplitIntoChunks(prompt, 8)) {
            if (chunk.tokens.size() != chunk.weights.size() ||
                chunk.tokens.size() > static_cast<std::size_t>(labhouse::engine::kClipChunkTokens)) {
                __builtin_trap();
            }
        }
    }
    return 0;
}
