// The transformer against the fake server: both engine families end to end, size fitting,
// retries, rate limiting, cancellation, balance and concurrency.
#include "labhouse/adapters/stability/stability_transformer.h"
#include "labhouse/adapters/stability/image_fitting.h"

#include <gtest/gtest.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/stability/fake_stability_server.h"
#include "tests/stability/stability_test_support.h"
#include "tests/testing/test_images.h"

namespace labhouse::stability::testing {
namespace {

using labhouse::testing::GradientImage;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class StabilityTransformerTest : public ::testing::Test {
protected:
    FakeStabilityServer fake_;
    imaging::OpenCvImageCodec codec_;
    RecordingReporter reporter_;
};

TEST_F(StabilityTransformerTest, SdxlSendsTheDocumentedFieldsAndReturnsTheUploadAspect) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    JobParams params = PromptParams("a lighthouse");
    params.style = "cinematic";
    params.negative_prompt = "blurry";
    params.strength = 0.7;
    params.steps = 25;
    params.guidance = 6.5;
    params.seed = 1234;
    params.sampler = "euler_a";
    const Style* style = FindStyle("cinematic");
    const Image upload = GradientImage(800, 600);
    auto out = RunTransform(transformer, upload, params, reporter_, style);
    ASSERT_TRUE(out) << out.error().message;

    const auto requests = fake_.Requests("/v1/generation");
    ASSERT_EQ(requests.size(), 1u);
    const RecordedRequest& sent = requests[0];
    EXPECT_EQ(sent.status, 200);
    EXPECT_EQ(sent.path, "/v1/generation/stable-diffusion-xl-1024-v1-0/image-to-image");
    EXPECT_EQ(sent.headers.at("Authorization"), "Bearer " + fake_.api_key());
    EXPECT_EQ(sent.headers.at("Accept"), "application/json");
    const std::map<std::string, std::string> expected = {
        {"init_image_mode", "IMAGE_STRENGTH"},
        {"image_strength", "0.3"},  // 1 - our 0.7
        {"text_prompts[0][text]", ApplyPromptTemplate(style->sdxl.prompt_template, "a lighthouse")},
        {"text_prompts[0][weight]", "1"},
        {"text_prompts[1][text]", "blurry"},
        {"text_prompts[1][weight]", "-1"},
        {"cfg_scale", "6.5"},
        {"steps", "25"},
        {"seed", "1234"},
        {"samples", "1"},
        {"sampler", "K_EULER_ANCESTRAL"},
        {"style_preset", "cinematic"},
    };
    EXPECT_EQ(sent.fields, expected);
    ASSERT_EQ(sent.files.count("init_image"), 1u);
    EXPECT_EQ(sent.files.at("init_image").width, 1152);  // 4:3 -> 1152x896, padded
    EXPECT_EQ(sent.files.at("init_image").height, 896);
    EXPECT_EQ(sent.files.at("init_image").content_type, "image/png");

