// A1111's emphasis syntax: the examples its parser documents, plus the edges a service meets
// (unbalanced and escaped brackets, bad weights, BREAK).
#include "labhouse/engine/prompt_emphasis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

namespace labhouse::engine {
namespace {

using Expected = std::vector<std::pair<std::string, double>>;

void ExpectFragments(const std::string& prompt, const Expected& expected) {
    const auto fragments = ParsePromptEmphasis(prompt);
    ASSERT_EQ(fragments.size(), expected.size()) << prompt;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_FALSE(fragments[i].is_break) << prompt << " #" << i;
        EXPECT_EQ(fragments[i].text, expected[i].first) << prompt << " #" << i;
        EXPECT_NEAR(fragments[i].weight, expected[i].second, 1e-9) << prompt << " #" << i;
    }
}

TEST(PromptEmphasisTest, TheDocumentedExamples) {
    ExpectFragments("normal text", {{"normal text", 1.0}});
    ExpectFragments("an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
    ExpectFragments("(unbalanced", {{"unbalanced", 1.1}});
    ExpectFragments("\\(literal\\]", {{"(literal]", 1.0}});
    ExpectFragments("(unnecessary)(parens)", {{"unnecessaryparens", 1.1}});
    ExpectFragments("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                    {{"a ", 1.0},
                     {"house", 1.573},
                     {" ", 1.1},
                     {"on", 1.0},
                     {" a ", 1.1},
                     {"hill", 0.55},
                     {", sun, ", 1.1},
                     {"sky", 1.4641},
                     {".", 1.1}});
}

TEST(PromptEmphasisTest, WeightsBracketsAndLiterals) {
    ExpectFragments("[faded]", {{"faded", 1 / 1.1}});
    ExpectFragments("(a [b] c:1.5)", {{"a ", 1.5}, {"b", 1.5 / 1.1}, {" c", 1.5}});
    ExpectFragments("( cat : 1.25 )", {{" cat ", 1.25}});
    ExpectFragments("(cat:-1)", {{"cat", -1.0}});
    ExpectFragments("(cat:.5)", {{"cat", 0.5}});
    // Not emphasis: unmatched closers, a colon outside brackets, a weight without brackets.
    ExpectFragments("cat) dog]", {{"cat) dog]", 1.0}});
    ExpectFragments("ratio 16:9, cat:1.2)", {{"ratio 16:9, cat:1.2)", 1.0}});
    // A weight that is not a number stays text (A1111 stops with an error); its bracket still counts.
    ExpectFragments("(cat:1.2.3)", {{"cat:1.2.3)", 1.1}});
    ExpectFragments("(cat:.)", {{"cat:.)", 1.1}});
    // Escapes: \\ is a backslash, a lone backslash is dropped.
    ExpectFragments("a\\\\b \\c", {{"a\\b c", 1.0}});
    ExpectFragments("", {{"", 1.0}});
    ExpectFragments("()", {{"", 1.0}});
}

TEST(PromptEmphasisTest, BreakSeparatesFragments) {
    const auto fragments = ParsePromptEmphasis("a cat  BREAK  (a dog)");
    ASSERT_EQ(fragments.size(), 4u);
    EXPECT_EQ(fragments[0].text, "a cat");
    EXPECT_TRUE(fragments[1].is_break);
    EXPECT_EQ(fragments[2].text, "");
    EXPECT_EQ(fragments[3].text, "a dog");
    EXPECT_NEAR(fragments[3].weight, 1.1, 1e-9);
    // Inside brackets too (A1111 would weigh the word and then read it as text).
    const auto inside = ParsePromptEmphasis("(a BREAK b:1.4)");
    ASSERT_EQ(inside.size(), 3u);
    EXPECT_TRUE(inside[1].is_break);
    EXPECT_NEAR(inside[2].weight, 1.4, 1e-9);
    // Not a BREAK: lower case, part of a word.
    ExpectFragments("break BREAKING xBREAK BREAK_", {{"break BREAKING xBREAK BREAK_", 1.0}});
    const auto leading = ParsePromptEmphasis("BREAK, cat");
    ASSERT_EQ(leading.size(), 3u);
    EXPECT_EQ(leading[0].text, "");
    EXPECT_TRUE(leading[1].is_break);
    EXPECT_EQ(leading[2].text, ", cat");
}

TEST(PromptEmphasisTest, DeepNestingStaysBounded) {
    const std::string deep = std::string(10000, '(') + "cat" + std::string(10000, ')');
    const auto fragments = ParsePromptEmphasis(deep);
    ASSERT_EQ(fragments.size(), 1u);
    EXPECT_EQ(fragments[0].text, "cat");
    EXPECT_FALSE(std::isfinite(fragments[0].weight)) << "1.1^10000 overflows; the service refuses such prompts";
}

}  // namespace
}  // namespace labhouse::engine
