// The HTTP API end to end against the real `labhouse serve` process on loopback, with the classic
// backend: happy path, every bad input of issue 2, idempotency, cancel, SSE, metrics, and
// durability across kill -9 and SIGTERM.
#include <gtest/gtest.h>

#include "labhouse/imaging/opencv_image_codec.h"
#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

class ApiProcessTest : public ::testing::Test {
protected:
    void StartServer(std::vector<std::string> args = {}) {
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::move(args));
        ASSERT_TRUE(server_->Start());
        client_ = server_->Client();
    }

    nlohmann::json Submit(const std::string& image, std::vector<std::pair<std::string, std::string>> fields,
                          int expected_status = 202) {
        auto res = client_->Post("/api/v1/jobs", Form(image, std::move(fields)));
        EXPECT_TRUE(res);
        if (!res) return nullptr;
        EXPECT_EQ(res->status, expected_status) << res->body;
        EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
        return Json(res);
    }

    void ExpectError(const httplib::Result& res, int status, const std::string& code) {
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, status) << res->body;
        auto body = Json(res);
        ASSERT_TRUE(body.is_object()) << res->body;
        EXPECT_EQ(body["error"]["code"], code) << res->body;
        EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
    }

    int JobCount() {
        auto list = Json(client_->Get("/api/v1/jobs?limit=100"));
        return static_cast<int>(list["jobs"].size());
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiProcessTest, ClassicJobSucceedsAndItsResultDownloads) {
    StartServer();
    auto res = client_->Post("/api/v1/jobs", Form(JpegBytes(320, 240), {{"backend", "classic"}, {"style", "cartoon"},
                                                                           {"prompt", "a harbour"}}));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 202) << res->body;
    auto job = Json(res);
    const std::string id = job["id"];
    EXPECT_EQ(res->get_header_value("Location"), "/api/v1/jobs/" + id);
    EXPECT_EQ(job["status"], "queued");
    EXPECT_EQ(job["backend"], "classic");
    job = WaitForJob(*client_, id, Finished);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(job["attempts"], 1);
    EXPECT_EQ(job["progress"]["step"], job["progress"]["total"]);
    EXPECT_FALSE(job["started_at"].is_null());
    EXPECT_FALSE(job["finished_at"].is_null());
    const std::string url = job["result"]["image_url"];
    auto image = client_->Get(url);
    ASSERT_TRUE(image);
    ASSERT_EQ(image->status, 200);
    EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
    const std::string etag = image->get_header_value("ETag");
    EXPECT_FALSE(etag.empty());
    auto cached = client_->Get(url, {{"If-None-Match", etag}});
    ASSERT_TRUE(cached);
    EXPECT_EQ(cached->status, 304);
    auto text = imaging::ReadPngText(image->body);
    EXPECT_EQ(text["labhouse:job_id"], id);
    EXPECT_EQ(text["labhouse:style"], "cartoon");
    EXPECT_EQ(text["labhouse:prompt"], "a harbour");
    imaging::OpenCvImageCodec codec;
    auto decoded = codec.Decode(image->body);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->width, 320);
    auto input = client_->Get(job["input"]["image_url"].get<std::string>());
    ASSERT_TRUE(input);
    EXPECT_EQ(input->get_header_value("Content-Type"), "image/png");
}

