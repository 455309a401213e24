// The sdxl backend through the real service, on the tiny random-weight model that the engine
// writes itself (same loading code as the real checkpoints): progress events, reproducibility
// record in the job and the PNG, same seed -> same bytes, cancel mid-run, and "auto" choosing sdxl.
#include <gtest/gtest.h>

#include "labhouse/engine/sdxl_pipeline.h"
#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

class SdxlServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto model = engine::WriteTinySdxlModel((dir_.path() / "models").string());
        ASSERT_TRUE(model) << model.error().message;
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::vector<std::string>{"--sdxl-model", *model});
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
                            "generation_size", "engine_version", "dtype", "prompt"}) {
        EXPECT_TRUE(meta.contains(key)) << key << " missing from " << meta.dump();
    }
    EXPECT_EQ(meta["seed"], "7");
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
    auto job = Submit({{"style", "anime"}, {"steps", "2"}});
    EXPECT_EQ(job["backend"], "sdxl");
}

}  // namespace
}  // namespace labhouse::testing
