#include "labhouse/engine/tokenizer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>

#include "labhouse/engine/tiny_model.h"
#include "tests/engine/test_util.h"

namespace labhouse::engine {
namespace {

using testing::TempDir;

// A hand-built vocabulary: the 512 byte symbols in bytes_to_unicode order, then these merges.
const std::vector<std::string> kMerges = {"c a", "ca t</w>", "h o", "p ho", "pho t", "phot o</w>"};
// ids: ca 512, cat</w> 513, ho 514, pho 515, phot 516, photo</w> 517, BOS 518, EOS 519.

void WriteHfFiles(const std::string& dir) {
    std::string vocab = "{";
    int id = 0;
    auto add = [&](const std::string& token) {
        std::string escaped;
        for (char c : token) escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        vocab += id == 0 ? "\"" : ",\"";
        vocab += escaped + "\":" + std::to_string(id);
        ++id;
    };
    for (const auto& s : ByteSymbolsInVocabOrder()) add(s);
    for (const auto& s : ByteSymbolsInVocabOrder()) add(s + "</w>");
    for (const auto& m : kMerges) add(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
    add("<|startoftext|>");
    add("<|endoftext|>");
    std::ofstream(dir + "/vocab.json") << vocab << "}";
    std::ofstream merges(dir + "/merges.txt");
    merges << "#version: 0.2\n";
    for (const auto& m : kMerges) merges << m << "\n";
}

class TokenizerTest : public ::testing::Test {
protected:
    void SetUp() override {
        WriteHfFiles(dir_.path().string());
        auto tok = ClipTokenizer::LoadFromDir(dir_.path().string());
        ASSERT_TRUE(tok.has_value()) << tok.error().message;
        tok_ = std::move(tok).value();
    }
    TempDir dir_{"tok"};
    std::unique_ptr<ClipTokenizer> tok_;
};

TEST_F(TokenizerTest, ByteTableMatchesClip) {
    const auto& t = ByteToUnicode();
    EXPECT_EQ(t['!'], "!");  // id 0 is "!"
    EXPECT_EQ(t['a'], "a");
    EXPECT_EQ(t[' '], "\xC4\xA0");  // U+0120, the famous GPT-2 space
    EXPECT_EQ(t[0], "\xC4\x80");    // U+0100
    EXPECT_EQ(ByteSymbolsInVocabOrder()[0], "!");
    EXPECT_EQ(ByteSymbolsInVocabOrder()[188], "\xC4\x80");  // the first remapped byte follows the 188 printable ones
    EXPECT_EQ(tok_->bos_id(), 518);
    EXPECT_EQ(tok_->eos_id(), 519);
}

TEST_F(TokenizerTest, BpeMergesByRank) {
    // "a</w>" = 256 + 64 = 320 as in the real vocabulary; photo merges h-o first (rank 2), then up.
    EXPECT_EQ(tok_->Encode("a photo of a cat"), (std::vector<int>{320, 517, 78, 325, 320, 513}));
    // "cats": "c a" applies but "ca t</w>" does not (t is not final) -> ca, t, s</w>.
    EXPECT_EQ(tok_->Encode("cats"), (std::vector<int>{512, 83, 256 + 82}));
}

TEST_F(TokenizerTest, PreTokenizerSplitsPunctuationDigitsAndContractions) {
    // Same byte-level ids as the real vocabulary for ",</w>" 267, "4</w>" 275, "k</w>" 330.
    EXPECT_EQ(tok_->Encode("Cat, 4k"), (std::vector<int>{513, 267, 275, 330}));
    // Digits are single tokens; a punctuation run is one pre-token ("!!" -> "!", "!</w>").
    EXPECT_EQ(tok_->Encode("42!!"), (std::vector<int>{256 + 19, 256 + 17, 0, 256}));
    // "it's" -> "it", "'s" (contraction alternative of the regex).
    EXPECT_EQ(tok_->Encode("it's"), (std::vector<int>{72, 256 + 83, 6, 256 + 82}));
}

TEST_F(TokenizerTest, CleanUp) {
    EXPECT_EQ(ClipTokenizer::CleanText("  A   Photo\t\n OF  a CAT  "), "a photo of a cat");
    EXPECT_EQ(ClipTokenizer::CleanText("rock &amp;amp; roll &lt;3 &#65;"), "rock & roll <3 a");  // unescaped twice
    EXPECT_EQ(ClipTokenizer::CleanText("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");               // ÉTÉ -> été
    EXPECT_EQ(tok_->Encode("  A  PHOTO  "), tok_->Encode("a photo"));
    EXPECT_TRUE(tok_->Encode("").empty());
}

TEST_F(TokenizerTest, PaddingRulesPerEncoder) {
    const auto l = tok_->EncodeForEncoder("a cat", tok_->eos_id());  // CLIP-L pads with EOS
    const auto g = tok_->EncodeForEncoder("a cat", 0);               // bigG pads with 0
    ASSERT_EQ(l.size(), 77u);
    ASSERT_EQ(g.size(), 77u);
    EXPECT_EQ((std::vector<int>(l.begin(), l.begin() + 5)), (std::vector<int>{518, 320, 513, 519, 519}));
    EXPECT_EQ((std::vector<int>(g.begin(), g.begin() + 5)), (std::vector<int>{518, 320, 513, 519, 0}));
    EXPECT_EQ(l.back(), 519);
    EXPECT_EQ(g.back(), 0);
    EXPECT_EQ(tok_->EncodeForEncoder("", 0)[1], 519);  // "" -> BOS EOS
}

TEST_F(TokenizerTest, TruncatesTo77KeepingEos) {
    std::string long_prompt;
    for (int i = 0; i < 100; ++i) long_prompt += "cat ";
    const auto ids = tok_->EncodeForEncoder(long_prompt, 0);
    ASSERT_EQ(ids.size(), 77u);
    EXPECT_EQ(ids[0], 518);
    EXPECT_EQ(ids[75], 513);
    EXPECT_EQ(ids[76], 519);
}

TEST_F(TokenizerTest, LongPromptsSplitIntoChunksOf75) {
    std::string prompt;
    for (int i = 0; i < 100; ++i) prompt += "cat ";
    bool truncated = true;
    const auto chunks = tok_->SplitIntoChunks(prompt, 8, &truncated);
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].tokens, std::vector<int>(75, 513));
    EXPECT_EQ(chunks[1].tokens, std::vector<int>(25, 513));
    EXPECT_EQ(chunks[1].weights, std::vector<float>(25, 1.f));
    EXPECT_FALSE(truncated);
    const auto laid_out = tok_->LayOutChunk(chunks[1].tokens, 0);
    ASSERT_EQ(laid_out.size(), 77u);
    EXPECT_EQ(laid_out[0], 518);
    EXPECT_EQ(laid_out[25], 513);
    EXPECT_EQ(laid_out[26], 519);
    EXPECT_EQ(laid_out[27], 0);
    EXPECT_EQ(tok_->LayOutChunk(chunks[0].tokens, 0), tok_->EncodeForEncoder(prompt, 0));  // the first chunk as before

    // Exactly 75 tokens: one chunk; "" one empty chunk.
    std::string exact;
    for (int i = 0; i < 75; ++i) exact += "cat ";
    EXPECT_EQ(tok_->SplitIntoChunks(exact, 8).size(), 1u);
    const auto empty = tok_->SplitIntoChunks("", 8, &truncated);
    ASSERT_EQ(empty.size(), 1u);
    EXPECT_TRUE(empty[0].tokens.empty());
    EXPECT_FALSE(truncated);

    // More than max_chunks: the tail is dropped and reported.
    std::string endless;
    for (int i = 0; i < 400; ++i) endless += "cat ";
    const auto cut = tok_->SplitIntoChunks(endless, 2, &truncated);
    EXPECT_EQ(cut.size(), 2u);
    EXPECT_TRUE(truncated);
}

TEST_F(TokenizerTest, AFullChunkEndsAtARecentComma) {
    const int comma = tok_->Encode(",").at(0);
    // 70 cats, a comma, 10 cats: the chunk fills after 4 of the 10, so it ends at the comma and the
    // phrase after it starts the next chunk (A1111's comma backtrack, up to 20 tokens).
    std::string prompt;
    for (int i = 0; i < 70; ++i) prompt += "cat ";
    prompt += ", ";
    for (int i = 0; i < 10; ++i) prompt += "cat ";
    const auto chunks = tok_->SplitIntoChunks(prompt, 8);
    ASSERT_EQ(chunks.size(), 2u);
    ASSERT_EQ(chunks[0].tokens.size(), 71u);
    EXPECT_EQ(chunks[0].tokens.back(), comma);
    EXPECT_EQ(chunks[1].tokens, std::vector<int>(10, 513));
    // A comma further back than 20 tokens does not move anything.
    std::string far;
    for (int i = 0; i < 10; ++i) far += "cat ";
    far += ", ";
    for (int i = 0; i < 80; ++i) far += "cat ";
    const auto kept = tok_->SplitIntoChunks(far, 8);
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[0].tokens.size(), 75u);
    EXPECT_EQ(kept[1].tokens.size(), 16u);
    // A comma arriving when the chunk is full starts the next chunk; it moves nothing (A1111).
    std::string comma_last;
    for (int i = 0; i < 70; ++i) comma_last += "cat ";
    comma_last += ", cat cat cat cat , cat";
    const auto at_comma = tok_->SplitIntoChunks(comma_last, 8);
    ASSERT_EQ(at_comma.size(), 2u);
    EXPECT_EQ(at_comma[0].tokens.size(), 75u);
    EXPECT_EQ(at_comma[1].tokens, (std::vector<int>{comma, 513}));
}

TEST_F(TokenizerTest, EmphasisWeighsTheTokensOfEachFragment) {
    // "(cat:1.5) [photo] cat": 1.5 for the first cat, 1/1.1 for photo, 1 for the last cat.
    const auto chunks = tok_->SplitIntoChunks("(cat:1.5) [photo] cat", 8);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].tokens, (std::vector<int>{513, 517, 513}));
    ASSERT_EQ(chunks[0].weights.size(), 3u);
    EXPECT_FLOAT_EQ(chunks[0].weights[0], 1.5f);
    EXPECT_FLOAT_EQ(chunks[0].weights[1], static_cast<float>(1 / 1.1));
    EXPECT_FLOAT_EQ(chunks[0].weights[2], 1.f);
    // Brackets are not tokens: the weighted prompt has the plain prompt's ids.
    EXPECT_EQ(chunks[0].tokens, tok_->SplitIntoChunks("cat photo cat", 8)[0].tokens);
    // Escaped brackets are text.
    const auto literal = tok_->SplitIntoChunks("\\(cat\\)", 8);
    EXPECT_EQ(literal[0].tokens, tok_->Encode("(cat)"));
    EXPECT_EQ(literal[0].weights, std::vector<float>(literal[0].tokens.size(), 1.f));
}

