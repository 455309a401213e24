// What POST /api/v1/jobs and GET /api/v1/jobs read from a request, without the request: the
// multipart fields (as cpp-httplib parsed them) and the query parameters. Pure functions, so the
// fuzz target tests/fuzz/fuzz_api_request.cpp can call them directly.
#pragma once

#include <functional>
#include <string>

#include <httplib.h>

#include "labhouse/core/base/result.h"
#include "labhouse/core/ports/job_repository.h"
#include "labhouse/core/usecases/submit_job.h"

namespace labhouse::http {

// Checks a webhook_url; empty = webhooks are disabled on this server.
using WebhookValidator = std::function<Status(const std::string&)>;

// The fields of a job submission: unknown or repeated fields, numbers that are not entirely
// numbers or out of range, and a webhook_url the validator refuses are kInvalidArgument. Without
// an 'image' file the job is text-to-image and must give width or height. The idempotency key
// and owner are left for the caller (they come from headers).
Result<SubmitRequest> ParseSubmitForm(const httplib::MultipartFormDataMap& files,
                                      const WebhookValidator& validate_webhook_url);

// status, limit (1..100) and cursor; any other parameter is kInvalidArgument. The owner filter
// is left for the caller.
Result<JobListQuery> ParseJobListQuery(const httplib::Params& params);

}  // namespace labhouse::http
