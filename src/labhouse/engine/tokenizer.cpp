// Mirrors openai/CLIP `clip/simple_tokenizer.py` (bytes_to_unicode, bpe, encode) and Hugging Face
// `tokenization_clip.py` (vocab.json + merges.txt); sdxl-reference.md section 4.
// Deviations, all documented in docs/engine.md: no ftfy (mojibake repair); lower-casing and the
// letter class are ASCII-exact and approximate beyond ASCII (any non-ASCII code point that is not
// in a punctuation/space block counts as a letter).
#include "labhouse/engine/tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "labhouse/engine/prompt_emphasis.h"

namespace labhouse::engine {
namespace {

std::string CodepointToUtf8(std::uint32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return out;
}

// Decodes one UTF-8 code point at text[i]; invalid bytes decode as themselves (Latin-1).
std::uint32_t NextCodepoint(const std::string& text, std::size_t& i) {
    const auto c = static_cast<unsigned char>(text[i]);
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (extra == 0 || i + extra >= text.size()) {
        ++i;
        return c;
    }
    std::uint32_t cp = c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
        const auto cc = static_cast<unsigned char>(text[i + k]);
        if ((cc & 0xC0) != 0x80) {
            ++i;
            return c;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    i += extra + 1;
    return cp;
}

bool IsSpace(std::uint32_t cp) {
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}
bool IsDigit(std::uint32_t cp) {
    return cp >= '0' && cp <= '9';
}
bool IsLetter(std::uint32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
    if (cp == 0xD7 || cp == 0xF7) return false;
    if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows, math
    if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
    if (cp >= 0xFF00 && cp <= 0xFF20) return false;  // full-width punctuation
    if (cp >= 0x1F000) return false;                 // emoji and pictographs
    return !IsSpace(cp);
}

std::string HtmlUnescape(const std::string& s) {
    static const std::pair<const char*, const char*> kNamed[] = {{"amp", "&"},   {"lt", "<"},   {"gt", ">"},
                                                                 {"quot", "\""}, {"apos", "'"}, {"nbsp", "\xC2\xA0"}};
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out.push_back(s[i]);
            continue;
        }
        const std::size_t semi = s.find(';', i);
        if (semi == std::string::npos || semi - i > 10) {
            out.push_back('&');
            continue;
        }
        const std::string entity = s.substr(i + 1, semi - i - 1);
        std::string replacement;
        if (entity.size() > 1 && entity[0] == '#') {
            try {
                const bool hex = entity[1] == 'x' || entity[1] == 'X';
                const unsigned long cp = std::stoul(entity.substr(hex ? 2 : 1), nullptr, hex ? 16 : 10);
                if (cp > 0 && cp < 0x110000) replacement = CodepointToUtf8(static_cast<std::uint32_t>(cp));
            } catch (const std::exception&) {
            }
        } else {
            for (const auto& [name, value] : kNamed) {
                if (entity == name) replacement = value;
            }
        }
        if (replacement.empty()) {
            out.push_back('&');
            continue;
        }
        out += replacement;
        i = semi;
    }
    return out;
}

Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("cannot read tokenizer file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Result<std::string> ReadGz(const std::string& path) {
    gzFile gz = gzopen(path.c_str(), "rb");
    if (gz == nullptr) return NotFound("cannot read tokenizer file '" + path + "'");
    std::string out;
    char buffer[1 << 16];
    int n;
    while ((n = gzread(gz, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<std::size_t>(n));
    const bool failed = n < 0;
    gzclose(gz);
    if (failed) return InvalidArgument("'" + path + "' is not a valid gzip file");
    return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

const char* const kBos = "<|startoftext|>";
const char* const kEos = "<|endoftext|>";

}  // namespace

const std::vector<std::string>& ByteToUnicode() {
    // GPT-2 / CLIP bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100+n.
    static const std::vector<std::string> table = [] {
        std::vector<std::string> t(256);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            t[b] = CodepointToUtf8(printable ? static_cast<std::uint32_t>(b) : 256u + n++);
        }
        return t;
    }();
    return table;
}

const std::vector<std::string>& ByteSymbolsInVocabOrder() {
    static const std::vector<std::string> order = [] {
        std::vector<std::string> printable, others;
        const auto& t = ByteToUnicode();
        for (int b = 0; b < 256; ++b) {
            const bool is_printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            (is_printable ? printable : others).push_back(t[b]);
        }
        printable.insert(printable.end(), others.begin(), others.end());
        return printable;
    }();
    return order;
}

std::string ClipTokenizer::CleanText(const std::string& text) {
    // basic_clean (html.unescape twice, strip) then whitespace_clean then lower().
    const std::string unescaped = HtmlUnescape(HtmlUnescape(text));
    std::string out;
    bool pending_space = false;
    for (std::size_t i = 0; i < unescaped.size();) {
        const std::size_t start = i;
        const std::uint32_t cp = NextCodepoint(unescaped, i);
        if (IsSpace(cp)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
        } else if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x391 && cp <= 0x3A9) ||
                   (cp >= 0x410 && cp <= 0x42F)) {
            out += CodepointToUtf8(cp + 32);  // Latin-1, Greek and Cyrillic capitals sit 32 below their lower case
        } else {
            out.append(unescaped, start, i - start);
        }
    }
    return out;
}

