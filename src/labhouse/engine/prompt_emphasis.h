// AUTOMATIC1111's prompt emphasis syntax, which its users (and the /sdapi/v1 clients) write:
// `(words)` weighs the words 1.1x, `[words]` 1/1.1x, `(words:1.3)` 1.3x, brackets nest and
// multiply, `\(` `\)` `\[` `\]` `\\` are the literal characters, and the word BREAK (upper case, on
// its own) ends the current 75-token chunk. An unclosed bracket weighs the rest of the prompt; an
// unmatched closing one is literal text. No torch.
#pragma once

#include <string>
#include <vector>

namespace labhouse::engine {

struct PromptFragment {
    std::string text;
    double weight = 1.0;
    bool is_break = false;  // BREAK: start a new chunk (text empty)
};

// The prompt as fragments of text with their weights, neighbours of equal weight joined (the
// tokenizer sees each fragment on its own, as in A1111). At least one fragment. A weight that does
// not parse as a finite number, e.g. `(a:1.2.3)`, leaves its text literal.
std::vector<PromptFragment> ParsePromptEmphasis(const std::string& prompt);

}  // namespace labhouse::engine
