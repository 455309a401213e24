// The sdxl backend through the real service, on the tiny random-weight model that the engine
// writes itself (same loading code as the real checkpoints): progress events, reproducibility
// record in the job and the PNG, same seed -> same bytes, cancel mid-run, "auto" choosing sdxl, and
// text-to-image through the native API, OpenAI's /v1/images/generations and A1111's txt2img.
#include <gtest/gtest.h>

#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/engine/taesd_architecture.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

// Decodes a PNG answered as base64 (or fetched) and checks its size.
void ExpectPngOfSize(const std::string& png, int width, int height) {
    imaging::OpenCvImageCodec codec;
    auto image = codec.Decode(png);
    ASSERT_TRUE(image) << "not an image";
    EXPECT_EQ(image->width, width);
    EXPECT_EQ(image->height, height);
}

class SdxlServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto model = engine::WriteTinySdxlModel((dir_.path() / "models").string());
        ASSERT_TRUE(model) << model.error().message;
        std::vector<std::string> args = {"--sdxl-model", *model};
        for (auto& arg : ExtraArgs()) args.push_back(arg);
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", args);
        ASSERT_TRUE(server_->Start());
        client_ = server_->Client();
    }

    nlohmann::json Submit(std::vector<std::pair<std::string, std::string>> fields, int width = 96, int height = 64) {
        auto res = client_->Post("/api/v1/jobs", Form(PngBytes(width, height), std::move(fields)));
        EXPECT_TRUE(res);
        if (!res) return nullptr;
        EXPECT_EQ(res->status, 202) << res->body;
        return Json(res);
    }

    virtual std::vector<std::string> ExtraArgs() { return {}; }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(SdxlServiceTest, JobRecordsEverythingNeededToReproduceIt) {
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"backend", "sdxl"}, {"style", "watercolor"}, {"prompt", "a red boat"}, {"seed", "7"},
        {"steps", "2"},      {"strength", "0.5"},     {"sampler", "euler_a"}};
    const std::string id = Submit(fields)["id"];
    std::string stream;
    client_->Get("/api/v1/jobs/" + id + "/events", [&](const char* data, std::size_t n) {
        stream.append(data, n);
        return true;
    });
    EXPECT_NE(stream.find("\"stage\":\"unet\""), std::string::npos) << stream;
    auto job = WaitForJob(*client_, id, Finished, 120s);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    const auto& meta = job["meta"];
    for (const char* key : {"model_sha256", "sampler", "steps", "strength", "guidance", "seed", "rng",
                            "generation_size", "engine_version", "dtype", "prompt", "vae_tile"}) {
        EXPECT_TRUE(meta.contains(key)) << key << " missing from " << meta.dump();
    }
    EXPECT_EQ(meta["seed"], "7");
    EXPECT_EQ(meta["vae_tile"], "off");  // auto tiles only above 1024x1024
    EXPECT_EQ(meta["model_sha256"].get<std::string>().size(), 64u);
    EXPECT_NE(meta["prompt"].get<std::string>().find("a red boat"), std::string::npos) << "style template applied";
    auto png = client_->Get(job["result"]["image_url"].get<std::string>());
    ASSERT_TRUE(png);
    auto text = imaging::ReadPngText(png->body);
    EXPECT_EQ(text["labhouse:seed"], "7");
    EXPECT_EQ(text["labhouse:model_sha256"], meta["model_sha256"]);
    imaging::OpenCvImageCodec codec;
    auto image = codec.Decode(png->body);
    ASSERT_TRUE(image);
    EXPECT_EQ(image->width, 96) << "the result comes back at the upload's size";
    EXPECT_EQ(image->height, 64);

    // Same request, same seed: the same pixels (the PNGs differ only in their job id and timings).
    const std::string again = Submit(fields)["id"];
    auto second = WaitForJob(*client_, again, Finished, 120s);
    ASSERT_EQ(second["status"], "succeeded");
    auto second_png = client_->Get(second["result"]["image_url"].get<std::string>());
    ASSERT_TRUE(second_png);
    auto second_image = codec.Decode(second_png->body);
    ASSERT_TRUE(second_image);
    EXPECT_EQ(second_image->rgb, image->rgb);
    EXPECT_EQ(second["meta"]["seed"], "7");
}

