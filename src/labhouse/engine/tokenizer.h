// CLIP byte-level BPE tokenizer, shared by both SDXL text encoders (sdxl-reference.md section 4,
// mirroring openai/CLIP `simple_tokenizer.py` and open_clip `tokenizer.py`). No torch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "labhouse/core/base/result.h"

namespace labhouse::engine {

inline constexpr int kClipContextLength = 77;
// Tokens of one prompt chunk between its BOS and EOS.
inline constexpr int kClipChunkTokens = kClipContextLength - 2;

// Up to 75 tokens of a prompt and each one's emphasis weight (1 = none).
struct PromptChunk {
    std::vector<int> tokens;
    std::vector<float> weights;
};

class ClipTokenizer {
public:
    // `dir` holds vocab.json + merges.txt (Hugging Face layout) or bpe_simple_vocab_16e6.txt.gz (OpenAI/open_clip).
    static Result<std::unique_ptr<ClipTokenizer>> LoadFromDir(const std::string& dir);
    static Result<std::unique_ptr<ClipTokenizer>> LoadVocabAndMerges(const std::string& vocab_json_path,
                                                                     const std::string& merges_path);
    static Result<std::unique_ptr<ClipTokenizer>> LoadBpeGz(const std::string& gz_path);
    // True when `dir` has one of the two layouts.
    static bool DirHasTokenizer(const std::string& dir);

    // Text clean-up (HTML unescape twice, whitespace collapse, strip, lower-case) then BPE; no BOS/EOS.
    std::vector<int> Encode(const std::string& text) const;
    // [BOS] + up to 75 tokens + [EOS], then `pad_id` up to 77 (CLIP-L pads with EOS, bigG with 0: section 3.3).
    std::vector<int> EncodeForEncoder(const std::string& text, int pad_id) const;
    // Long prompts as AUTOMATIC1111 encodes them: the prompt's emphasis parsed
    // (ParsePromptEmphasis), then its tokens in chunks of at most 75 (no BOS/EOS), each with its
    // tokens' weights, to be laid out by LayOutChunk and encoded on its own. A chunk that fills up
    // ends after the last comma among its last 20 tokens instead, moving the phrase after it to
    // the next chunk; BREAK ends a chunk. At least one chunk ("" gives one empty chunk), at most
    // `max_chunks`: the rest is dropped and `*truncated` (if given) set.
    std::vector<PromptChunk> SplitIntoChunks(const std::string& prompt, std::size_t max_chunks,
                                             bool* truncated = nullptr) const;
    // [BOS] + tokens (at most 75) + [EOS], then `pad_id` up to 77.
    std::vector<int> LayOutChunk(const std::vector<int>& tokens, int pad_id) const;

    int bos_id() const { return bos_id_; }
    int eos_id() const { return eos_id_; }
    int vocab_size() const { return static_cast<int>(vocab_.size()); }

    static std::string CleanText(const std::string& text);

private:
    ClipTokenizer() = default;
    Status Finish();
    std::vector<std::string> Bpe(const std::string& word) const;

    std::unordered_map<std::string, int> vocab_;
    std::unordered_map<std::string, int> merge_ranks_;  // "left right" -> rank
    int bos_id_ = -1;
    int eos_id_ = -1;
    int comma_id_ = -1;  // ",</w>"
    mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
};

// The GPT-2 byte -> unicode table (as UTF-8 strings), index = byte value.
const std::vector<std::string>& ByteToUnicode();
// The same 256 symbols in CLIP's vocabulary order (ids 0-255): the printable bytes first, then the
// 68 remapped ones (`list(bytes_to_unicode().values())`).
const std::vector<std::string>& ByteSymbolsInVocabOrder();

}  // namespace labhouse::engine
