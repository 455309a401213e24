// Every error class of the contract, as the job sees it, and how the backend's status follows.
#include <gtest/gtest.h>

#include <random>

#include "labhouse/adapters/stability/stability_transformer.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/stability/fake_stability_server.h"
#include "tests/stability/stability_test_support.h"
#include "tests/testing/test_images.h"

namespace labhouse::stability::testing {
namespace {

using labhouse::testing::GradientImage;
using std::chrono::milliseconds;

class StabilityErrorsTest : public ::testing::Test {
protected:
    Result<TransformOutput> Run(StabilityTransformer& transformer, const JobParams& params) {
        return RunTransform(transformer, GradientImage(1024, 1024), params, reporter_);
    }
    FakeStabilityServer fake_;
    imaging::OpenCvImageCodec codec_;
    RecordingReporter reporter_;
};

TEST_F(StabilityErrorsTest, BadRequestFailsWithTheApiMessageAndIsNotRetried) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    auto out = Run(transformer, PromptParams("a forbidden fruit"));  // the fake's filtered word
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(out.error().Name(), "INVALID_ARGUMENT");
    EXPECT_NE(out.error().message.find("prompts contains filtered words"), std::string::npos) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
    EXPECT_TRUE(transformer.Status().available);
}

TEST_F(StabilityErrorsTest, WrongKeyFailsTheJobAndMakesTheBackendUnavailable) {
    StabilityConfig config = TestConfig(fake_);
    config.api_key = "sk-WRONGwrongWRONG1234567890";
    StabilityTransformer transformer(config, codec_);
    auto out = Run(transformer, PromptParams("x"));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(out.error().message.find("401"), std::string::npos);
    EXPECT_EQ(out.error().message.find(config.api_key), std::string::npos);  // the 401 body echoed it
    const BackendStatus status = transformer.Status();
    EXPECT_FALSE(status.available);
    EXPECT_NE(status.reason.find("rejected the API key"), std::string::npos) << status.reason;
    EXPECT_EQ(status.reason.find(config.api_key), std::string::npos);
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
}

TEST_F(StabilityErrorsTest, RevokedKeyRecoversOnceTheBalanceCheckPasses) {
    StabilityConfig config = TestConfig(fake_);
    config.balance_cache_ttl = milliseconds(0);
    StabilityTransformer transformer(config, codec_);
    fake_.SetKeyRevoked(true);
    ASSERT_FALSE(Run(transformer, PromptParams("x")));
    EXPECT_FALSE(transformer.Status().available);
    fake_.SetKeyRevoked(false);
    EXPECT_TRUE(transformer.Status().available);
}

TEST_F(StabilityErrorsTest, PermissionDeniedMakesTheBackendUnavailable) {
    fake_.SetPermissionDenied(true);
    StabilityConfig config = TestConfig(fake_);
    StabilityTransformer transformer(config, codec_);
    auto out = Run(transformer, PromptParams("x"));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(out.error().message.find("403"), std::string::npos);
    EXPECT_FALSE(transformer.Status().available);
}

TEST_F(StabilityErrorsTest, RequestModerationIsContentFilteredAndKeepsTheKeyUsable) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    auto out = Run(transformer, PromptParams("forbidden", "sd3.5-large"));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().Name(), "CONTENT_FILTERED");
    EXPECT_TRUE(transformer.Status().available);
    EXPECT_EQ(fake_.Generations(), 0);
}

TEST_F(StabilityErrorsTest, FilteredOutputFailsTheJobWithContentFiltered) {
    for (const std::string engine : {"stable-diffusion-xl-1024-v1-0", "sd3.5-medium", "ultra"}) {
        fake_.FailNext(Fault::kContentFiltered);
        StabilityTransformer transformer(TestConfig(fake_), codec_);
        auto out = Run(transformer, PromptParams("x", engine));
        ASSERT_FALSE(out) << engine;
        EXPECT_EQ(out.error().Name(), "CONTENT_FILTERED") << engine;
        EXPECT_NE(out.error().message.find("discarded"), std::string::npos);
    }
}

