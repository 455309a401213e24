// Base64 (RFC 4648) for the places that carry bytes inside JSON: API images, Stability answers,
// preview events. One codec for all of them.
#pragma once

#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"

namespace labhouse {

// Standard alphabet, padded.
std::string EncodeBase64(std::string_view bytes);

// Accepts the standard and the URL-safe alphabet, ASCII whitespace anywhere, and padding (or its
// absence) at the end. kInvalidArgument for any other character, data after padding, or a dangling
// last character.
Result<std::string> DecodeBase64(std::string_view text);

}  // namespace labhouse