TEST_F(ApiProcessTest, EveryBadInputGetsAClearJsonErrorAndNothingIsStored) {
    StartServer({"--max-upload-bytes", "300000", "--workers", "0"});
    const std::string png = PngBytes(64, 48);
    const std::string jpeg = JpegBytes(64, 48);
    std::string huge = PngBytes(8, 8);  // header rewritten to claim 100000 x 100000
    for (int i = 0; i < 4; ++i) {
        huge[16 + i] = static_cast<char>(100000u >> (24 - 8 * i));
        huge[20 + i] = static_cast<char>(100000u >> (24 - 8 * i));
    }
    const std::vector<std::pair<std::string, std::string>> classic = {{"backend", "classic"}, {"style", "cartoon"}};

    ExpectError(client_->Post("/api/v1/jobs", Form("this is not an image", classic)), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png.substr(0, png.size() / 2), classic)), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(jpeg.substr(0, jpeg.size() / 2), classic)), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(huge, classic)), 413, "PAYLOAD_TOO_LARGE");
    ExpectError(client_->Post("/api/v1/jobs", Form(std::string(310000, 'x'), classic)), 413, "PAYLOAD_TOO_LARGE");
    ExpectError(client_->Post("/api/v1/jobs", Form(std::string(2'000'000, 'x'), classic)), 413, "PAYLOAD_TOO_LARGE");
    ExpectError(client_->Post("/api/v1/jobs", Form("", classic)), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png, {{"backend", "dalle"}})), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png, {{"backend", "classic"}, {"style", "vaporwave"}})), 400,
                "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png, {{"backend", "classic"}, {"style", "cartoon"}, {"strength", "1.5"}})),
                400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png, {{"backend", "classic"}, {"style", "cartoon"}, {"steps", "abc"}})),
                400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", Form(png, {{"backend", "classic"}, {"strenght", "0.5"}})), 400,
                "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", "--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
                              "multipart/form-data; boundary=xyz"),
                400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs", "{\"image\": 1}", "application/json"), 400, "INVALID_ARGUMENT");
    // Slashes (even encoded) never match a job route; anything else is checked before any lookup.
    ExpectError(client_->Get("/api/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "NOT_FOUND");
    ExpectError(client_->Get("/api/v1/jobs/../../etc/passwd"), 404, "NOT_FOUND");
    ExpectError(client_->Get("/api/v1/jobs/..%5C..%5Cetc%5Cpasswd"), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Post("/api/v1/jobs/not-a-job/cancel"), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Get("/api/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "NOT_FOUND");
    ExpectError(client_->Get("/api/v1/images/..%2F..%2Fetc%2Fpasswd"), 404, "NOT_FOUND");
    ExpectError(client_->Get("/api/v1/images/etc-passwd"), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Get("/api/v1/jobs?limit=1000"), 400, "INVALID_ARGUMENT");
    ExpectError(client_->Get("/api/v1/jobs?status=done"), 400, "INVALID_ARGUMENT");

    EXPECT_EQ(JobCount(), 0) << "no bad request left a job behind";
    std::size_t blob_files = 0;
    if (std::filesystem::exists(dir_.path() / "data" / "blobs")) {
        for (auto& e : std::filesystem::recursive_directory_iterator(dir_.path() / "data" / "blobs")) {
            blob_files += e.is_regular_file();
        }
    }
    EXPECT_EQ(blob_files, 0u) << "no bad request left a file behind";
    auto health = client_->Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << "the server keeps serving";
}

TEST_F(ApiProcessTest, CancelQueuedAndRefuseCancelOfFinished) {
    StartServer({"--workers", "0"});
    auto job = Submit(PngBytes(64, 64), {{"backend", "classic"}, {"style", "watercolor"}});
    const std::string id = job["id"];
    EXPECT_EQ(job["queue_position"], 0);
    auto canceled = client_->Post("/api/v1/jobs/" + id + "/cancel");
    ASSERT_TRUE(canceled);
    EXPECT_EQ(canceled->status, 200);
    EXPECT_EQ(Json(canceled)["status"], "canceled");
    ExpectError(client_->Post("/api/v1/jobs/" + id + "/cancel"), 409, "FAILED_PRECONDITION");
    auto deleted = client_->Delete("/api/v1/jobs/" + id);
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 204);
    ExpectError(client_->Get("/api/v1/jobs/" + id), 404, "NOT_FOUND");
}

TEST_F(ApiProcessTest, CancelARunningJobStopsItAtTheNextStep) {
    StartServer();
    const std::string id = Submit(PngBytes(1600, 1200), {{"backend", "classic"}, {"style", "watercolor"}})["id"];
    auto running = WaitForJob(*client_, id, [](const nlohmann::json& j) { return j["status"] != "queued"; });
    ASSERT_EQ(running["status"], "running");
    auto requested = client_->Post("/api/v1/jobs/" + id + "/cancel");
    ASSERT_TRUE(requested);
    EXPECT_EQ(requested->status, 200);
    EXPECT_EQ(Json(requested)["cancel_requested"], true);
    auto job = WaitForJob(*client_, id, Finished);
    EXPECT_EQ(job["status"], "canceled") << job.dump();
    EXPECT_TRUE(job["result"].is_null());
}

TEST_F(ApiProcessTest, IdempotencyKeyNeverCreatesASecondJob) {
    StartServer({"--workers", "0"});
    const std::string png = PngBytes(64, 64);
    const std::vector<std::pair<std::string, std::string>> fields = {{"backend", "classic"}, {"style", "cartoon"}};
    httplib::Headers key = {{"Idempotency-Key", "order-7"}};
    auto first = client_->Post("/api/v1/jobs", key, Form(png, fields));
    auto second = client_->Post("/api/v1/jobs", key, Form(png, fields));
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->status, 202);
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(Json(first)["id"], Json(second)["id"]);
    auto reused = client_->Post("/api/v1/jobs", key, Form(PngBytes(65, 64), fields));
    ExpectError(reused, 409, "ALREADY_EXISTS");
    EXPECT_EQ(JobCount(), 1);
}

TEST_F(ApiProcessTest, ServerSentEventsStreamProgressUntilTheJobEnds) {
    StartServer({"--workers", "0"});
    auto job = Submit(PngBytes(640, 480), {{"backend", "classic"}, {"style", "watercolor"}});
    const std::string id = job["id"];
    // A second server on the same data is refused (one embedded server per data dir)...
    ServerProcess second(dir_.path() / "data");
    EXPECT_FALSE(second.Start());
    server_->Terminate();
    // ...so restart with a worker, and stream while it runs.
    StartServer();
    std::string stream;
    auto res = client_->Get("/api/v1/jobs/" + id + "/events", [&](const char* data, std::size_t n) {
        stream.append(data, n);
        return true;
    });
    ASSERT_TRUE(res);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    EXPECT_NE(stream.find("event: status"), std::string::npos) << stream;
    EXPECT_NE(stream.find("event: done"), std::string::npos) << stream;
    EXPECT_NE(stream.find("\"succeeded\""), std::string::npos) << stream;
}

TEST_F(ApiProcessTest, MetricsAndBackendsAndStylesDescribeTheService) {
    StartServer({"--workers", "0"});
    Submit(PngBytes(64, 64), {{"backend", "classic"}, {"style", "cartoon"}});
    auto metrics = client_->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("labhouse_jobs{state=\"queued\"} 1"), std::string::npos) << metrics->body;
    EXPECT_NE(metrics->body.find("labhouse_queue_depth 1"), std::string::npos);
    EXPECT_NE(metrics->body.find("labhouse_http_requests_total{route=\"POST /api/v1/jobs\",status=\"202\"} 1"),
              std::string::npos);
    auto backends = Json(client_->Get("/api/v1/backends"));
    bool classic_available = false;
    for (const auto& b : backends["backends"]) classic_available |= (b["name"] == "classic" && b["available"] == true);
    EXPECT_TRUE(classic_available) << backends.dump();
    auto styles = Json(client_->Get("/api/v1/styles"));
    ASSERT_GE(styles["styles"].size(), 4u);
    EXPECT_EQ(styles["styles"][0]["name"], "pencil-sketch");
    EXPECT_FALSE(styles["styles"][0]["title"].get<std::string>().empty());
    auto ready = client_->Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
}

