// Webhooks end to end: the real server POSTs signed job events to a tiny receiver on loopback.
// The signature is checked with the recipe in docs/api.md, a 500 is retried, a slow receiver
// does not hold up another job's delivery, and a delivery cut short by a killed server is sent
// after the restart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "test-webhook-secret";

// The documented verification recipe: hex HMAC-SHA256(secret, timestamp + "." + raw body).
std::string ExpectedSignature(const std::string& timestamp, const std::string& body) {
    const std::string message = timestamp + "." + body;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), kSecret, static_cast<int>(std::strlen(kSecret)),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
    std::string hex = "sha256=";
    char buffer[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(buffer, sizeof buffer, "%02x", digest[i]);
        hex += buffer;
    }
    return hex;
}

struct Received {
    std::string path;
    std::string body;
    std::string signature;
    std::string timestamp;
    Clock::time_point at;
};

class Receiver {
public:
    Receiver() {
        server_.Post(R"(/(ok|flaky|slow|hang))", [this](const httplib::Request& req, httplib::Response& res) {
            const std::string path = req.matches[1];
            int calls = 0;
            {
                std::lock_guard lock(mutex_);
                received_.push_back({path, req.body, req.get_header_value("X-Labhouse-Signature"),
                                     req.get_header_value("X-Labhouse-Timestamp"), Clock::now()});
                calls = ++calls_[path];
            }
            if (path == "slow") std::this_thread::sleep_for(6s);
            if (path == "hang" && calls == 1) {  // holds the first call until released
                std::unique_lock lock(mutex_);
                released_.wait_for(lock, 30s, [this] { return release_; });
            }
            res.status = path == "flaky" && calls == 1 ? 500 : 200;
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~Receiver() {
        Release();
        server_.stop();
        thread_.join();
    }
    void Release() {
        {
            std::lock_guard lock(mutex_);
            release_ = true;
        }
        released_.notify_all();
    }
    std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + path; }
    std::vector<Received> WaitFor(const std::string& path, std::size_t count, std::chrono::seconds timeout = 20s) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            {
                std::lock_guard lock(mutex_);
                std::vector<Received> matching;
                for (const auto& r : received_) {
                    if (r.path == path) matching.push_back(r);
                }
                if (matching.size() >= count) return matching;
            }
            std::this_thread::sleep_for(20ms);
        }
        return {};
    }

private:
    httplib::Server server_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mutex_;
    std::vector<Received> received_;
    std::map<std::string, int> calls_;
    std::condition_variable released_;
    bool release_ = false;
};

class WebhookProcessTest : public ::testing::Test {
protected:
    void StartServer(std::map<std::string, std::string> env = {{"LABHOUSE_WEBHOOK_SECRET", kSecret},
                                                                {"LABHOUSE_WEBHOOK_ALLOW_PRIVATE", "1"}}) {
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::vector<std::string>{"--workers", "2"},
                                                  std::move(env));
        ASSERT_TRUE(server_->Start());
        client_ = server_->Client();
    }
    httplib::Result Submit(const std::string& webhook_url) {
        return client_->Post("/api/v1/jobs", Form(PngBytes(48, 32), {{"backend", "classic"}, {"style", "cartoon"},
                                                                      {"webhook_url", webhook_url}}));
    }
    std::string SubmitOk(const std::string& webhook_url) {
        auto res = Submit(webhook_url);
        EXPECT_TRUE(res);
        if (!res) return "";
        EXPECT_EQ(res->status, 202) << res->body;
        return Json(res).value("id", "");
    }
    nlohmann::json WebhookRecord(const std::string& id) {
        auto job = WaitForJob(*client_, id, [](const nlohmann::json& j) { return j["meta"].contains("webhook"); }, 20s);
        if (!job["meta"].contains("webhook")) return nullptr;
        return nlohmann::json::parse(job["meta"]["webhook"].get<std::string>());
    }

    TempDir dir_;
    Receiver receiver_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebhookProcessTest, SignedEventIsVerifiableAndRecordedOnTheJob) {
    StartServer();
    const std::string id = SubmitOk(receiver_.Url("ok"));
    auto received = receiver_.WaitFor("ok", 1);
    ASSERT_EQ(received.size(), 1u);
    const Received& r = received[0];
    EXPECT_EQ(r.signature, ExpectedSignature(r.timestamp, r.body));
    EXPECT_NE(r.signature, ExpectedSignature(r.timestamp, r.body + " "));
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LE(std::abs(now_s - std::stoll(r.timestamp)), 60);
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["event"], "job.succeeded");
    EXPECT_EQ(body["job"]["id"], id);
    EXPECT_EQ(body["job"]["status"], "succeeded");
    EXPECT_TRUE(body["job"]["result"]["image_url"].is_string());
    auto record = WebhookRecord(id);
    ASSERT_TRUE(record.is_object());
    EXPECT_EQ(record["outcome"], "delivered");
    EXPECT_EQ(record["attempts"], 1);
    EXPECT_EQ(record["last_status"], 200);
    EXPECT_EQ(server_->Log().find(kSecret), std::string::npos);
}

