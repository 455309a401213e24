// The real `labhouse serve` binary with the stability backend configured from the environment,
// talking to the fake Stability server: what an operator sees with and without a key, jobs run
// over the REST API on both engine families, and the key found nowhere in the output or on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/stability/fake_stability_server.h"
#include "tests/testing/test_images.h"

namespace labhouse::stability::testing {
namespace {

using labhouse::testing::Finished;
using labhouse::testing::Form;
using labhouse::testing::Json;
using labhouse::testing::PngBytes;
using labhouse::testing::ServerProcess;
using labhouse::testing::TempDir;
using labhouse::testing::WaitForJob;

nlohmann::json StabilityEntry(httplib::Client& client) {
    auto backends = Json(client.Get("/api/v1/backends"));
    for (const auto& backend : backends["backends"]) {
        if (backend["name"] == "stability") return backend;
    }
    return nullptr;
}

std::string FilesUnder(const std::filesystem::path& root) {
    std::string all;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream bytes;
        bytes << in.rdbuf();
        all += bytes.str();
    }
    return all;
}

TEST(StabilityService, WithoutAKeyTheBackendIsListedAsUnavailableWithTheReason) {
    TempDir dir;
    ServerProcess server(dir.path(), {"--workers", "0"});
    ASSERT_TRUE(server.Start());
    auto client = server.Client();
    const auto entry = StabilityEntry(*client);
    ASSERT_TRUE(entry.is_object());
    EXPECT_EQ(entry["available"], false);
    EXPECT_NE(entry["reason"].get<std::string>().find("LABHOUSE_STABILITY_API_KEY"), std::string::npos);
    auto res = client->Post("/api/v1/jobs", Form(PngBytes(64, 64), {{"backend", "stability"}, {"prompt", "x"}}));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 409) << res->body;
}

TEST(StabilityService, JobsRunThroughTheApiAndTheKeyIsNowhere) {
    TempDir dir;
    FakeStabilityServer fake;
    ServerProcess server(dir.path(), {},
                         {{"LABHOUSE_STABILITY_API_KEY", fake.api_key()},
                          {"LABHOUSE_STABILITY_API_URL", fake.BaseUrl()},
                          {"LABHOUSE_STABILITY_ENGINE", "sd3.5-medium"},
                          {"LABHOUSE_STABILITY_CONCURRENCY", "2"}});
    ASSERT_TRUE(server.Start());
    auto client = server.Client();
    const auto entry = StabilityEntry(*client);
    ASSERT_TRUE(entry.is_object());
    EXPECT_EQ(entry["available"], true) << entry.dump();
    EXPECT_EQ(entry["details"]["balance"], "1000.00");

    auto submit = [&](std::vector<std::pair<std::string, std::string>> fields) {
        fields.emplace_back("backend", "stability");
        auto res = client->Post("/api/v1/jobs", Form(PngBytes(320, 240), fields));
        EXPECT_TRUE(res && res->status == 202) << (res ? res->body : "no answer");
        return res ? Json(res).value("id", std::string()) : std::string();
    };
    const std::string v2 = submit({{"prompt", "a harbour at dusk"}, {"strength", "0.6"}});
    const std::string v1 = submit({{"style", "cinematic"}, {"engine", "stable-diffusion-xl-1024-v1-0"}, {"seed", "5"}});
    const std::string bad = submit({{"prompt", "forbidden"}, {"engine", "stable-diffusion-xl-1024-v1-0"}});
    auto v2_job = WaitForJob(*client, v2, Finished);
    auto v1_job = WaitForJob(*client, v1, Finished);
    auto bad_job = WaitForJob(*client, bad, Finished);

    EXPECT_EQ(v2_job["status"], "succeeded") << v2_job.dump();
    EXPECT_EQ(v2_job["meta"]["engine"], "sd3.5-medium");
    EXPECT_EQ(v1_job["status"], "succeeded") << v1_job.dump();
    EXPECT_EQ(v1_job["meta"]["seed"], "5");
    EXPECT_EQ(v1_job["meta"]["image_strength"], "0.55");  // the cinematic style's strength 0.45, inverted
    EXPECT_EQ(bad_job["status"], "failed");
    EXPECT_EQ(bad_job["error"]["code"], "INVALID_ARGUMENT");
    ASSERT_TRUE(v1_job["result"].is_object());
    auto result = client->Get(v1_job["result"]["image_url"].get<std::string>());
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    EXPECT_GT(result->body.size(), 1000u);
    ASSERT_EQ(fake.Requests("/v2beta/stable-image/generate/sd3").size(), 1u);
    EXPECT_EQ(fake.Requests("/v1/generation").size(), 2u);
    EXPECT_EQ(fake.Requests("/v1/generation")[0].files.at("init_image").width, 1152);

    const std::string metrics = client->Get("/metrics")->body;
    EXPECT_EQ(server.Terminate(), 0);
    const std::string everywhere = server.Log() + metrics + FilesUnder(dir.path());
    EXPECT_NE(server.Log().find("stability_api_key=<set>"), std::string::npos);
    EXPECT_EQ(everywhere.find(fake.api_key()), std::string::npos);
}

// Text to image through the compatibility APIs reaches Stability when it is the only backend that
// can do it (`auto` skips the others), and comes back at the asked size.
TEST(StabilityService, TextToImageThroughTheOpenAiApiUsesStability) {
    TempDir dir;
    FakeStabilityServer fake;
    ServerProcess server(dir.path(), {},
                         {{"LABHOUSE_STABILITY_API_KEY", fake.api_key()},
                          {"LABHOUSE_STABILITY_API_URL", fake.BaseUrl()}});
    ASSERT_TRUE(server.Start());
    auto client = server.Client();
    client->set_read_timeout(60, 0);
    auto res = client->Post("/v1/images/generations",
                            R"({"prompt":"a harbour at dusk","size":"768x512","response_format":"b64_json"})",
                            "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const auto requests = fake.Requests("/v1/generation");
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].path, "/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image");
    EXPECT_EQ(nlohmann::json::parse(requests[0].json_body)["width"], 1216);  // 3:2 -> 1216x832
    auto jobs = Json(client->Get("/api/v1/jobs"));
    ASSERT_EQ(jobs["jobs"].size(), 1u);
    EXPECT_EQ(jobs["jobs"][0]["backend"], "stability");
    EXPECT_EQ(jobs["jobs"][0]["kind"], "txt2img");
    EXPECT_EQ(jobs["jobs"][0]["meta"]["result_size"], "768x512");
}

}  // namespace
}  // namespace labhouse::stability::testing
