// The compatibility APIs end to end against the real binary with the classic backend:
// AUTOMATIC1111's /sdapi/v1 (and, below, OpenAI's /v1/images), including their error shapes and
// the same API-key rules as the native API.
#include <gtest/gtest.h>

#include <cstring>
#include <regex>

#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

class CompatProcessTest : public ::testing::Test {
protected:
    void StartServer(std::vector<std::string> args = {}) {
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::move(args));
        ASSERT_TRUE(server_->Start());
        client_ = server_->Client();
    }

    httplib::Result PostJson(const std::string& path, const nlohmann::json& body) {
        return client_->Post(path, body.dump(), "application/json");
    }

    nlohmann::json Img2ImgBody(const std::string& image) {
        // What an A1111 client typically sends, including fields labhouse has no use for.
        return {{"init_images", {Base64(image)}},
                {"prompt", "a harbour at dusk"},
                {"negative_prompt", "blurry"},
                {"styles", {"cartoon"}},
                {"denoising_strength", 0.6},
                {"steps", 20},
                {"cfg_scale", 7},
                {"seed", -1},
                {"sampler_name", "Euler a"},
                {"width", 512},
                {"height", 512},
                {"batch_size", 1},
                {"n_iter", 1},
                {"restore_faces", false},
                {"override_settings", {{"sd_model_checkpoint", "classic"}}}};
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(CompatProcessTest, A1111Img2ImgRunsAClassicJobAndReturnsBase64Png) {
    StartServer();
    auto res = PostJson("/sdapi/v1/img2img", Img2ImgBody(PngBytes(96, 64)));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto body = Json(res);
    ASSERT_EQ(body["images"].size(), 1u) << res->body;
    imaging::OpenCvImageCodec codec;
    auto decoded = codec.Decode(Unbase64(body["images"][0].get<std::string>()));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->width, 96);
    EXPECT_EQ(decoded->height, 64);
    EXPECT_TRUE(body["parameters"]["init_images"].is_null());
    EXPECT_EQ(body["parameters"]["prompt"], "a harbour at dusk");
    ASSERT_TRUE(body["info"].is_string());
    auto info = nlohmann::json::parse(body["info"].get<std::string>());
    EXPECT_EQ(info["backend"], "classic");
    EXPECT_EQ(info["styles"], nlohmann::json::array({"cartoon"}));
    EXPECT_EQ(info["status"], "succeeded");
    const auto ignored = info["ignored_fields"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(ignored.begin(), ignored.end(), "restore_faces"), ignored.end());
    // The job is an ordinary job: it stays in the gallery and the jobs API.
    const std::string id = info["job_id"];
    EXPECT_EQ(res->get_header_value("X-Labhouse-Job-Id"), id);
    auto job = Json(client_->Get("/api/v1/jobs/" + id));
    EXPECT_EQ(job["status"], "succeeded");
    EXPECT_EQ(job["params"]["strength"], 0.6);
    EXPECT_EQ(job["params"]["prompt"], "a harbour at dusk");
}

TEST_F(CompatProcessTest, A1111ErrorsUseFastApiShape) {
    StartServer({"--workers", "0"});
    auto expect_422 = [&](nlohmann::json body, const std::string& needle) {
        auto res = PostJson("/sdapi/v1/img2img", body);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 422) << res->body;
        auto json = Json(res);
        ASSERT_TRUE(json["detail"].is_string()) << res->body;
        EXPECT_NE(json["detail"].get<std::string>().find(needle), std::string::npos) << res->body;
    };
    const std::string png = PngBytes(32, 32);
    auto body = Img2ImgBody(png);
    body["init_images"] = {"%%% not base64 %%%"};
    expect_422(body, "base64");
    body = Img2ImgBody(png);
    body["batch_size"] = 2;
    expect_422(body, "batch_size");
    body = Img2ImgBody(png);
    body["styles"] = {"vaporwave"};
    expect_422(body, "vaporwave");
    body = Img2ImgBody(png);
    body["steps"] = "many";
    expect_422(body, "steps");
    body = Img2ImgBody(png);
    body.erase("init_images");
    expect_422(body, "init_images");
    // txt2img on a backend that cannot make images from text: 422 naming it; with "auto" and no
    // text-to-image backend available (no SDXL model here): 409 saying why.
    auto txt = PostJson("/sdapi/v1/txt2img",
                        {{"prompt", "a cat"}, {"override_settings", {{"sd_model_checkpoint", "classic"}}}});
    ASSERT_TRUE(txt);
    EXPECT_EQ(txt->status, 422) << txt->body;
    EXPECT_NE(Json(txt)["detail"].get<std::string>().find("'classic'"), std::string::npos) << txt->body;
    auto auto_txt = PostJson("/sdapi/v1/txt2img", {{"prompt", "a cat"}});
    ASSERT_TRUE(auto_txt);
    EXPECT_EQ(auto_txt->status, 409) << auto_txt->body;
    EXPECT_NE(Json(auto_txt)["detail"].get<std::string>().find("text-to-image"), std::string::npos);
    auto bad_size = PostJson("/sdapi/v1/txt2img", {{"prompt", "a cat"}, {"width", 100}});
    ASSERT_TRUE(bad_size);
    EXPECT_EQ(bad_size->status, 422) << bad_size->body;
    EXPECT_NE(Json(bad_size)["detail"].get<std::string>().find("width"), std::string::npos);
    EXPECT_TRUE(Json(client_->Get("/api/v1/jobs"))["jobs"].empty());  // nothing was submitted
}