TEST_F(StabilityErrorsTest, OutOfCreditsIsResourceExhausted) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    fake_.FailNext(Fault::kOutOfCredits);
    auto v1 = Run(transformer, PromptParams("x"));
    ASSERT_FALSE(v1);
    EXPECT_EQ(v1.error().code, ErrorCode::kResourceExhausted);
    EXPECT_NE(v1.error().message.find("out of credits"), std::string::npos);

    fake_.SetCredits(2.0);  // below sd3.5-large's 6.5 credits: the fake's own 402
    auto v2 = Run(transformer, PromptParams("x", "sd3.5-large"));
    ASSERT_FALSE(v2);
    EXPECT_EQ(v2.error().code, ErrorCode::kResourceExhausted);
    EXPECT_EQ(fake_.Requests("/v2beta").size(), 1u);  // never retried
}

TEST_F(StabilityErrorsTest, ValidateRejectsUnknownEnginesAndOutOfRangeValues) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    EXPECT_TRUE(transformer.Validate(PromptParams("x", "sd3.5-medium"), nullptr));
    auto unknown = transformer.Validate(PromptParams("x", "sdxl-turbo"), nullptr);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(unknown.error().message.find("sd3.5-large"), std::string::npos);  // lists the known ones
    JobParams steps = PromptParams("x");
    steps.steps = 80;
    EXPECT_FALSE(transformer.Validate(steps, nullptr));
    EXPECT_TRUE(transformer.Validate(PromptParams(""), FindStyle("watercolor")));
    EXPECT_FALSE(transformer.Validate(PromptParams(""), nullptr));
    EXPECT_TRUE(fake_.Requests().empty());
}

TEST_F(StabilityErrorsTest, OversizedUploadIsRefusedBeforeSpendingARequest) {
    StabilityConfig config = TestConfig(fake_);
    config.max_v1_upload_bytes = 1000;
    StabilityTransformer transformer(config, codec_);
    auto out = Run(transformer, PromptParams("x"));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_TRUE(fake_.Requests().empty());
}

Image Noise(int width, int height) {
    Image noise{width, height, {}};
    noise.rgb.resize(noise.ByteSize());
    std::mt19937 rng(7);
    for (auto& byte : noise.rgb) byte = static_cast<std::uint8_t>(rng());
    return noise;
}

TEST_F(StabilityErrorsTest, RequestsOverTheSizeLimitAreRefusedBeforeSending) {
    StabilityConfig config = TestConfig(fake_);
    config.max_v2_request_bytes = 100'000;  // the documented 10 MiB, scaled down for the test
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, Noise(300, 300), PromptParams("x", "sd3.5-large"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_TRUE(fake_.Requests().empty());
}

TEST_F(StabilityErrorsTest, TheApisPayloadTooLargeAnswerIsMapped) {
    // Noise does not compress: a 2600x1500 PNG is ~11.7 MB, over the fake's documented 10 MiB.
    StabilityConfig config = TestConfig(fake_);
    config.max_v2_upload_pixels = 4'000'000;
    config.max_v2_request_bytes = 64 * 1024 * 1024;  // a client without the local check
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, Noise(2600, 1500), PromptParams("x", "sd3.5-large"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kPayloadTooLarge);
    EXPECT_NE(out.error().message.find("payload_too_large"), std::string::npos) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v2beta").size(), 1u);
}

TEST_F(StabilityErrorsTest, TheFakeEnforcesTheSdxlSizesAsDocumented) {
    // Guards the fake itself: a client that skipped size fitting would be caught.
    StabilityConfig config = TestConfig(fake_);
    config.engine = "stable-diffusion-xl-1024-v1-0";
    HttpRequest request;
    MultipartBody body;
    body.AddFile("init_image", "i.png", "image/png", labhouse::testing::PngBytes(450, 672));
    body.AddField("text_prompts[0][text]", "x");
    request.method = "POST";
    request.url = fake_.BaseUrl() + "/v1/generation/stable-diffusion-xl-1024-v1-0/image-to-image";
    request.headers = {{"Authorization", "Bearer " + fake_.api_key()}, {"Content-Type", body.ContentType()}};
    request.body = body.Finish();
    HttpOutcome outcome = PerformHttp(request, {}, {});
    ASSERT_TRUE(std::holds_alternative<HttpResponse>(outcome));
    const HttpResponse& response = std::get<HttpResponse>(outcome);
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(response.body.find("invalid_sdxl_v1_dimensions"), std::string::npos) << response.body;
    EXPECT_NE(response.body.find("but we received 450x672"), std::string::npos);
}

}  // namespace
}  // namespace labhouse::stability::testing
