#include "labhouse/core/base/error.h"

#include <array>
#include <utility>

namespace labhouse {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 11> kNames{{
    {ErrorCode::kInvalidArgument, "INVALID_ARGUMENT"},
    {ErrorCode::kNotFound, "NOT_FOUND"},
    {ErrorCode::kAlreadyExists, "ALREADY_EXISTS"},
    {ErrorCode::kFailedPrecondition, "FAILED_PRECONDITION"},
    {ErrorCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
    {ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE"},
    {ErrorCode::kCancelled, "CANCELLED"},
    {ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
    {ErrorCode::kUnavailable, "UNAVAILABLE"},
    {ErrorCode::kUnimplemented, "UNIMPLEMENTED"},
    {ErrorCode::kInternal, "INTERNAL"},
}};
}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
    for (const auto& [c, name] : kNames) {
        if (c == code) return name;
    }
    return "INTERNAL";
}

ErrorCode ErrorCodeFromName(std::string_view name) {
    for (const auto& [c, n] : kNames) {
        if (n == name) return c;
    }
    return ErrorCode::kInternal;
}

}  // namespace labhouse