    EXPECT_EQ(out->image.width, 1152);
    EXPECT_EQ(out->image.height, 864);
    // The fake inverts: the result's centre is the inverse of the upload's centre.
    const std::uint8_t* in = upload.Pixel(400, 300);
    const std::uint8_t* got = out->image.Pixel(576, 432);
    // Channels 0 and 1 are smooth gradients (channel 2 is a checkerboard that scaling blurs).
    for (int c = 0; c < 2; ++c) EXPECT_NEAR(got[c], 255 - in[c], 6) << "channel " << c;
    EXPECT_EQ(out->meta.at("seed"), "1234");
    EXPECT_EQ(out->meta.at("engine"), "stable-diffusion-xl-1024-v1-0");
    EXPECT_EQ(out->meta.at("image_strength"), "0.3");
    EXPECT_EQ(out->meta.at("strength"), "0.7");
    EXPECT_EQ(out->meta.at("api_attempts"), "1");
    EXPECT_EQ(out->meta.at("sampler"), "K_EULER_ANCESTRAL");
    EXPECT_NE(out->meta.at("sdxl_size").find("1152x896"), std::string::npos);
    EXPECT_TRUE(reporter_.Saw("waiting_api"));
    EXPECT_EQ(fake_.Generations(), 1);
}

// Text to image: v1's JSON endpoint at the SDXL size closest to the asked aspect, v2beta at the
// closest aspect ratio; the result is cropped and scaled to exactly the asked size.
JobParams TextToImageParams(const std::string& prompt, int width, int height, const std::string& engine = "") {
    JobParams params = PromptParams(prompt, engine);
    params.kind = JobKind::kTextToImage;
    params.width = width;
    params.height = height;
    return params;
}

TEST_F(StabilityTransformerTest, SdxlTextToImageSendsJsonAtTheClosestSdxlSize) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    EXPECT_TRUE(transformer.SupportsTextToImage());
    JobParams params = TextToImageParams("a lighthouse", 640, 360);
    params.negative_prompt = "blurry";
    params.steps = 20;
    params.guidance = 5;
    params.seed = 99;
    auto out = RunTransform(transformer, Image(), params, reporter_);
    ASSERT_TRUE(out) << out.error().message;
    const auto requests = fake_.Requests("/v1/generation");
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].status, 200);
    EXPECT_EQ(requests[0].path, "/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image");
    EXPECT_EQ(requests[0].headers.at("Content-Type"), "application/json");
    const auto body = nlohmann::json::parse(requests[0].json_body);
    EXPECT_EQ(body["width"], 1344);  // 16:9 -> 1344x768
    EXPECT_EQ(body["height"], 768);
    EXPECT_EQ(body["text_prompts"][0]["text"], "a lighthouse");
    EXPECT_EQ(body["text_prompts"][1]["text"], "blurry");
    EXPECT_EQ(body["text_prompts"][1]["weight"], -1);
    EXPECT_EQ(body["steps"], 20);
    EXPECT_EQ(body["cfg_scale"], 5.0);
    EXPECT_EQ(body["seed"], 99);
    EXPECT_EQ(body["samples"], 1);
    EXPECT_FALSE(body.contains("init_image"));
    EXPECT_EQ(out->image.width, 640);
    EXPECT_EQ(out->image.height, 360);
    EXPECT_EQ(out->meta.at("sdxl_size"), "1344x768");
    EXPECT_EQ(out->meta.at("seed"), "99");
    EXPECT_EQ(out->meta.count("strength"), 0u) << "no photo to keep or change";
    EXPECT_EQ(out->meta.count("image_strength"), 0u);
    EXPECT_EQ(fake_.Generations(), 1);
}

TEST_F(StabilityTransformerTest, V2TextToImageAsksForTheClosestAspectRatio) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    for (const auto& [engine, path] : std::vector<std::pair<std::string, std::string>>{
             {"sd3.5-large", "/v2beta/stable-image/generate/sd3"}, {"ultra", "/v2beta/stable-image/generate/ultra"}}) {
        auto out = RunTransform(transformer, Image(), TextToImageParams("a lighthouse", 512, 768, engine), reporter_);
        ASSERT_TRUE(out) << engine << ": " << out.error().message;
        const RecordedRequest sent = fake_.Requests(path).back();
        EXPECT_EQ(sent.status, 200) << engine;
        EXPECT_EQ(sent.fields.at("aspect_ratio"), "2:3") << engine;
        EXPECT_EQ(sent.files.count("image"), 0u) << engine;
        EXPECT_EQ(sent.fields.count("strength"), 0u) << engine;
        if (engine != "ultra") EXPECT_EQ(sent.fields.at("mode"), "text-to-image");
        EXPECT_EQ(out->image.width, 512) << engine;
        EXPECT_EQ(out->image.height, 768) << engine;
        EXPECT_EQ(out->meta.at("aspect_ratio"), "2:3") << engine;
    }
}

