// What the compatibility APIs (OpenAI images, AUTOMATIC1111 /sdapi) share: base64, and waiting
// synchronously for a job those APIs submit. The job is an ordinary job: it stays in the gallery
// and the jobs API whatever happens to the synchronous request.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "labhouse/core/base/result.h"
#include "labhouse/core/domain/job.h"

namespace labhouse::http {

struct RouteContext;

// An image field of a compatibility body: plain base64 or a data URL ("data:image/png;base64,...")
// (core/base/base64.h). kInvalidArgument naming `field` when it is not base64 or empty.
Result<std::string> DecodeBase64Field(const std::string& field, std::string_view text);

// Waits until the job ends or `timeout` passes (events, with a repository re-read every half
// second so a worker in another process is seen too). kDeadlineExceeded (naming the job id, so the
// client can still fetch it) on timeout; kUnavailable when the server is shutting down.
Result<Job> WaitForFinish(RouteContext& ctx, const std::string& job_id, std::chrono::seconds timeout);

// The result image's bytes (PNG) of a succeeded job.
Result<std::string> ResultBytes(RouteContext& ctx, const Job& job);

}  // namespace labhouse::http