// With TAESDXL (random weights of its architecture, written like the tiny model): preview events on
// the job's stream while it runs, and decoder=taesd for the final image.
class SdxlTaesdServiceTest : public SdxlServiceTest {
protected:
    std::vector<std::string> ExtraArgs() override {
        const std::string taesd = (dir_.path() / "taesdxl_decoder.safetensors").string();
        EXPECT_TRUE(engine::WriteRandomTaesdDecoder(taesd, engine::DType::kF16, 1));
        return {"--sdxl-taesd", taesd, "--sdxl-preview-every", "1"};
    }
};

TEST_F(SdxlTaesdServiceTest, PreviewsStreamWhileTheJobRunsAndTaesdCanDecodeTheResult) {
    auto backends = Json(client_->Get("/api/v1/backends"));
    EXPECT_EQ(backends["backends"][0]["details"]["taesd"], "taesdxl_decoder.safetensors") << backends.dump();

    // The stream opens while the model loads, before the first of the steps.
    const std::string id = Submit({{"backend", "sdxl"}, {"steps", "8"}, {"strength", "1"}, {"seed", "3"}})["id"];
    std::string stream;
    client_->Get("/api/v1/jobs/" + id + "/events", [&](const char* data, std::size_t n) {
        stream.append(data, n);
        return true;
    });
    const std::string marker = "event: preview\ndata: ";
    const auto at = stream.find(marker);
    ASSERT_NE(at, std::string::npos) << stream.substr(0, 2000);
    const auto preview = nlohmann::json::parse(stream.substr(at + marker.size(), stream.find('\n', at + marker.size()) -
                                                                                  (at + marker.size())));
    EXPECT_EQ(preview["id"], id);
    EXPECT_EQ(preview["progress"]["stage"], "unet");
    const std::string url = preview["image"];
    const std::string prefix = "data:image/jpeg;base64,";
    ASSERT_EQ(url.rfind(prefix, 0), 0u) << url.substr(0, 40);
    imaging::OpenCvImageCodec codec;
    auto info = codec.Probe(Unbase64(url.substr(prefix.size())));
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->format, "jpeg");
    EXPECT_LE(std::max(info->width, info->height), 512);
    EXPECT_GT(info->width, info->height) << "the upload's landscape aspect";
    auto job = WaitForJob(*client_, id, Finished, 120s);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(job["meta"]["decoder"], "vae");
    EXPECT_EQ(job["progress"]["stage"], "done") << "previews are not stored in the record";

    const std::string fast_id = Submit({{"backend", "sdxl"}, {"steps", "2"}, {"decoder", "taesd"}})["id"];
    auto fast = WaitForJob(*client_, fast_id, Finished, 120s);
    ASSERT_EQ(fast["status"], "succeeded") << fast.dump();
    EXPECT_EQ(fast["meta"]["decoder"], "taesd");
    auto png = client_->Get(fast["result"]["image_url"].get<std::string>());
    ASSERT_TRUE(png);
    ExpectPngOfSize(png->body, 96, 64);

    auto bad = client_->Post("/api/v1/jobs", Form(PngBytes(32, 32), {{"backend", "sdxl"}, {"decoder", "fast"}}));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << bad->body;
}

