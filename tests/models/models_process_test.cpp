// The real `labhouse` binary: `models pull` against the fake hub, then `serve` lists the result on
// GET /api/v1/models.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/server_process.h"
#include "tests/models/fake_hub.h"
#include "tests/models/test_util.h"

namespace labhouse::models {
namespace {

constexpr const char* kToken = "hf_ProcessTestToken42";

TEST(ModelsProcessTest, PullThenServeListsTheInstalledModel) {
    testing::FakeHub hub;
    testing::TempDir dir;
    const std::string weights = testing::TestBytes(300 * 1024, 5);
    hub.AddFile("acme/turbo-mini", "unet.safetensors", weights);
    hub.Gate("acme/turbo-mini", kToken);
    const std::string models_dir = (dir.path() / "models").string();

    auto [denied_code, denied_out] = labhouse::testing::RunLabhouse(
        {"models", "pull", "acme/turbo-mini", "--file", "unet.safetensors", "--dir", models_dir},
        {{"HF_ENDPOINT", hub.endpoint()}, {"HF_TOKEN", ""}});
    EXPECT_EQ(denied_code, 1) << denied_out;
    EXPECT_NE(denied_out.find("set HF_TOKEN"), std::string::npos) << denied_out;

    auto [code, out] = labhouse::testing::RunLabhouse(
        {"models", "pull", "acme/turbo-mini", "--file", "unet.safetensors", "--log-level", "debug"},
        {{"HF_ENDPOINT", hub.endpoint()}, {"HF_TOKEN", kToken}, {"LABHOUSE_MODELS_DIR", models_dir}});
    ASSERT_EQ(code, 0) << out;
    EXPECT_NE(out.find(testing::Sha256HexOf(weights)), std::string::npos) << out;
    EXPECT_NE(out.find("hub_probe"), std::string::npos) << out;  // debug records were on ...
    EXPECT_EQ(out.find(kToken), std::string::npos) << out;       // ... and none carried the token

    labhouse::testing::ServerProcess server(dir.path() / "data", {"--workers", "0", "--models-dir", models_dir});
    ASSERT_TRUE(server.Start());
    auto response = server.Client()->Get("/api/v1/models");
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    const auto body = nlohmann::json::parse(response->body);
    ASSERT_EQ(body["models"].size(), 1u) << response->body;
    const auto& model = body["models"][0];
    EXPECT_EQ(model["name"], "acme/turbo-mini");
    EXPECT_EQ(model["size_bytes"], weights.size());
    EXPECT_EQ(model["files"][0]["sha256"], testing::Sha256HexOf(weights));
    EXPECT_EQ(model["files"][0]["verified_by"], "hub-sha256");
    EXPECT_EQ(server.Terminate(), 0);
}

TEST(ModelsProcessTest, ServeWithoutModelsListsNone) {
    testing::TempDir dir;
    labhouse::testing::ServerProcess server(dir.path() / "data", {"--workers", "0"});
    ASSERT_TRUE(server.Start());
    auto response = server.Client()->Get("/api/v1/models");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(nlohmann::json::parse(response->body)["models"], nlohmann::json::array());
    EXPECT_EQ(server.Terminate(), 0);
}

}  // namespace
}  // namespace labhouse::models