TEST(StabilityImageFitting, ClosestV2AspectRatio) {
    EXPECT_EQ(ClosestV2AspectRatio({1024, 1024}), "1:1");
    EXPECT_EQ(ClosestV2AspectRatio({1920, 1080}), "16:9");
    EXPECT_EQ(ClosestV2AspectRatio({1080, 1920}), "9:16");
    EXPECT_EQ(ClosestV2AspectRatio({3000, 1000}), "21:9");
    EXPECT_EQ(ClosestV2AspectRatio({640, 512}), "5:4");
}

TEST_F(StabilityTransformerTest, SdxlFitsSeveralAspectRatios) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    const std::vector<std::pair<Size, Size>> cases = {
        {{640, 480}, {1152, 896}}, {{480, 640}, {896, 1152}}, {{1920, 1080}, {1344, 768}},
        {{300, 300}, {1024, 1024}}, {{3000, 1000}, {1536, 640}}, {{832, 1216}, {832, 1216}},
    };
    for (const auto& [upload, canvas] : cases) {
        auto out = RunTransform(transformer, GradientImage(upload.width, upload.height), PromptParams("x"), reporter_);
        ASSERT_TRUE(out) << out.error().message;
        const RecordedRequest sent = fake_.Requests("/v1/generation").back();
        EXPECT_EQ(sent.status, 200);
        EXPECT_EQ(sent.files.at("init_image").width, canvas.width);
        EXPECT_EQ(sent.files.at("init_image").height, canvas.height);
        const double want = static_cast<double>(upload.width) / upload.height;
        EXPECT_NEAR(out->image.width / want, out->image.height, 1.0) << upload.width << "x" << upload.height;
    }
}

TEST_F(StabilityTransformerTest, SdxlPngResponsesReadSeedFromHeaders) {
    StabilityConfig config = TestConfig(fake_);
    config.v1_accept_png = true;
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v1/generation")[0].headers.at("Accept"), "image/png");
    EXPECT_EQ(fake_.Requests("/v1/generation")[0].fields.at("seed"), "0");
    ASSERT_TRUE(out->meta.count("seed"));
    EXPECT_NE(out->meta.at("seed"), "0");  // the seed the API picked, from the Seed header
    EXPECT_EQ(out->image.width, 1024);
}

TEST_F(StabilityTransformerTest, Sd3SendsImageToImageFieldsWithOurStrength) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    JobParams params = PromptParams("a lighthouse", "sd3.5-large");
    params.negative_prompt = "fog";
    params.strength = 0.7;
    params.steps = 40;        // SD3 has no steps field: ignored
    params.sampler = "euler";  // nor a sampler
    auto out = RunTransform(transformer, GradientImage(800, 600), params, reporter_);
    ASSERT_TRUE(out) << out.error().message;
    const auto requests = fake_.Requests("/v2beta/stable-image/generate/sd3");
    ASSERT_EQ(requests.size(), 1u);
    const std::map<std::string, std::string> expected = {
        {"prompt", "a lighthouse"}, {"mode", "image-to-image"}, {"model", "sd3.5-large"},
        {"strength", "0.7"},        {"negative_prompt", "fog"}, {"cfg_scale", "4"},
        {"seed", "0"},              {"output_format", "png"},
    };
    EXPECT_EQ(requests[0].fields, expected);
    EXPECT_EQ(requests[0].headers.at("Accept"), "image/*");
    EXPECT_EQ(requests[0].files.at("image").width, 800);
    EXPECT_EQ(requests[0].files.at("image").height, 600);
    EXPECT_EQ(out->image.width, 800);
    EXPECT_EQ(out->image.height, 600);
    EXPECT_EQ(out->meta.at("api"), "v2beta");
    EXPECT_EQ(out->meta.count("steps"), 0u);
    EXPECT_EQ(out->meta.count("image_strength"), 0u);
    EXPECT_FALSE(out->meta.at("request_id").empty());
    EXPECT_NE(out->meta.at("seed"), "0");
}