TEST_F(CompatProcessTest, A1111InfoRoutesDescribeBackendsSamplersAndProgress) {
    StartServer({"--workers", "0"});
    auto models = Json(client_->Get("/sdapi/v1/sd-models"));
    ASSERT_TRUE(models.is_array());
    bool classic = false;
    for (const auto& m : models) classic = classic || m["title"] == "classic";
    EXPECT_TRUE(classic) << models.dump();
    auto samplers = Json(client_->Get("/sdapi/v1/samplers"));
    ASSERT_TRUE(samplers.is_array());
    EXPECT_FALSE(samplers.empty());
    auto idle = Json(client_->Get("/sdapi/v1/progress"));
    EXPECT_EQ(idle["progress"], 0.0);
    EXPECT_EQ(idle["state"]["job_count"], 0);
    // A queued job (no workers) counts in job_count; interrupt answers 200.
    client_->Post("/api/v1/jobs", Form(PngBytes(32, 32), {{"backend", "classic"}, {"style", "cartoon"}}));
    auto busy = Json(client_->Get("/sdapi/v1/progress"));
    EXPECT_EQ(busy["state"]["job_count"], 1) << busy.dump();
    EXPECT_TRUE(busy.contains("eta_relative"));
    auto interrupt = client_->Post("/sdapi/v1/interrupt");
    ASSERT_TRUE(interrupt);
    EXPECT_EQ(interrupt->status, 200);
}

TEST_F(CompatProcessTest, A1111HonoursApiKeysAndOwnership) {
    auto [code, output] = RunLabhouse({"keys", "create", "--name", "a1111", "--daily-jobs", "1", "--data-dir",
                                       (dir_.path() / "data").string()});
    ASSERT_EQ(code, 0) << output;
    std::smatch secret;
    ASSERT_TRUE(std::regex_search(output, secret, std::regex(R"(secret: (lh_[0-9A-Za-z]{43}))")));
    StartServer({"--auth", "keys"});
    auto anonymous = PostJson("/sdapi/v1/img2img", Img2ImgBody(PngBytes(32, 32)));
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401);
    client_->set_bearer_token_auth(secret[1].str().c_str());
    auto ok = PostJson("/sdapi/v1/img2img", Img2ImgBody(PngBytes(32, 32)));
    ASSERT_TRUE(ok);
    ASSERT_EQ(ok->status, 200) << ok->body;
    auto over = PostJson("/sdapi/v1/img2img", Img2ImgBody(PngBytes(32, 32)));
    ASSERT_TRUE(over);
    EXPECT_EQ(over->status, 429) << over->body;
    EXPECT_FALSE(over->get_header_value("Retry-After").empty());
    const std::string id = nlohmann::json::parse(Json(ok)["info"].get<std::string>())["job_id"];
    EXPECT_EQ(Json(client_->Get("/api/v1/jobs/" + id))["status"], "succeeded");
}

void ExpectOpenAiError(const httplib::Result& res, int status, const std::string& param, const std::string& code = "") {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    auto body = Json(res);
    ASSERT_TRUE(body["error"].is_object()) << res->body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(body["error"]["type"].is_string());
    if (param.empty()) {
        EXPECT_TRUE(body["error"]["param"].is_null()) << res->body;
    } else {
        EXPECT_EQ(body["error"]["param"], param) << res->body;
    }
    if (!code.empty()) {
        EXPECT_EQ(body["error"]["code"], code) << res->body;
    }
}