// A1111 clients poll /sdapi/v1/progress for the live image: current_image is the running job's
// newest preview (none with skip_current_image=true, none once the job has ended).
TEST_F(SdxlTaesdServiceTest, A1111ProgressShowsTheRunningJobsNewestPreview) {
    EXPECT_TRUE(Json(client_->Get("/sdapi/v1/progress"))["current_image"].is_null());  // idle
    const std::string id = Submit({{"backend", "sdxl"}, {"steps", "12"}, {"strength", "1"}, {"seed", "4"}})["id"];
    std::string image;
    bool skipped_is_null = false;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (image.empty() && std::chrono::steady_clock::now() < deadline) {
        auto progress = Json(client_->Get("/sdapi/v1/progress"));
        if (progress["current_image"].is_string()) {
            image = progress["current_image"];
            EXPECT_EQ(progress["state"]["job"], id);
            EXPECT_GT(progress["state"]["sampling_step"].get<int>(), 0);
            skipped_is_null = Json(client_->Get("/sdapi/v1/progress?skip_current_image=true"))["current_image"].is_null();
            break;
        }
        if (Json(client_->Get("/api/v1/jobs/" + id))["status"] == "succeeded") break;
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_FALSE(image.empty()) << "no preview while the job ran";
    EXPECT_TRUE(skipped_is_null);
    imaging::OpenCvImageCodec codec;
    auto info = codec.Probe(Unbase64(image));
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_GT(info->width, info->height) << "the upload's landscape aspect";
    ASSERT_EQ(WaitForJob(*client_, id, Finished, 120s)["status"], "succeeded");
    std::this_thread::sleep_for(300ms);  // the ending event reaches the preview listener
    EXPECT_TRUE(Json(client_->Get("/sdapi/v1/progress"))["current_image"].is_null());
}

TEST_F(SdxlServiceTest, DecoderTaesdWithoutTaesdxlIsRefusedWithTheFix) {
    auto res = client_->Post("/api/v1/jobs", Form(PngBytes(32, 32), {{"backend", "sdxl"}, {"decoder", "taesd"}}));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_NE(res->body.find("models pull taesdxl"), std::string::npos) << res->body;
    auto backends = Json(client_->Get("/api/v1/backends"));
    EXPECT_EQ(backends["backends"][0]["details"]["taesd"], "none") << backends.dump();
}

TEST_F(SdxlServiceTest, CancelStopsAGenerationBetweenSteps) {
    const std::string id =
        Submit({{"backend", "sdxl"}, {"steps", "100"}, {"strength", "1"}, {"prompt", "slow"}}, 1024, 1024)["id"];
    auto running = WaitForJob(*client_, id, [](const nlohmann::json& j) {
        return j["status"] != "queued" && j["progress"]["stage"] == "unet";
    }, 120s);
    ASSERT_EQ(running["status"], "running") << running.dump();
    auto res = client_->Post("/api/v1/jobs/" + id + "/cancel");
    ASSERT_TRUE(res);
    auto job = WaitForJob(*client_, id, Finished, 120s);
    EXPECT_EQ(job["status"], "canceled") << job.dump();
    EXPECT_LT(job["progress"]["step"].get<int>(), 100);
}

TEST_F(SdxlServiceTest, AutoPicksSdxlWhenAModelIsInstalled) {
    auto backends = Json(client_->Get("/api/v1/backends"));
    ASSERT_EQ(backends["backends"][0]["name"], "sdxl");
    EXPECT_EQ(backends["backends"][0]["available"], true) << backends.dump();
    for (const auto& backend : backends["backends"]) {  // the two that generate: local SDXL and Stability's API
        EXPECT_EQ(backend["text_to_image"], backend["name"] == "sdxl" || backend["name"] == "stability")
            << backend.dump();
    }
    auto job = Submit({{"style", "anime"}, {"steps", "2"}});
    EXPECT_EQ(job["backend"], "sdxl");
}

TEST_F(SdxlServiceTest, NativeApiRunsATextToImageJobWithoutAnInput) {
    auto res = client_->Post("/api/v1/jobs", Form("", {{"backend", "sdxl"}, {"prompt", "a lighthouse"},
                                                       {"width", "96"}, {"height", "64"}, {"steps", "2"},
                                                       {"seed", "11"}}));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 202) << res->body;
    auto created = Json(res);
    EXPECT_EQ(created["kind"], "txt2img");
    EXPECT_TRUE(created["input"].is_null()) << created.dump();
    EXPECT_EQ(created["params"]["width"], 96);
    auto job = WaitForJob(*client_, created["id"], Finished, 120s);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(job["meta"]["generation_size"], "128x64") << "rounded up to the UNet's multiple of 64";
    EXPECT_EQ(job["meta"]["mode"], "txt2img");
    auto png = client_->Get(job["result"]["image_url"].get<std::string>());
    ASSERT_TRUE(png);
    ExpectPngOfSize(png->body, 96, 64);
    // The gallery lists it like any job (input null), and it can be deleted.
    auto list = Json(client_->Get("/api/v1/jobs"));
    ASSERT_EQ(list["jobs"].size(), 1u);
    EXPECT_TRUE(list["jobs"][0]["input"].is_null());
    auto deleted = client_->Delete("/api/v1/jobs/" + job["id"].get<std::string>());
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 204);
}