Result<std::unique_ptr<ClipTokenizer>> ClipTokenizer::LoadVocabAndMerges(const std::string& vocab_json_path,
                                                                         const std::string& merges_path) {
    LABHOUSE_ASSIGN_OR_RETURN(std::string vocab_text, ReadFile(vocab_json_path));
    LABHOUSE_ASSIGN_OR_RETURN(std::string merges_text, ReadFile(merges_path));
    std::unique_ptr<ClipTokenizer> tok(new ClipTokenizer());
    try {
        const auto vocab = nlohmann::json::parse(vocab_text);
        if (!vocab.is_object()) return InvalidArgument("'" + vocab_json_path + "' is not a JSON object");
        for (const auto& [token, id] : vocab.items()) {
            if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() > INT_MAX) {
                return InvalidArgument("'" + vocab_json_path + "': bad id for token '" + token + "'");
            }
            tok->vocab_[token] = id.get<int>();
        }
    } catch (const nlohmann::json::exception& e) {
        return InvalidArgument("'" + vocab_json_path + "' is not valid JSON: " + e.what());
    }
    int rank = 0;
    for (const auto& line : SplitLines(merges_text)) {
        if (line.empty() || line.rfind("#version", 0) == 0) continue;
        if (line.find(' ') == std::string::npos)
            return InvalidArgument("'" + merges_path + "': bad merge line '" + line + "'");
        tok->merge_ranks_.emplace(line, rank++);
    }
    LABHOUSE_RETURN_IF_ERROR(tok->Finish());
    return tok;
}

Result<std::unique_ptr<ClipTokenizer>> ClipTokenizer::LoadBpeGz(const std::string& gz_path) {
    LABHOUSE_ASSIGN_OR_RETURN(std::string text, ReadGz(gz_path));
    const auto lines = SplitLines(text);
    // simple_tokenizer.py: merges = lines[1 : 49152 - 256 - 2 + 1]; vocab = bytes, bytes+</w>, merges, specials.
    const std::size_t last = std::min<std::size_t>(lines.size(), 49152 - 256 - 2 + 1);
    std::unique_ptr<ClipTokenizer> tok(new ClipTokenizer());
    const auto& table = ByteSymbolsInVocabOrder();
    int id = 0;
    for (const auto& s : table) tok->vocab_[s] = id++;
    for (const auto& s : table) tok->vocab_[s + "</w>"] = id++;
    for (std::size_t i = 1; i < last; ++i) {
        const auto& line = lines[i];
        const auto space = line.find(' ');
        if (space == std::string::npos)
            return InvalidArgument("'" + gz_path + "': bad merge line " + std::to_string(i));
        tok->merge_ranks_.emplace(line, static_cast<int>(i - 1));
        tok->vocab_.emplace(line.substr(0, space) + line.substr(space + 1), id++);
    }
    tok->vocab_[kBos] = id++;
    tok->vocab_[kEos] = id++;
    LABHOUSE_RETURN_IF_ERROR(tok->Finish());
    return tok;
}