TEST_F(CompatProcessTest, OpenAiEditReturnsB64JsonOrAUrlAndKeepsTheJob) {
    StartServer();
    httplib::MultipartFormDataItems form = {{"image", PngBytes(80, 60), "photo.png", "image/png"},
                                            {"prompt", "a watercolour harbour", "", ""},
                                            {"model", "classic", "", ""},
                                            {"style", "watercolor", "", ""},
                                            {"n", "1", "", ""},
                                            {"size", "1024x1024", "", ""}};
    auto res = client_->Post("/v1/images/edits", form);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto body = Json(res);
    EXPECT_TRUE(body["created"].is_number_integer());
    ASSERT_EQ(body["data"].size(), 1u);
    imaging::OpenCvImageCodec codec;
    auto decoded = codec.Decode(Unbase64(body["data"][0]["b64_json"].get<std::string>()));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->width, 80);
    const std::string id = res->get_header_value("X-Labhouse-Job-Id");
    EXPECT_EQ(Json(client_->Get("/api/v1/jobs/" + id))["params"]["style"], "watercolor");

    form.push_back({"response_format", "url", "", ""});
    auto by_url = client_->Post("/v1/images/edits", form);
    ASSERT_TRUE(by_url);
    ASSERT_EQ(by_url->status, 200) << by_url->body;
    const std::string url = Json(by_url)["data"][0]["url"];
    const auto path = url.find("/api/v1/images/");
    ASSERT_NE(path, std::string::npos) << url;
    EXPECT_EQ(url.rfind("http://", 0), 0u) << url;
    auto image = client_->Get(url.substr(path));
    ASSERT_TRUE(image);
    EXPECT_EQ(image->status, 200);
    EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
}

TEST_F(CompatProcessTest, OpenAiErrorsNameTheParameter) {
    StartServer({"--workers", "0"});
    const std::string png = PngBytes(32, 32);
    auto post = [&](httplib::MultipartFormDataItems form) { return client_->Post("/v1/images/edits", form); };
    ExpectOpenAiError(post({{"image", png, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"strenght", "0.5", "", ""}}),
                      400, "strenght");
    ExpectOpenAiError(post({{"image", png, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"n", "2", "", ""}}), 400, "n");
    ExpectOpenAiError(post({{"prompt", "x", "", ""}}), 400, "image");
    ExpectOpenAiError(post({{"image", png, "a.png", "image/png"}}), 400, "prompt");
    ExpectOpenAiError(post({{"image", png, "a.png", "image/png"}, {"prompt", "x", "", ""},
                            {"response_format", "jpeg", "", ""}}),
                      400, "response_format");
    ExpectOpenAiError(post({{"image", "not an image", "a.png", "image/png"}, {"prompt", "x", "", ""},
                            {"model", "classic", "", ""}, {"style", "cartoon", "", ""}}),
                      400, "", "invalid_argument");
    ExpectOpenAiError(post({{"image", png, "a.png", "image/png"}, {"prompt", "x", "", ""}, {"model", "dalle-9", "", ""}}),
                      400, "", "invalid_argument");
    // Text-to-image: classic cannot (400 on `model`); "auto" finds no text-to-image backend here.
    ExpectOpenAiError(client_->Post("/v1/images/generations", R"({"prompt":"a cat","model":"classic"})",
                                    "application/json"),
                      400, "model", "invalid_argument");
    ExpectOpenAiError(client_->Post("/v1/images/generations", R"({"prompt":"a cat","model":"dall-e-3"})",
                                    "application/json"),
                      409, "", "failed_precondition");
    ExpectOpenAiError(client_->Post("/v1/images/generations", R"({"prompt":"a cat","sizee":"64x64"})",
                                    "application/json"),
                      400, "sizee");
    ExpectOpenAiError(client_->Post("/v1/images/generations", R"({"size":"1024x1024"})", "application/json"), 400,
                      "prompt");
    EXPECT_TRUE(Json(client_->Get("/api/v1/jobs"))["jobs"].empty());
}

TEST_F(CompatProcessTest, OpenAiHonoursApiKeysWithOpenAiShapedAuthErrors) {
    auto [code, output] =
        RunLabhouse({"keys", "create", "--name", "sdk", "--data-dir", (dir_.path() / "data").string()});
    ASSERT_EQ(code, 0) << output;
    std::smatch secret;
    ASSERT_TRUE(std::regex_search(output, secret, std::regex(R"(secret: (lh_[0-9A-Za-z]{43}))")));
    StartServer({"--auth", "keys"});
    httplib::MultipartFormDataItems form = {{"image", PngBytes(40, 40), "photo.png", "image/png"},
                                            {"prompt", "x", "", ""}, {"model", "classic", "", ""},
                                            {"style", "cartoon", "", ""}};
    ExpectOpenAiError(client_->Post("/v1/images/edits", form), 401, "", "UNAUTHENTICATED");
    client_->set_bearer_token_auth(secret[1].str().c_str());
    auto ok = client_->Post("/v1/images/edits", form);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
}

}  // namespace
}  // namespace labhouse::testing