TEST_F(SdxlServiceTest, NativeApiRefusesBadTextToImageRequests) {
    auto expect_400 = [&](std::vector<std::pair<std::string, std::string>> fields, const std::string& image,
                          const std::string& needle) {
        auto res = client_->Post("/api/v1/jobs", Form(image, std::move(fields)));
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << res->body;
        EXPECT_NE(res->body.find(needle), std::string::npos) << res->body;
    };
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}, {"width", "64"}}, "", "width and height");
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}, {"width", "100"}, {"height", "64"}}, "", "multiple of 8");
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}, {"width", "4096"}, {"height", "64"}}, "", "2048");
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}, {"width", "wide"}, {"height", "64"}}, "", "width");
    expect_400({{"backend", "sdxl"}, {"width", "64"}, {"height", "64"}}, "", "prompt");
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}}, "", "'image'");
    expect_400({{"backend", "sdxl"}, {"prompt", "x"}, {"width", "64"}, {"height", "64"}}, PngBytes(32, 32),
               "photo's size");
    expect_400({{"backend", "classic"}, {"style", "cartoon"}, {"width", "64"}, {"height", "64"}}, "",
               "backend 'classic' cannot make an image from text");
    EXPECT_TRUE(Json(client_->Get("/api/v1/jobs"))["jobs"].empty()) << "nothing was created";
}