TEST_F(TokenizerTest, BreakEndsAChunk) {
    const auto chunks = tok_->SplitIntoChunks("cat BREAK photo, cat", 8);
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].tokens, (std::vector<int>{513}));
    EXPECT_EQ(chunks[1].tokens, tok_->Encode("photo, cat"));
    // A leading BREAK leaves an empty first chunk, a trailing one adds nothing (A1111).
    EXPECT_EQ(tok_->SplitIntoChunks("BREAK cat", 8).size(), 2u);
    EXPECT_TRUE(tok_->SplitIntoChunks("BREAK cat", 8)[0].tokens.empty());
    EXPECT_EQ(tok_->SplitIntoChunks("cat BREAK", 8).size(), 1u);
    // Only the upper-case word on its own.
    EXPECT_EQ(tok_->SplitIntoChunks("cat break catBREAK", 8).size(), 1u);
}

TEST_F(TokenizerTest, GzipBpeFileGivesTheSameIds) {
    TempDir gz_dir("tok-gz");
    gzFile gz = gzopen(gz_dir.File("bpe_simple_vocab_16e6.txt.gz").c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    std::string text = "\"bpe_simple_vocab_16e6.txt#version: 0.2\n";
    for (const auto& m : kMerges) text += m + "\n";
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
    auto tok = ClipTokenizer::LoadFromDir(gz_dir.path().string());
    ASSERT_TRUE(tok.has_value()) << tok.error().message;
    EXPECT_EQ((*tok)->Encode("a photo of a cat"), tok_->Encode("a photo of a cat"));
    EXPECT_EQ((*tok)->eos_id(), 519);
}

TEST(TokenizerFilesTest, MissingOrBrokenFiles) {
    TempDir dir("tok-missing");
    auto missing = ClipTokenizer::LoadFromDir(dir.path().string());
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("no CLIP tokenizer"), std::string::npos);
    std::ofstream(dir.File("vocab.json")) << "[1,2";
    std::ofstream(dir.File("merges.txt")) << "#version: 0.2\n";
    auto broken = ClipTokenizer::LoadFromDir(dir.path().string());
    ASSERT_FALSE(broken.has_value());
    EXPECT_NE(broken.error().message.find("vocab.json"), std::string::npos) << broken.error().message;
}

