#include "labhouse/engine/prompt_emphasis.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace labhouse::engine {
namespace {

constexpr double kBracketWeight = 1.1;  // A1111's round-bracket multiplier

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
// Python's \b word characters, with every non-ASCII byte counted as a letter.
bool IsWordByte(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || std::isalnum(u) || c == '_';
}

// `:` + spaces + [+-]?[.0-9]+ + spaces + `)` at `pos`: the weight and the length of the match.
std::optional<std::pair<double, std::size_t>> MatchWeightClose(const std::string& s, std::size_t pos) {
    std::size_t i = pos + 1;
    while (i < s.size() && IsSpace(s[i])) ++i;
    const std::size_t number_start = i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t digits_start = i;
    while (i < s.size() && (s[i] == '.' || std::isdigit(static_cast<unsigned char>(s[i])))) ++i;
    if (i == digits_start) return std::nullopt;
    const std::string number = s.substr(number_start, i - number_start);
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size() || s[i] != ')') return std::nullopt;
    // Python's float() would refuse "1.2.3" or "."; here such a match is plain text (the caller
    // sees nullopt only for the weight, not for the match).
    char* end = nullptr;
    const double weight = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(weight)) {
        return std::make_pair(std::nan(""), i + 1 - pos);
    }
    return std::make_pair(weight, i + 1 - pos);
}

// Splits plain text on the word BREAK (with the spaces around it), as A1111's re.split does.
void AppendSplitOnBreak(const std::string& text, std::vector<PromptFragment>& out) {
    static const std::string kBreak = "BREAK";
    std::size_t part_start = 0;
    std::size_t search = 0;
    while (true) {
        const std::size_t at = text.find(kBreak, search);
        if (at == std::string::npos) break;
        const std::size_t after = at + kBreak.size();
        const bool whole_word = (at == 0 || !IsWordByte(text[at - 1])) && (after == text.size() || !IsWordByte(text[after]));
        if (!whole_word) {
            search = at + 1;
            continue;
        }
        std::size_t cut = at;
        while (cut > part_start && IsSpace(text[cut - 1])) --cut;
        std::size_t resume = after;
        while (resume < text.size() && IsSpace(text[resume])) ++resume;
        out.push_back({text.substr(part_start, cut - part_start), 1.0, false});
        out.push_back({"", 1.0, true});
        part_start = search = resume;
    }
    out.push_back({text.substr(part_start), 1.0, false});
}

}  // namespace

std::vector<PromptFragment> ParsePromptEmphasis(const std::string& prompt) {
    std::vector<PromptFragment> parts;
    std::vector<std::size_t> round, square;  // where each open bracket's fragments start
    auto multiply_from = [&](std::size_t start, double factor) {
        for (std::size_t i = start; i < parts.size(); ++i) parts[i].weight *= factor;
    };
    std::size_t pos = 0;
    while (pos < prompt.size()) {
        const char c = prompt[pos];
        if (c == '\\') {
            // An escaped bracket or backslash is that character; a lone backslash is dropped.
            const char next = pos + 1 < prompt.size() ? prompt[pos + 1] : '\0';
            if (next == '(' || next == ')' || next == '[' || next == ']' || next == '\\') {
                parts.push_back({std::string(1, next), 1.0, false});
                pos += 2;
            } else {
                pos += 1;
            }
            continue;
        }
        if (c == '(') {
            round.push_back(parts.size());
            ++pos;
            continue;
        }
        if (c == '[') {
            square.push_back(parts.size());
            ++pos;
            continue;
        }
        if (c == ':') {
            const auto weight_close = MatchWeightClose(prompt, pos);
            if (weight_close && !round.empty() && !std::isnan(weight_close->first)) {
                multiply_from(round.back(), weight_close->first);
                round.pop_back();
                pos += weight_close->second;
                continue;
            }
            const std::size_t length = weight_close ? weight_close->second : 1;
            AppendSplitOnBreak(prompt.substr(pos, length), parts);
            pos += length;
            continue;
        }
        if (c == ')' && !round.empty()) {
            multiply_from(round.back(), kBracketWeight);
            round.pop_back();
            ++pos;
            continue;
        }
        if (c == ']' && !square.empty()) {
            multiply_from(square.back(), 1.0 / kBracketWeight);
            square.pop_back();
            ++pos;
            continue;
        }
        if (c == ')' || c == ']') {
            AppendSplitOnBreak(std::string(1, c), parts);
            ++pos;
            continue;
        }
        std::size_t end = pos;
        while (end < prompt.size() && prompt[end] != '\\' && prompt[end] != '(' && prompt[end] != ')' &&
               prompt[end] != '[' && prompt[end] != ']' && prompt[end] != ':') {
            ++end;
        }
        AppendSplitOnBreak(prompt.substr(pos, end - pos), parts);
        pos = end;
    }
    for (std::size_t start : round) multiply_from(start, kBracketWeight);
    for (std::size_t start : square) multiply_from(start, 1.0 / kBracketWeight);

    std::vector<PromptFragment> joined;
    for (auto& part : parts) {
        if (!joined.empty() && !part.is_break && !joined.back().is_break && joined.back().weight == part.weight) {
            joined.back().text += part.text;
        } else {
            joined.push_back(std::move(part));
        }
    }
    if (joined.empty()) joined.push_back({"", 1.0, false});
    return joined;
}

}  // namespace labhouse::engine