TEST_F(SdxlServiceTest, OpenAiGenerationsMakeAnImageFromText) {
    const nlohmann::json request = {{"prompt", "a red boat"}, {"model", "sdxl"}, {"size", "64x64"},
                                    {"n", 1}, {"seed", 3}, {"user", "someone"}, {"quality", "standard"}};
    auto res = client_->Post("/v1/images/generations", request.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto body = Json(res);
    EXPECT_TRUE(body["created"].is_number_integer());
    ASSERT_EQ(body["data"].size(), 1u);
    EXPECT_EQ(body["data"][0]["revised_prompt"], "a red boat");
    ExpectPngOfSize(Unbase64(body["data"][0]["b64_json"].get<std::string>()), 64, 64);
    auto job = Json(client_->Get("/api/v1/jobs/" + res->get_header_value("X-Labhouse-Job-Id")));
    EXPECT_EQ(job["kind"], "txt2img");
    EXPECT_EQ(job["meta"]["seed"], "3");

    // response_format url, and "dall-e-3" meaning auto (sdxl, the only text-to-image backend).
    auto url = client_->Post("/v1/images/generations",
                             R"({"prompt":"a boat","model":"dall-e-3","size":"64x128","response_format":"url"})",
                             "application/json");
    ASSERT_TRUE(url);
    ASSERT_EQ(url->status, 200) << url->body;
    const std::string link = Json(url)["data"][0]["url"];
    const auto path = link.find("/api/v1/images/");
    ASSERT_NE(path, std::string::npos) << link;
    auto png = client_->Get(link.substr(path));
    ASSERT_TRUE(png);
    ExpectPngOfSize(png->body, 64, 128);
}

TEST_F(SdxlServiceTest, OpenAiGenerationsErrorsNameTheParameter) {
    auto post = [&](const std::string& body) { return client_->Post("/v1/images/generations", body, "application/json"); };
    auto expect = [&](const httplib::Result& res, int status, const std::string& param) {
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, status) << res->body;
        auto body = Json(res);
        ASSERT_TRUE(body["error"].is_object()) << res->body;
        EXPECT_EQ(body["error"]["type"], "invalid_request_error");
        EXPECT_EQ(body["error"]["param"], param) << res->body;
    };
    expect(post(R"({"prompt":"x","size":"64x64","stlye":"anime"})"), 400, "stlye");
    expect(post(R"({"prompt":"x","size":"64x64","n":2})"), 400, "n");
    expect(post(R"({"prompt":"x","size":"huge"})"), 400, "size");
    expect(post(R"({"prompt":"x","size":"100x64"})"), 400, "size");
    expect(post(R"({"prompt":"x","size":"64x64","response_format":"png"})"), 400, "response_format");
    expect(post(R"({"prompt":42})"), 400, "prompt");
    expect(post(R"({"size":"64x64"})"), 400, "prompt");
    expect(post(R"({"prompt":"x","size":"64x64","model":"classic"})"), 400, "model");
    auto not_json = post("prompt=x");
    ASSERT_TRUE(not_json);
    EXPECT_EQ(not_json->status, 400);
    EXPECT_TRUE(Json(client_->Get("/api/v1/jobs"))["jobs"].empty()) << "nothing was created";
}

