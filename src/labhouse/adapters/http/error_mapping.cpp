#include "labhouse/adapters/http/error_mapping.h"

namespace labhouse::http {

int HttpStatusFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return 400;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kFailedPrecondition: return 409;
        case ErrorCode::kPayloadTooLarge: return 413;
        case ErrorCode::kResourceExhausted: return 429;
        case ErrorCode::kUnimplemented: return 501;
        case ErrorCode::kUnavailable: return 503;
        case ErrorCode::kDeadlineExceeded: return 504;
        case ErrorCode::kCancelled:
        case ErrorCode::kInternal: return 500;
    }
    return 500;
}

nlohmann::json ErrorBody(const std::string& code, const std::string& message) {
    return {{"error", {{"code", code}, {"message", message}}}};
}

nlohmann::json ErrorBody(const Error& error) { return ErrorBody(error.Name(), error.message); }

}  // namespace labhouse::http
