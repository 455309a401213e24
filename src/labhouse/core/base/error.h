// Error values that cross every port boundary. Codes are a subset of the canonical gRPC/absl
// codes; the HTTP adapter maps each one to a status in one place (adapters/http/error_mapping.cpp):
// add the mapping when adding a code.
#pragma once

#include <string>
#include <string_view>

namespace labhouse {

enum class ErrorCode {
    kInvalidArgument,
    kNotFound,
    kAlreadyExists,
    kFailedPrecondition,
    kResourceExhausted,
    kPayloadTooLarge,  // an upload over the byte or pixel limit (HTTP 413)
    kCancelled,
    kDeadlineExceeded,
    kUnavailable,
    kUnimplemented,
    kInternal,
};

// The wire name of a code: "INVALID_ARGUMENT", "NOT_FOUND", ...
std::string_view ErrorCodeName(ErrorCode code);
// The inverse of ErrorCodeName; unknown names give kInternal.
ErrorCode ErrorCodeFromName(std::string_view name);

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
    // A domain-specific reason that replaces the generic code name in job records and API bodies,
    // e.g. "NO_FACE" or "CONTENT_FILTERED". Empty means "use ErrorCodeName(code)".
    std::string reason;

    std::string Name() const { return reason.empty() ? std::string(ErrorCodeName(code)) : reason; }
};

inline Error InvalidArgument(std::string message) { return {ErrorCode::kInvalidArgument, std::move(message), {}}; }
inline Error NotFound(std::string message) { return {ErrorCode::kNotFound, std::move(message), {}}; }
inline Error AlreadyExists(std::string message) { return {ErrorCode::kAlreadyExists, std::move(message), {}}; }
inline Error FailedPrecondition(std::string message) {
    return {ErrorCode::kFailedPrecondition, std::move(message), {}};
}
inline Error ResourceExhausted(std::string message) {
    return {ErrorCode::kResourceExhausted, std::move(message), {}};
}
inline Error PayloadTooLarge(std::string message) { return {ErrorCode::kPayloadTooLarge, std::move(message), {}}; }
inline Error Cancelled(std::string message) { return {ErrorCode::kCancelled, std::move(message), {}}; }
inline Error DeadlineExceeded(std::string message) {
    return {ErrorCode::kDeadlineExceeded, std::move(message), {}};
}
inline Error Unavailable(std::string message) { return {ErrorCode::kUnavailable, std::move(message), {}}; }
inline Error Unimplemented(std::string message) { return {ErrorCode::kUnimplemented, std::move(message), {}}; }
inline Error Internal(std::string message) { return {ErrorCode::kInternal, std::move(message), {}}; }

}  // namespace labhouse