bool ClipTokenizer::DirHasTokenizer(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    return (fs::exists(fs::path(dir) / "vocab.json", ec) && fs::exists(fs::path(dir) / "merges.txt", ec)) ||
           fs::exists(fs::path(dir) / "bpe_simple_vocab_16e6.txt.gz", ec);
}

Result<std::unique_ptr<ClipTokenizer>> ClipTokenizer::LoadFromDir(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(fs::path(dir) / "vocab.json", ec) && fs::exists(fs::path(dir) / "merges.txt", ec)) {
        return LoadVocabAndMerges((fs::path(dir) / "vocab.json").string(), (fs::path(dir) / "merges.txt").string());
    }
    if (fs::exists(fs::path(dir) / "bpe_simple_vocab_16e6.txt.gz", ec)) {
        return LoadBpeGz((fs::path(dir) / "bpe_simple_vocab_16e6.txt.gz").string());
    }
    return NotFound("no CLIP tokenizer in '" + dir +
                    "' (need vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz)");
}

Status ClipTokenizer::Finish() {
    auto bos = vocab_.find(kBos);
    auto eos = vocab_.find(kEos);
    if (bos == vocab_.end() || eos == vocab_.end()) {
        return InvalidArgument("CLIP tokenizer vocabulary lacks <|startoftext|> or <|endoftext|>");
    }
    for (const auto& s : ByteToUnicode()) {
        if (!vocab_.count(s) || !vocab_.count(s + "</w>")) {
            return InvalidArgument("CLIP tokenizer vocabulary lacks the byte symbol '" + s + "'");
        }
    }
    bos_id_ = bos->second;
    eos_id_ = eos->second;
    comma_id_ = vocab_.at(",</w>");  // a byte symbol: present, checked above
    return OkStatus();
}

std::vector<std::string> ClipTokenizer::Bpe(const std::string& word) const {
    if (auto it = cache_.find(word); it != cache_.end()) return it->second;
    // word = UTF-8 of byte-mapped symbols; split into symbols (code points), append </w> to the last.
    std::vector<std::string> symbols;
    for (std::size_t i = 0; i < word.size();) {
        const std::size_t start = i;
        NextCodepoint(word, i);
        symbols.push_back(word.substr(start, i - start));
    }
    if (symbols.empty()) return symbols;
    symbols.back() += "</w>";
    while (symbols.size() > 1) {
        int best_rank = INT_MAX;
        std::size_t best = 0;
        for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
            auto it = merge_ranks_.find(symbols[i] + " " + symbols[i + 1]);
            if (it != merge_ranks_.end() && it->second < best_rank) {
                best_rank = it->second;
                best = i;
            }
        }
        if (best_rank == INT_MAX) break;
        // Merge every occurrence of the best pair, left to right (simple_tokenizer.py `bpe`).
        const std::string first = symbols[best];
        const std::string second = symbols[best + 1];
        std::vector<std::string> merged;
        for (std::size_t i = 0; i < symbols.size();) {
            if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
                merged.push_back(first + second);
                i += 2;
            } else {
                merged.push_back(symbols[i++]);
            }
        }
        symbols = std::move(merged);
    }
    if (cache_.size() < 100000) cache_.emplace(word, symbols);
    return symbols;
}