TEST_F(StabilityTransformerTest, Sd3MediumWithJsonResponses) {
    StabilityConfig config = TestConfig(fake_);
    config.v2_accept_json = true;
    StabilityTransformer transformer(config, codec_);
    JobParams params = PromptParams("x", "sd3.5-medium");
    params.seed = 77;
    params.guidance = 2.5;
    auto out = RunTransform(transformer, GradientImage(640, 640), params, reporter_);
    ASSERT_TRUE(out) << out.error().message;
    const auto sent = fake_.Requests("/v2beta")[0];
    EXPECT_EQ(sent.headers.at("Accept"), "application/json");
    EXPECT_EQ(sent.fields.at("model"), "sd3.5-medium");
    EXPECT_EQ(sent.fields.at("cfg_scale"), "2.5");
    EXPECT_EQ(out->meta.at("seed"), "77");
    EXPECT_EQ(out->image.width, 640);
}

TEST_F(StabilityTransformerTest, UltraTakesImageAndStrengthOnly) {
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    JobParams params = PromptParams("x", "ultra");
    params.style = "anime";
    auto out = RunTransform(transformer, GradientImage(500, 400), params, reporter_, FindStyle("anime"));
    ASSERT_TRUE(out) << out.error().message;
    const auto sent = fake_.Requests("/v2beta/stable-image/generate/ultra")[0];
    EXPECT_EQ(sent.status, 200);
    EXPECT_EQ(sent.fields.count("mode"), 0u);
    EXPECT_EQ(sent.fields.count("model"), 0u);
    EXPECT_EQ(sent.fields.count("cfg_scale"), 0u);
    EXPECT_EQ(sent.fields.at("strength"), "0.6");  // the anime style's default
    EXPECT_EQ(sent.fields.at("style_preset"), "anime");
    EXPECT_EQ(out->image.width, 500);
    EXPECT_EQ(out->image.height, 400);
}

TEST_F(StabilityTransformerTest, V2ResultsOfAnotherShapeComeBackAtTheUploadAspect) {
    fake_.SetV2OutputSize(1024, 1024);
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    auto out = RunTransform(transformer, GradientImage(3000, 1500), PromptParams("x", "sd3.5-large"), reporter_);
    ASSERT_TRUE(out) << out.error().message;
    const auto sent = fake_.Requests("/v2beta")[0].files.at("image");
    EXPECT_LE(sent.width * sent.height, 1024 * 1024);  // scaled into the budget before upload
    EXPECT_NEAR(static_cast<double>(sent.width) / sent.height, 2.0, 0.01);
    EXPECT_EQ(out->image.width, sent.width);
    EXPECT_EQ(out->image.height, sent.height);
}

TEST_F(StabilityTransformerTest, RateLimitedThenSucceedsAfterWaiting) {
    fake_.FailNext(Fault::kRateLimited);
    StabilityTransformer transformer(TestConfig(fake_), codec_);  // 429 wait 200 ms + <= 50 ms jitter
    const auto start = Clock::now();
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_GE(Clock::now() - start, milliseconds(200));
    EXPECT_TRUE(reporter_.Saw("waiting_rate_limit"));
    const auto requests = fake_.Requests("/v1/generation");
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].status, 429);
    EXPECT_EQ(requests[1].status, 200);
    EXPECT_EQ(out->meta.at("api_attempts"), "2");
    EXPECT_EQ(fake_.Generations(), 1);
}