TEST_F(ApiProcessTest, KillDashNineMidJobLosesNothing) {
    StartServer();
    std::vector<std::string> ids;
    // The first job takes seconds (watercolor on 1600x1200), long enough to be killed mid-way.
    ids.push_back(Submit(PngBytes(1600, 1200), {{"backend", "classic"}, {"style", "watercolor"}})["id"]);
    for (int i = 0; i < 2; ++i) {
        ids.push_back(Submit(PngBytes(64, 64 + i), {{"backend", "classic"}, {"style", "cartoon"}})["id"]);
    }
    auto running = WaitForJob(*client_, ids[0], [](const nlohmann::json& j) { return j["status"] != "queued"; });
    ASSERT_EQ(running["status"], "running") << "the first job should still be running: " << running.dump();
    server_->Kill();
    StartServer();  // same data dir
    for (const std::string& id : ids) {
        auto job = WaitForJob(*client_, id, Finished, 120s);
        EXPECT_EQ(job["status"], "succeeded") << job.dump();
    }
    EXPECT_EQ(Json(client_->Get("/api/v1/jobs/" + ids[0]))["attempts"], 2) << "it was run again after the crash";
}

TEST_F(ApiProcessTest, SigtermLetsTheRunningJobFinishOrReturnsIt) {
    StartServer({"--shutdown-grace-seconds", "0"});
    const std::string id = Submit(PngBytes(1600, 1200), {{"backend", "classic"}, {"style", "watercolor"}})["id"];
    auto running = WaitForJob(*client_, id, [](const nlohmann::json& j) { return j["status"] != "queued"; });
    ASSERT_EQ(running["status"], "running");
    EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
    StartServer();
    auto job = WaitForJob(*client_, id, Finished, 120s);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
}

TEST(Cli, UnknownOptionsAndEnvironmentVariablesAreErrors) {
    auto [help_code, help] = RunLabhouse({"serve", "--help"});
    EXPECT_EQ(help_code, 0);
    for (const char* option : {"--host", "--port", "--data-dir", "--database-url", "--workers", "--max-upload-bytes",
                               "--max-pixels", "LABHOUSE_PORT"}) {
        EXPECT_NE(help.find(option), std::string::npos) << option;
    }
    auto [bad_option, out1] = RunLabhouse({"serve", "--prot", "9"});
    EXPECT_NE(bad_option, 0) << out1;
    auto [bad_env, out2] = RunLabhouse({"serve"}, {{"LABHOUSE_PROT", "9"}});
    EXPECT_EQ(bad_env, 2) << out2;
    EXPECT_NE(out2.find("LABHOUSE_PROT"), std::string::npos);
    auto [bad_value, out3] = RunLabhouse({"serve", "--workers", "-3", "--data-dir", "/tmp/labhouse-never"});
    EXPECT_EQ(bad_value, 2) << out3;
}

}  // namespace
}  // namespace labhouse::testing
