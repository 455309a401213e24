// Pure mapping logic: settings resolution and ranges, multipart layout, error classification,
// config validation and redaction.
#include <gtest/gtest.h>

#include <map>

#include "labhouse/core/base/base64.h"
#include "labhouse/adapters/stability/request_builder.h"
#include "labhouse/adapters/stability/response_parser.h"
#include "labhouse/adapters/stability/stability_config.h"

namespace labhouse::stability {
namespace {

std::map<std::string, std::string> Fields(const PreparedRequest& request) {
    return {request.fields.begin(), request.fields.end()};
}

JobParams Prompt(const std::string& prompt) {
    JobParams params;
    params.prompt = prompt;
    return params;
}

TEST(StabilityStrength, OursIsHowMuchToChangeV1IsHowMuchToKeep) {
    StabilityConfig config;
    JobParams params = Prompt("a harbour at dusk");
    params.strength = 0.8;
    auto v1 = ResolveSettings(params, nullptr, config);
    ASSERT_TRUE(v1);
    EXPECT_EQ(Fields(BuildRequest(*v1, "png", config))["image_strength"], "0.2");

    params.options["engine"] = "sd3.5-large";
    auto v2 = ResolveSettings(params, nullptr, config);
    ASSERT_TRUE(v2);
    const auto fields = Fields(BuildRequest(*v2, "png", config));
    EXPECT_EQ(fields.at("strength"), "0.8");
    EXPECT_EQ(fields.count("image_strength"), 0u);
}

TEST(StabilityStrength, JobBeatsStyleBeatsConfig) {
    StabilityConfig config;
    config.default_strength = 0.45;
    const Style* style = FindStyle("pencil-sketch");  // catalog strength 0.6
    ASSERT_NE(style, nullptr);
    JobParams params = Prompt("x");
    EXPECT_DOUBLE_EQ(ResolveSettings(params, nullptr, config)->strength, 0.45);
    EXPECT_DOUBLE_EQ(ResolveSettings(params, style, config)->strength, 0.6);
    params.strength = 0.1;
    EXPECT_DOUBLE_EQ(ResolveSettings(params, style, config)->strength, 0.1);
}

TEST(StabilityRequest, StyleGivesPromptTemplateNegativePromptAndPreset) {
    StabilityConfig config;
    const Style* style = FindStyle("pencil-sketch");
    auto settings = ResolveSettings(Prompt("my dog"), style, config);
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->prompt, ApplyPromptTemplate(style->sdxl.prompt_template, "my dog"));
    EXPECT_EQ(settings->negative_prompt, style->sdxl.negative_prompt);
    EXPECT_EQ(settings->style_preset, "line-art");
    const auto fields = Fields(BuildRequest(*settings, "png", config));
    EXPECT_EQ(fields.at("style_preset"), "line-art");
    EXPECT_EQ(fields.at("text_prompts[1][text]"), style->sdxl.negative_prompt);
    EXPECT_EQ(fields.at("text_prompts[1][weight]"), "-1");
}

TEST(StabilityRequest, V1LayoutIsExactlyTheDocumentedFields) {
    StabilityConfig config;
    JobParams params = Prompt("a cat");
    params.seed = 42;
    params.steps = 20;
    params.guidance = 5.5;
    params.sampler = "dpmpp_2m";
    auto settings = ResolveSettings(params, nullptr, config);
    ASSERT_TRUE(settings);
    const PreparedRequest request = BuildRequest(*settings, std::string(10, 'x'), config);
    EXPECT_EQ(request.path, "/v1/generation/stable-diffusion-xl-1024-v1-0/image-to-image");
    EXPECT_EQ(request.accept, "application/json");
    const std::map<std::string, std::string> expected = {
        {"init_image", "<file 10 bytes>"},     {"init_image_mode", "IMAGE_STRENGTH"},
        {"image_strength", "0.5"},             {"text_prompts[0][text]", "a cat"},
        {"text_prompts[0][weight]", "1"},      {"cfg_scale", "5.5"},
        {"steps", "20"},                       {"seed", "42"},
        {"samples", "1"},                      {"sampler", "K_DPMPP_2M"},
    };
    EXPECT_EQ(Fields(request), expected);
    EXPECT_NE(request.body.find("name=\"init_image\"; filename=\"init_image.png\"\r\nContent-Type: image/png"),
              std::string::npos);
    EXPECT_EQ(request.content_type.rfind("multipart/form-data; boundary=", 0), 0u);
}

TEST(StabilityRequest, UltraSendsNoModeModelOrGuidance) {
    StabilityConfig config;
    JobParams params = Prompt("a cat");
    params.options["engine"] = "ultra";
    params.guidance = 30;  // meaningless for ultra: ignored, not an error
    params.steps = 5;
    auto settings = ResolveSettings(params, nullptr, config);
    ASSERT_TRUE(settings) << settings.error().message;
    const auto fields = Fields(BuildRequest(*settings, "png", config));
    const std::map<std::string, std::string> expected = {{"prompt", "a cat"},         {"image", "<file 3 bytes>"},
                                                         {"strength", "0.5"},         {"seed", "0"},
                                                         {"output_format", "png"}};
    EXPECT_EQ(fields, expected);
}

TEST(StabilitySampler, AcceptsLocalAndApiNames) {
    EXPECT_EQ(*ToV1Sampler("euler_a"), "K_EULER_ANCESTRAL");
    EXPECT_EQ(*ToV1Sampler("K_EULER"), "K_EULER");
    EXPECT_EQ(*ToV1Sampler("DDIM"), "DDIM");
    EXPECT_FALSE(ToV1Sampler("unipc"));
}

TEST(StabilityValidate, RangesAreCheckedPerEngineBeforeAnythingIsSent) {
    StabilityConfig config;
    auto check = [&](JobParams params) { return ResolveSettings(params, nullptr, config).has_value(); };
    JobParams base = Prompt("a cat");
    EXPECT_TRUE(check(base));
    JobParams p = base;
    p.steps = 60;  // fine for the local engine (1..150), not for SDXL on Stability
    EXPECT_FALSE(check(p));
    p.steps = 9;
    EXPECT_FALSE(check(p));
    p = base;
    p.seed = 4294967295LL;
    EXPECT_TRUE(check(p));
    p.options["engine"] = "sd3.5-medium";
    EXPECT_FALSE(check(p));  // v2beta seeds stop one lower
    p = base;
    p.options["engine"] = "sd3.5-large";
    p.guidance = 12;
    EXPECT_FALSE(check(p));
    p.guidance = 7;
    EXPECT_TRUE(check(p));
    p = base;
    p.options["engine"] = "stable-diffusion-v1-6";  // discontinued
    EXPECT_FALSE(check(p));
    EXPECT_FALSE(check(Prompt("   ")));
    p = Prompt(std::string(2001, 'a'));
    EXPECT_FALSE(check(p));
    p.options["engine"] = "ultra";
    EXPECT_TRUE(check(p));
    p = base;
    p.sampler = "unipc";
    EXPECT_FALSE(check(p));
}

TEST(StabilityConfigTest, ValidateRejectsBadValuesAndAcceptsAnEmptyKey) {
    StabilityConfig config;
    EXPECT_TRUE(config.Validate());
    StabilityConfig bad = config;
    bad.engine = "dall-e";
    EXPECT_FALSE(bad.Validate());
    bad = config;
    bad.base_url = "ftp://example";
    EXPECT_FALSE(bad.Validate());
    bad = config;
    bad.max_concurrency = 0;
    EXPECT_FALSE(bad.Validate());
    bad = config;
    bad.api_key = "sk-abc\r\nX-Evil: 1";
    EXPECT_FALSE(bad.Validate());
}

TEST(StabilityConfigTest, ToStringNeverShowsTheKey) {
    StabilityConfig config;
    config.api_key = "sk-SECRETsecret0123456789";
    config.base_url = "https://user:pw@api.example";
    const std::string text = config.ToString();
    EXPECT_EQ(text.find("SECRET"), std::string::npos);
    EXPECT_EQ(text.find("pw@"), std::string::npos);
    EXPECT_NE(text.find("api_key=<set>"), std::string::npos);
    config.api_key.clear();
    EXPECT_NE(config.ToString().find("api_key=<unset>"), std::string::npos);
}

TEST(StabilityRedact, MasksTheKeyAndAnythingKeyShaped) {
    EXPECT_EQ(RedactSecrets("Incorrect API key provided: mykey123. Go", "mykey123"),
              "Incorrect API key provided: [redacted]. Go");
    EXPECT_EQ(RedactSecrets("other sk-ABCDEFGH1234 here", "x"), "other [redacted] here");
    EXPECT_EQ(RedactSecrets("task-12345678 is fine, sk-short too", ""), "task-12345678 is fine, sk-short too");
}

HttpResponse Answer(long status, const std::string& body, std::map<std::string, std::string> headers = {}) {
    HttpResponse response;
    response.status = status;
    response.body = body;
    response.headers = std::move(headers);
    return response;
}

TEST(StabilityErrors, EveryStatusMapsToItsJobOutcome) {
    const std::string key = "sk-KEYkey123456789";
    auto bad = ClassifyFailure(Answer(400, R"({"id":"1","name":"bad_request","message":"steps: too big"})"), key);
    EXPECT_EQ(bad.error.code, ErrorCode::kInvalidArgument);
    EXPECT_NE(bad.error.message.find("steps: too big"), std::string::npos);
    EXPECT_EQ(bad.action, FailureAction::kFail);

    auto unauthorized = ClassifyFailure(
        Answer(401, R"({"id":"1","name":"unauthorized","message":"Incorrect API key provided: sk-KEYkey123456789."})"),
        key);
    EXPECT_TRUE(unauthorized.key_rejected);
    EXPECT_EQ(unauthorized.error.message.find(key), std::string::npos);

    auto denied = ClassifyFailure(Answer(403, R"({"id":"1","name":"permission_denied","message":"no"})"), key);
    EXPECT_TRUE(denied.key_rejected);
    auto moderated = ClassifyFailure(Answer(403, R"({"id":"1","name":"content_moderation","errors":["flagged"]})"), key);
    EXPECT_FALSE(moderated.key_rejected);
    EXPECT_EQ(moderated.error.Name(), "CONTENT_FILTERED");

    auto credits = ClassifyFailure(Answer(402, R"({"id":"1","name":"payment_required","errors":["lack"]})"), key);
    EXPECT_EQ(credits.error.code, ErrorCode::kResourceExhausted);
    EXPECT_NE(credits.error.message.find("out of credits"), std::string::npos);
    EXPECT_TRUE(credits.out_of_credits);

    auto limited = ClassifyFailure(Answer(429, "{}", {{"retry-after", "7"}}), key);
    EXPECT_EQ(limited.action, FailureAction::kWaitRateLimit);
    EXPECT_EQ(limited.retry_after, std::chrono::milliseconds(7000));

    for (long status : {500L, 502L, 503L}) {
        EXPECT_EQ(ClassifyFailure(Answer(status, "oops"), key).action, FailureAction::kRetry) << status;
    }
    auto gateway = ClassifyFailure(Answer(504, "Gateway Timeout"), key);
    EXPECT_EQ(gateway.action, FailureAction::kFail);
    EXPECT_EQ(gateway.error.code, ErrorCode::kUnavailable);
    EXPECT_EQ(ClassifyFailure(Answer(404, "{}"), key).error.code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(ClassifyFailure(Answer(413, "{}"), key).error.code, ErrorCode::kPayloadTooLarge);
}

TEST(StabilityResponses, ParsesAllThreeSuccessShapes) {
    auto v1 = ParseGenerated(Answer(200, R"({"artifacts":[{"base64":"aGVsbG8=","seed":99,"finishReason":"SUCCESS"}]})",
                                    {{"content-type", "application/json"}}));
    ASSERT_TRUE(v1);
    EXPECT_EQ(v1->bytes, "hello");
    EXPECT_EQ(v1->seed, 99);
    auto v2 = ParseGenerated(Answer(200, R"({"image":"aGk=","finish_reason":"CONTENT_FILTERED","seed":7})",
                                    {{"content-type", "application/json; type=image/png"}}));
    ASSERT_TRUE(v2);
    EXPECT_EQ(v2->bytes, "hi");
    EXPECT_EQ(v2->finish_reason, "CONTENT_FILTERED");
    auto raw = ParseGenerated(
        Answer(200, "PNGDATA", {{"content-type", "image/png"}, {"finish-reason", "SUCCESS"}, {"seed", "343940597"}}));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->bytes, "PNGDATA");
    EXPECT_EQ(raw->seed, 343940597);
    EXPECT_FALSE(ParseGenerated(Answer(200, "<html>", {{"content-type", "text/html"}})));
    EXPECT_FALSE(ParseGenerated(Answer(200, R"({"artifacts":[]})", {{"content-type", "application/json"}})));
    EXPECT_FALSE(DecodeBase64("a$bc"));
}

// Fuzz finding (fuzz_stability_response, UBSan): a float seed outside int64's range was converted
// with a plain cast, which is undefined behaviour. Such a seed is now simply absent.
TEST(StabilityResponses, OutOfRangeSeedsAreDroppedNotConverted) {
    const std::map<std::string, std::string> json_type = {{"content-type", "application/json"}};
    for (const char* seed : {"1e300", "-1e300", "-2.5", "18446744073709551615"}) {
        auto image = ParseGenerated(
            Answer(200, std::string(R"({"artifacts":[{"base64":"aGVsbG8=","seed":)") + seed + "}]}", json_type));
        ASSERT_TRUE(image) << seed;
        EXPECT_EQ(image->seed, std::nullopt) << seed;
    }
    auto fractional = ParseGenerated(Answer(200, R"({"image":"aGk=","seed":4294967295.0})", json_type));
    ASSERT_TRUE(fractional);
    EXPECT_EQ(fractional->seed, 4294967295LL);
}

// Fuzz finding (fuzz_stability_response, uncaught exception): json::value() threw type_error when
// an error body's "name" (or an artifact's finishReason) was not a string, out of ClassifyFailure
// and ParseGenerated. Such a field now counts as absent.
TEST(StabilityResponses, FieldsOfTheWrongTypeAreIgnoredNotThrown) {
    const std::string key = "sk-KEYkey123456789";
    auto failure = ClassifyFailure(Answer(400, R"({"id":"x","name":["prompt"],"errors":["too long"]})"), key);
    EXPECT_EQ(failure.error.code, ErrorCode::kInvalidArgument);
    EXPECT_NE(failure.error.message.find("too long"), std::string::npos);
    auto image = ParseGenerated(Answer(200, R"({"artifacts":[{"base64":"aGVsbG8=","finishReason":{"x":1}}]})",
                                       {{"content-type", "application/json"}}));
    ASSERT_TRUE(image);
    EXPECT_EQ(image->finish_reason, "SUCCESS");
}

}  // namespace
}  // namespace labhouse::stability