TEST_F(SdxlServiceTest, A1111Txt2ImgAnswersImagesParametersAndInfo) {
    const nlohmann::json request = {{"prompt", "a lighthouse"}, {"negative_prompt", "blurry"}, {"width", 64},
                                    {"height", 128}, {"steps", 2}, {"cfg_scale", 1.5}, {"seed", 5},
                                    {"sampler_name", "Euler"}, {"batch_size", 1}, {"n_iter", 1},
                                    {"restore_faces", false},
                                    {"override_settings", {{"sd_model_checkpoint", "sdxl"}}}};
    auto res = client_->Post("/sdapi/v1/txt2img", request.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto body = Json(res);
    ASSERT_EQ(body["images"].size(), 1u);
    ExpectPngOfSize(Unbase64(body["images"][0].get<std::string>()), 64, 128);
    EXPECT_EQ(body["parameters"]["prompt"], "a lighthouse");
    EXPECT_EQ(body["parameters"]["width"], 64);
    auto info = nlohmann::json::parse(body["info"].get<std::string>());
    EXPECT_EQ(info["backend"], "sdxl");
    EXPECT_EQ(info["seed"], "5");
    EXPECT_EQ(info["width"], 64);
    EXPECT_EQ(info["height"], 128);
    EXPECT_EQ(info["steps"], 2);
    EXPECT_EQ(info["cfg_scale"], 1.5);
    EXPECT_EQ(info["sampler_name"], "Euler");
    EXPECT_EQ(info["negative_prompt"], "blurry");
    EXPECT_EQ(info["status"], "succeeded");
    EXPECT_EQ(info["meta"]["sampler"], "euler");
    const auto ignored = info["ignored_fields"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(ignored.begin(), ignored.end(), "restore_faces"), ignored.end());
    auto job = Json(client_->Get("/api/v1/jobs/" + info["job_id"].get<std::string>()));
    EXPECT_EQ(job["kind"], "txt2img");
    EXPECT_TRUE(job["input"].is_null());

    // Wrong fields: FastAPI's 422 {"detail"}, and nothing submitted.
    auto expect_422 = [&](nlohmann::json bad, const std::string& needle) {
        auto r = client_->Post("/sdapi/v1/txt2img", bad.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 422) << r->body;
        EXPECT_NE(Json(r)["detail"].get<std::string>().find(needle), std::string::npos) << r->body;
    };
    expect_422({{"prompt", "x"}, {"width", "wide"}}, "width");
    expect_422({{"prompt", "x"}, {"height", 30}}, "height");
    expect_422({{"prompt", "x"}, {"batch_size", 2}}, "batch_size");
    expect_422({{"prompt", "x"}, {"steps", 0}}, "steps");
    expect_422({{"width", 64}}, "prompt");
    expect_422({{"prompt", "x"}, {"override_settings", {{"sd_model_checkpoint", "classic"}}}}, "'classic'");
    EXPECT_EQ(Json(client_->Get("/api/v1/jobs"))["jobs"].size(), 1u);
}

// A1111 clients write emphasis; it reaches the engine (the record says so), and weights past the
// limit are refused before a job exists, in both APIs.
TEST_F(SdxlServiceTest, PromptEmphasisIsHonouredAndAbsurdWeightsAreRefused) {
    const nlohmann::json request = {{"prompt", "a (lighthouse:1.3), [fog]"}, {"width", 64}, {"height", 64},
                                    {"steps", 1}, {"seed", 3}};
    auto res = client_->Post("/sdapi/v1/txt2img", request.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto info = nlohmann::json::parse(Json(res)["info"].get<std::string>());
    EXPECT_EQ(info["meta"]["prompt_emphasis"], "a1111-original") << info.dump();

    nlohmann::json absurd = request;
    absurd["prompt"] = "a (lighthouse:1000)";
    auto refused = client_->Post("/sdapi/v1/txt2img", absurd.dump(), "application/json");
    ASSERT_TRUE(refused);
    EXPECT_GE(refused->status, 400) << refused->body;
    EXPECT_LT(refused->status, 500) << refused->body;
    EXPECT_NE(refused->body.find("emphasis"), std::string::npos) << refused->body;
    auto native = client_->Post("/api/v1/jobs", Form(PngBytes(64, 64), {{"backend", "sdxl"},
                                                                     {"prompt", "x"},
                                                                     {"negative_prompt", std::string(800, '(') + "x"}}));
    ASSERT_TRUE(native);
    EXPECT_EQ(native->status, 400) << native->body;
    EXPECT_NE(native->body.find("emphasis"), std::string::npos) << native->body;
    EXPECT_EQ(Json(client_->Get("/api/v1/jobs"))["jobs"].size(), 1u) << "only the first request made a job";
}

// LABHOUSE_SDXL_VAE_TILE (--sdxl-vae-tile) is checked with the rest of the configuration: a bad
// value stops the service at start with the rule in the message, before any model is loaded.
TEST(SdxlConfigTest, BadVaeTileOrPreviewCadenceIsRefusedAtStart) {
    TempDir dir;
    const std::vector<std::string> base = {"serve", "--port", "0", "--data-dir", (dir.path() / "data").string()};
    for (const char* bad : {"100", "-2", "8192", "520"}) {
        auto [code, out] = RunLabhouse(base, {{"LABHOUSE_SDXL_VAE_TILE", bad}});
        EXPECT_EQ(code, 2) << bad << ": " << out;
        EXPECT_NE(out.find("sdxl vae tile must be 0 (auto), -1 (off)"), std::string::npos) << out;
    }
    std::vector<std::string> flag = base;
    flag.insert(flag.end(), {"--sdxl-vae-tile", "big"});
    EXPECT_NE(RunLabhouse(flag).first, 0);
    for (const char* bad : {"-1", "1001"}) {
        auto [code, out] = RunLabhouse(base, {{"LABHOUSE_SDXL_PREVIEW_EVERY", bad}});
        EXPECT_EQ(code, 2) << bad << ": " << out;
        EXPECT_NE(out.find("sdxl preview every must be between 0 (off) and 1000"), std::string::npos) << out;
    }
}

}  // namespace
}  // namespace labhouse::testing