std::vector<int> ClipTokenizer::Encode(const std::string& text) const {
    const std::string clean = CleanText(text);
    const auto& table = ByteToUnicode();
    std::vector<int> ids;
    auto emit_word = [&](const std::string& raw) {
        std::string mapped;
        for (unsigned char c : raw) mapped += table[c];
        for (const auto& symbol : Bpe(mapped)) {
            auto it = vocab_.find(symbol);
            ids.push_back(it == vocab_.end() ? eos_id_ : it->second);  // HF uses <|endoftext|> as unk
        }
    };
    // The pre-tokenizer regex of simple_tokenizer.py, written out:
    // special tokens | 's|'t|'re|'ve|'m|'ll|'d | letters+ | one digit | [^\s letters digits]+
    static const char* const kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (std::size_t i = 0; i < clean.size();) {
        bool matched = false;
        for (const char* special : {kBos, kEos}) {
            if (clean.compare(i, std::strlen(special), special) == 0) {
                ids.push_back(vocab_.at(special));
                i += std::strlen(special);
                matched = true;
                break;
            }
        }
        if (matched) continue;
        for (const char* c : kContractions) {
            if (clean.compare(i, std::strlen(c), c) == 0) {
                emit_word(c);
                i += std::strlen(c);
                matched = true;
                break;
            }
        }
        if (matched) continue;
        std::size_t j = i;
        const std::uint32_t cp = NextCodepoint(clean, j);
        if (IsSpace(cp)) {
            i = j;
        } else if (IsDigit(cp)) {
            emit_word(clean.substr(i, j - i));
            i = j;
        } else if (IsLetter(cp)) {
            std::size_t k = j;
            while (k < clean.size()) {
                std::size_t next = k;
                if (!IsLetter(NextCodepoint(clean, next))) break;
                k = next;
            }
            emit_word(clean.substr(i, k - i));
            i = k;
        } else {
            std::size_t k = j;
            while (k < clean.size()) {
                std::size_t next = k;
                const std::uint32_t c2 = NextCodepoint(clean, next);
                if (IsSpace(c2) || IsLetter(c2) || IsDigit(c2)) break;
                // A contraction starts a new match in the regex alternation order only at a match
                // boundary, so "''s" stays one punctuation run, as in Python's re.
                k = next;
            }
            emit_word(clean.substr(i, k - i));
            i = k;
        }
    }
    return ids;
}

std::vector<int> ClipTokenizer::EncodeForEncoder(const std::string& text, int pad_id) const {
    std::vector<int> tokens = Encode(text);
    // Truncation: HF keeps BOS + 75 + EOS; open_clip cuts at 77 and sets the last to EOT: the same ids.
    if (tokens.size() > kClipChunkTokens) tokens.resize(kClipChunkTokens);
    return LayOutChunk(tokens, pad_id);
}

std::vector<int> ClipTokenizer::LayOutChunk(const std::vector<int>& tokens, int pad_id) const {
    std::vector<int> ids;
    ids.reserve(kClipContextLength);
    ids.push_back(bos_id_);
    ids.insert(ids.end(), tokens.begin(), tokens.begin() + std::min<std::size_t>(tokens.size(), kClipChunkTokens));
    ids.push_back(eos_id_);
    while (ids.size() < kClipContextLength) ids.push_back(pad_id);
    return ids;
}

std::vector<PromptChunk> ClipTokenizer::SplitIntoChunks(const std::string& prompt, std::size_t max_chunks,
                                                        bool* truncated) const {
    constexpr std::size_t kCommaBacktrack = 20;  // A1111's comma_padding_backtrack default
    std::vector<PromptChunk> chunks;
    PromptChunk current;
    std::optional<std::size_t> last_comma;  // its index in the current chunk
    auto next_chunk = [&] {
        chunks.push_back(std::move(current));
        current = PromptChunk();
        last_comma.reset();
    };
    for (const PromptFragment& fragment : ParsePromptEmphasis(prompt)) {
        if (fragment.is_break) {
            next_chunk();
            continue;
        }
        const auto weight = static_cast<float>(fragment.weight);
        // Each fragment is tokenized on its own, as A1111 does: "a(b)" is two words.
        for (int token : Encode(fragment.text)) {
            if (token == comma_id_) {
                last_comma = current.tokens.size();
            } else if (current.tokens.size() == kClipChunkTokens && last_comma &&
                       kClipChunkTokens - *last_comma <= kCommaBacktrack) {
                const auto keep = static_cast<std::ptrdiff_t>(*last_comma + 1);
                PromptChunk moved{{current.tokens.begin() + keep, current.tokens.end()},
                                  {current.weights.begin() + keep, current.weights.end()}};
                current.tokens.resize(*last_comma + 1);
                current.weights.resize(*last_comma + 1);
                next_chunk();
                current = std::move(moved);
            }
            if (current.tokens.size() == kClipChunkTokens) next_chunk();
            current.tokens.push_back(token);
            current.weights.push_back(weight);
        }
    }
    if (!current.tokens.empty() || chunks.empty()) next_chunk();
    const bool cut = chunks.size() > std::max<std::size_t>(max_chunks, 1);
    if (cut) chunks.resize(std::max<std::size_t>(max_chunks, 1));
    if (truncated != nullptr) *truncated = cut;
    return chunks;
}

}  // namespace labhouse::engine
