// The request readers of the compatibility APIs (OpenAI images, AUTOMATIC1111 /sdapi/v1): outside
// bytes -> a SubmitRequest, or an error naming what is wrong. Pure functions (no server state), so
// the routes and the fuzz target (tests/fuzz/fuzz_compat_request.cpp) run the same code.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "labhouse/core/base/result.h"
#include "labhouse/core/usecases/submit_job.h"

namespace labhouse::http {

// POST /v1/images/edits and /v1/images/generations.
struct OpenAiImageRequest {
    SubmitRequest submit;
    std::string response_format = "b64_json";
};

// The multipart fields of an edit; `param` names the offending field on error (OpenAI's "param").
Result<OpenAiImageRequest> ParseOpenAiEdit(const httplib::MultipartFormDataMap& files, std::string& param);
// The JSON body of a generation (a text-to-image job).
Result<OpenAiImageRequest> ParseOpenAiGeneration(std::string_view body, std::string& param);

// POST /sdapi/v1/img2img and /sdapi/v1/txt2img.
struct A1111Request {
    SubmitRequest submit;
    std::vector<std::string> ignored;  // fields with no labhouse meaning, reported in info
    std::string sampler_name;          // as the client named it
};

// A1111 sampler names -> labhouse sampler ids (GET /sdapi/v1/samplers lists them).
const std::map<std::string, std::string>& A1111Samplers();

Result<A1111Request> ParseA1111Img2Img(std::string_view body);
Result<A1111Request> ParseA1111Txt2Img(std::string_view body);

}  // namespace labhouse::http