TEST_F(StabilityTransformerTest, WaitsAreReReportedWithACountdown) {
    fake_.FailNext(Fault::kRateLimited);
    fake_.FailNext(Fault::kSlow, 1, milliseconds(400));
    StabilityConfig config = TestConfig(fake_);
    config.rate_limit_wait = milliseconds(1'200);
    config.rate_limit_jitter = milliseconds(0);
    config.progress_interval = milliseconds(50);
    StabilityTransformer transformer(config, codec_);
    ASSERT_TRUE(RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_));
    int rate_reports = 0;
    int api_reports = 0;
    int last_step = -1;
    for (const JobProgress& p : reporter_.Reports()) {
        if (p.stage == "waiting_rate_limit") {
            ++rate_reports;
            EXPECT_EQ(p.total, 2);  // 1.2 s, in whole seconds
            EXPECT_DOUBLE_EQ(p.seconds_per_step, 1.0);
            EXPECT_GE(p.step, last_step);  // counts up
            last_step = p.step;
        }
        if (p.stage == "waiting_api") ++api_reports;
    }
    EXPECT_GE(rate_reports, 10);
    EXPECT_EQ(last_step, 1);
    EXPECT_GE(api_reports, 5);  // re-reported while the slow answer is awaited
}

TEST_F(StabilityTransformerTest, RetryAfterHeaderOverridesTheDefaultWait) {
    fake_.FailNext(Fault::kRateLimited);
    fake_.SetRetryAfter(0);
    StabilityConfig config = TestConfig(fake_);
    config.rate_limit_wait = milliseconds(20'000);
    StabilityTransformer transformer(config, codec_);
    const auto start = Clock::now();
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_LT(Clock::now() - start, milliseconds(3'000));
}

TEST_F(StabilityTransformerTest, RateLimitWaitsAreBounded) {
    fake_.FailNext(Fault::kRateLimited, 10);
    StabilityConfig config = TestConfig(fake_);
    config.rate_limit_wait = milliseconds(20);
    config.max_rate_limit_waits = 2;
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 3u);
}

TEST_F(StabilityTransformerTest, ServerErrorsAreRetriedThenSucceed) {
    fake_.FailNext(Fault::kServerError, 2);
    fake_.FailNext(Fault::kBadGateway, 1);
    StabilityTransformer transformer(TestConfig(fake_), codec_);  // max_retries 3
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 4u);
    EXPECT_TRUE(reporter_.Saw("waiting_retry"));
    EXPECT_EQ(fake_.Generations(), 1);
}

TEST_F(StabilityTransformerTest, ServerErrorRetriesAreBounded) {
    fake_.FailNext(Fault::kServerError, 10);
    StabilityConfig config = TestConfig(fake_);
    config.max_retries = 2;
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x", "sd3.5-large"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(out.error().message.find("gave up after 3 attempts"), std::string::npos) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v2beta").size(), 3u);
}

TEST_F(StabilityTransformerTest, GatewayTimeoutIsNotRetried) {
    fake_.FailNext(Fault::kGatewayTimeout);
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
}