TEST(TokenizerFilesTest, TinyTokenizerKeepsListedWordsWhole) {
    TempDir dir("tok-tiny");
    auto size = WriteTinyTokenizer(dir.path().string());
    ASSERT_TRUE(size.has_value());
    auto tok = ClipTokenizer::LoadFromDir(dir.path().string());
    ASSERT_TRUE(tok.has_value()) << tok.error().message;
    EXPECT_EQ((*tok)->vocab_size(), *size);
    EXPECT_EQ((*tok)->Encode("a photo of a cat in the style of van gogh").size(), 11u);
    EXPECT_EQ((*tok)->eos_id(), *size - 1);
}

// The reference ids of sdxl-reference.md section 4.3 need the real 49,408-token vocabulary, which
// cannot be downloaded here. Point LABHOUSE_CLIP_TOKENIZER_DIR at a directory holding it
// (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) to run this check.
TEST(RealVocabularyTest, ReferenceTokenIds) {
    const char* dir = std::getenv("LABHOUSE_CLIP_TOKENIZER_DIR");
    if (dir == nullptr) GTEST_SKIP() << "set LABHOUSE_CLIP_TOKENIZER_DIR to the real CLIP vocabulary to run";
    auto tok = ClipTokenizer::LoadFromDir(dir);
    ASSERT_TRUE(tok.has_value()) << tok.error().message;
    EXPECT_EQ((*tok)->vocab_size(), 49408);
    auto with_specials = [&](const std::string& text) {
        std::vector<int> ids = {(*tok)->bos_id()};
        for (int id : (*tok)->Encode(text)) ids.push_back(id);
        ids.push_back((*tok)->eos_id());
        return ids;
    };
    EXPECT_EQ(with_specials("a photo of a cat"), (std::vector<int>{49406, 320, 1125, 539, 320, 2368, 49407}));
    EXPECT_EQ(with_specials("A lovely cat, 4k HDR!!"),
              (std::vector<int>{49406, 320, 2165, 2368, 267, 275, 330, 28065, 748, 49407}));
    EXPECT_EQ(with_specials(""), (std::vector<int>{49406, 49407}));
}

}  // namespace
}  // namespace labhouse::engine