TEST_F(WebhookProcessTest, A500IsRetriedWithBackoff) {
    StartServer();
    const std::string id = SubmitOk(receiver_.Url("flaky"));
    auto received = receiver_.WaitFor("flaky", 2);
    ASSERT_EQ(received.size(), 2u);
    EXPECT_GE(received[1].at - received[0].at, 400ms);
    EXPECT_EQ(received[0].body, received[1].body);
    auto record = WebhookRecord(id);
    ASSERT_TRUE(record.is_object());
    EXPECT_EQ(record["outcome"], "delivered");
    EXPECT_EQ(record["attempts"], 2);
}

TEST_F(WebhookProcessTest, ASlowReceiverDoesNotDelayOtherJobs) {
    StartServer();
    const auto start = Clock::now();
    SubmitOk(receiver_.Url("slow"));
    ASSERT_EQ(receiver_.WaitFor("slow", 1).size(), 1u);  // the slow receiver now holds its delivery 6 s
    const std::string fast = SubmitOk(receiver_.Url("ok"));
    auto job = WaitForJob(*client_, fast, Finished, 10s);
    EXPECT_EQ(job["status"], "succeeded");
    auto received = receiver_.WaitFor("ok", 1, 10s);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_LT(received[0].at - start, 5s);
}

// The delivery is kept in the database until its outcome is recorded: a server killed in the
// middle of an attempt sends it again after its restart (at least once; receivers dedupe on
// X-Labhouse-Delivery).
TEST_F(WebhookProcessTest, ADeliveryCutShortByAKilledServerIsSentAfterTheRestart) {
    StartServer();
    const std::string id = SubmitOk(receiver_.Url("hang"));
    ASSERT_EQ(receiver_.WaitFor("hang", 1).size(), 1u);  // the server is inside its first attempt
    server_->Kill();
    StartServer();  // embedded mode: the restart takes over the dead process's claim at once
    auto received = receiver_.WaitFor("hang", 2);
    ASSERT_EQ(received.size(), 2u) << server_->Log();
    EXPECT_EQ(nlohmann::json::parse(received[1].body)["job"]["id"], id);
    EXPECT_EQ(received[1].body, received[0].body);
    auto record = WebhookRecord(id);
    ASSERT_TRUE(record.is_object());
    EXPECT_EQ(record["outcome"], "delivered");
    receiver_.Release();
}

TEST_F(WebhookProcessTest, BadPrivateOrDisabledUrlsAreRefusedAtSubmit) {
    StartServer({{"LABHOUSE_WEBHOOK_SECRET", kSecret}});
    for (const std::string& url : {receiver_.Url("ok"), std::string("http://10.1.2.3/hook"),
                                  std::string("http://[::1]:9/x"), std::string("ftp://example.com/x"),
                                  std::string("http://user:pw@example.com/x"), std::string("not a url")}) {
        auto res = Submit(url);
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << url << " " << res->body;
    }
    server_->Terminate();
    StartServer({});
    auto res = Submit("https://example.com/hook");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_NE(res->body.find("LABHOUSE_WEBHOOK_SECRET"), std::string::npos);
}

}  // namespace
}  // namespace labhouse::testing