TEST_F(StabilityTransformerTest, TimeoutAfterTheUploadIsNotRetriedBecauseItMayHaveBeenCharged) {
    fake_.FailNext(Fault::kSlow, 1, milliseconds(2'500));
    StabilityConfig config = TestConfig(fake_);
    config.request_timeout = milliseconds(1'000);
    StabilityTransformer transformer(config, codec_);
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(out.error().message.find("not retried"), std::string::npos) << out.error().message;
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
    // The fake finishes the slow generation anyway and bills it: a retry would have paid twice.
    for (int i = 0; i < 200 && fake_.Generations() == 0; ++i) std::this_thread::sleep_for(milliseconds(20));
    EXPECT_EQ(fake_.Generations(), 1);
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
}

TEST_F(StabilityTransformerTest, UnreachableServerIsRetriedThenUnavailable) {
    StabilityConfig config = TestConfig(fake_);
    config.base_url = "http://127.0.0.1:" + std::to_string(UnusedPort());
    config.max_retries = 2;
    StabilityTransformer transformer(config, codec_);
    LogCapture logs;
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(logs.Count("stability_request"), 3);
    EXPECT_EQ(logs.Count("stability_retry"), 2);
}

TEST_F(StabilityTransformerTest, CancelAbortsASlowRequest) {
    fake_.FailNext(Fault::kSlow, 1, milliseconds(8'000));
    StabilityTransformer transformer(TestConfig(fake_), codec_);
    // Cancel once the request is at the server, i.e. while the client waits for the answer.
    reporter_.CancelWhen([this] { return !fake_.Requests("/v1/generation").empty(); });
    const auto start = Clock::now();
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kCancelled);
    EXPECT_LT(Clock::now() - start, milliseconds(4'000));  // long before the 8 s answer
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
    EXPECT_EQ(fake_.Requests("/v1/generation")[0].status, 0);  // still unanswered
}

TEST_F(StabilityTransformerTest, CancelStopsTheRetryWait) {
    fake_.FailNext(Fault::kRateLimited);
    StabilityConfig config = TestConfig(fake_);
    config.rate_limit_wait = milliseconds(20'000);
    StabilityTransformer transformer(config, codec_);
    reporter_.CancelOnStage("waiting_rate_limit");
    const auto start = Clock::now();
    auto out = RunTransform(transformer, GradientImage(1024, 1024), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kCancelled);
    EXPECT_LT(Clock::now() - start, milliseconds(1'500));
    EXPECT_EQ(fake_.Requests("/v1/generation").size(), 1u);
}

TEST_F(StabilityTransformerTest, StatusShowsTheCachedBalance) {
    StabilityConfig config = TestConfig(fake_);
    config.balance_cache_ttl = milliseconds(60'000);
    StabilityTransformer transformer(config, codec_);
    BackendStatus status = transformer.Status();
    EXPECT_TRUE(status.available) << status.reason;
    EXPECT_EQ(status.details.at("balance"), "1000.00");
    EXPECT_EQ(transformer.Status().details.at("balance"), "1000.00");
    EXPECT_EQ(fake_.Requests("/v1/user/balance").size(), 1u);  // the second call used the cache

    StabilityConfig fresh = TestConfig(fake_);
    fresh.balance_cache_ttl = milliseconds(0);
    StabilityTransformer uncached(fresh, codec_);
    ASSERT_TRUE(RunTransform(uncached, GradientImage(1024, 1024), PromptParams("x"), reporter_));
    EXPECT_EQ(uncached.Status().details.at("balance"), "999.10");  // SDXL at <= 30 steps: 0.9 credits
}

TEST_F(StabilityTransformerTest, WithoutAKeyItIsUnavailableAndSaysWhy) {
    StabilityConfig config = TestConfig(fake_);
    config.api_key.clear();
    StabilityTransformer transformer(config, codec_);
    const BackendStatus status = transformer.Status();
    EXPECT_FALSE(status.available);
    EXPECT_NE(status.reason.find("LABHOUSE_STABILITY_API_KEY"), std::string::npos);
    auto out = RunTransform(transformer, GradientImage(64, 64), PromptParams("x"), reporter_);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(fake_.Requests().empty());
}

TEST_F(StabilityTransformerTest, RunsConcurrentJobsOnOneTransformer) {
    StabilityConfig config = TestConfig(fake_);
    config.max_concurrency = 4;
    StabilityTransformer transformer(config, codec_);
    EXPECT_EQ(transformer.MaxConcurrency(), 4);
    fake_.FailNext(Fault::kSlow, 4, milliseconds(600));
    std::vector<std::thread> threads;
    std::atomic<int> succeeded{0};
    const auto start = Clock::now();
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            RecordingReporter reporter;
            // Small v2beta uploads keep the CPU work negligible next to the server's delay.
            if (RunTransform(transformer, GradientImage(128, 128), PromptParams("x", "sd3.5-medium"), reporter)) {
                ++succeeded;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(succeeded.load(), 4);
    EXPECT_EQ(fake_.Generations(), 4);
    EXPECT_LT(Clock::now() - start, milliseconds(1'800));  // in parallel, not 4 x 600 ms in a row
}

}  // namespace
}  // namespace labhouse::stability::testing
