// API keys end to end against the real `labhouse serve --auth keys` process: 401s, per-key
// isolation (404 for another key's job), admin visibility, rate limit and daily quota (429 with
// Retry-After), immediate revocation through `labhouse keys revoke`, and the open-mode guard.
#include <gtest/gtest.h>

#include <regex>

#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

struct Key {
    std::string id;
    std::string secret;
};

class AuthProcessTest : public ::testing::Test {
protected:
    std::string DataDir() const { return (dir_.path() / "data").string(); }

    Key CreateKey(const std::string& name, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"keys", "create", "--name", name, "--data-dir", DataDir()};
        args.insert(args.end(), extra.begin(), extra.end());
        auto [code, output] = RunLabhouse(args);
        EXPECT_EQ(code, 0) << output;
        std::smatch id, secret;
        EXPECT_TRUE(std::regex_search(output, id, std::regex(R"(id: (key_[0-9a-f]{16}))"))) << output;
        EXPECT_TRUE(std::regex_search(output, secret, std::regex(R"(secret: (lh_[0-9A-Za-z]{43}))"))) << output;
        return {id.size() > 1 ? id[1].str() : "", secret.size() > 1 ? secret[1].str() : ""};
    }

    void StartServer(std::vector<std::string> args = {}) {
        std::vector<std::string> all = {"--auth", "keys"};
        all.insert(all.end(), args.begin(), args.end());
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", all);
        ASSERT_TRUE(server_->Start());
    }

    std::unique_ptr<httplib::Client> ClientFor(const Key& key) {
        auto client = server_->Client();
        client->set_bearer_token_auth(key.secret.c_str());
        return client;
    }

    static std::string SubmitOk(httplib::Client& client, std::vector<std::pair<std::string, std::string>> extra = {}) {
        std::vector<std::pair<std::string, std::string>> fields = {{"backend", "classic"}, {"style", "cartoon"}};
        fields.insert(fields.end(), extra.begin(), extra.end());
        auto res = client.Post("/api/v1/jobs", Form(PngBytes(64, 48), fields));
        EXPECT_TRUE(res);
        if (!res) return "";
        EXPECT_TRUE(res->status == 202 || res->status == 200) << res->body;
        return Json(res).value("id", "");
    }

    static void Expect401(const httplib::Result& res) {
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 401) << res->body;
        EXPECT_EQ(res->get_header_value("WWW-Authenticate").rfind("Bearer realm=\"labhouse\"", 0), 0u);
        EXPECT_EQ(Json(res)["error"]["code"], "UNAUTHENTICATED") << res->body;
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
};

TEST_F(AuthProcessTest, MissingOrBadKeyIs401AndPublicRoutesStayOpen) {
    const Key alice = CreateKey("alice");
    StartServer();
    auto anonymous = server_->Client();
    Expect401(anonymous->Get("/api/v1/jobs"));
    Expect401(anonymous->Post("/api/v1/jobs", Form(PngBytes(32, 32), {{"backend", "classic"}})));
    Expect401(anonymous->Get("/api/v1/backends"));
    Expect401(anonymous->Get("/api/v1/jobs", {{"Authorization", "Bearer lh_notarealkeyatallnotarealkeyatallnotareal"}}));
    Expect401(anonymous->Get("/api/v1/jobs", {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}));
    Expect401(anonymous->Get("/api/v1/jobs", {{"Authorization", "Bearer " + alice.secret + "x"}}));
    // The UI, health checks and readiness need no key; the UI asks for one when the API says 401.
    EXPECT_EQ(anonymous->Get("/healthz")->status, 200);
    EXPECT_EQ(anonymous->Get("/readyz")->status, 200);
    EXPECT_EQ(anonymous->Get("/")->status, 200);
    auto ok = ClientFor(alice)->Get("/api/v1/jobs");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    // The secret never reaches the log.
    EXPECT_EQ(server_->Log().find(alice.secret), std::string::npos);
}

TEST_F(AuthProcessTest, AnotherKeysJobIsNotFoundAndListsAreSeparateButAdminSeesAll) {
    const Key alice = CreateKey("alice");
    const Key bob = CreateKey("bob");
    const Key admin = CreateKey("ops", {"--admin"});
    StartServer({"--workers", "0"});  // jobs stay queued, so cancel is meaningful
    auto as_alice = ClientFor(alice);
    auto as_bob = ClientFor(bob);
    const std::string id = SubmitOk(*as_alice);
    ASSERT_FALSE(id.empty());

    EXPECT_EQ(as_alice->Get("/api/v1/jobs/" + id)->status, 200);
    for (const auto& res : {as_bob->Get("/api/v1/jobs/" + id), as_bob->Post("/api/v1/jobs/" + id + "/cancel"),
                            as_bob->Delete("/api/v1/jobs/" + id), as_bob->Get("/api/v1/jobs/" + id + "/events")}) {
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 404) << res->body;
        EXPECT_EQ(Json(res)["error"]["code"], "NOT_FOUND");
    }
    EXPECT_EQ(Json(as_bob->Get("/api/v1/jobs"))["jobs"].size(), 0u);
    EXPECT_EQ(Json(as_alice->Get("/api/v1/jobs"))["jobs"].size(), 1u);
    // Bob reusing Alice's Idempotency-Key gets a job of his own, not hers.
    const std::string bob_id = SubmitOk(*as_bob);
    auto replay = as_bob->Post("/api/v1/jobs", {{"Idempotency-Key", "k1"}},
                               Form(PngBytes(64, 48), {{"backend", "classic"}, {"style", "cartoon"}}));
    auto alice_replay = as_alice->Post("/api/v1/jobs", {{"Idempotency-Key", "k1"}},
                                       Form(PngBytes(64, 48), {{"backend", "classic"}, {"style", "cartoon"}}));
    ASSERT_TRUE(replay && alice_replay);
    EXPECT_EQ(replay->status, 202);
    EXPECT_EQ(alice_replay->status, 202) << alice_replay->body;
    EXPECT_NE(Json(replay)["id"], Json(alice_replay)["id"]);

    auto as_admin = ClientFor(admin);
    EXPECT_EQ(as_admin->Get("/api/v1/jobs/" + id)->status, 200);
    EXPECT_EQ(Json(as_admin->Get("/api/v1/jobs?limit=100"))["jobs"].size(), 4u);
    auto canceled = as_admin->Post("/api/v1/jobs/" + bob_id + "/cancel");
    ASSERT_TRUE(canceled);
    EXPECT_EQ(canceled->status, 200) << canceled->body;
}

TEST_F(AuthProcessTest, RateLimitAnswers429WithRetryAfterPerKey) {
    const Key limited = CreateKey("limited", {"--rate", "3"});
    const Key other = CreateKey("other");
    StartServer();
    auto client = ClientFor(limited);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(client->Get("/api/v1/jobs")->status, 200);
    auto res = client->Get("/api/v1/jobs");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429) << res->body;
    EXPECT_EQ(Json(res)["error"]["code"], "RESOURCE_EXHAUSTED");
    const int retry_after = std::atoi(res->get_header_value("Retry-After").c_str());
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 20);  // 3/min refills one request every 20 s
    // Another key has its own budget.
    EXPECT_EQ(ClientFor(other)->Get("/api/v1/jobs")->status, 200);
}

TEST_F(AuthProcessTest, DailyQuotaAnswers429WithRetryAfterUntilMidnight) {
    const Key quota = CreateKey("quota", {"--daily-jobs", "2"});
    StartServer({"--workers", "0"});
    auto client = ClientFor(quota);
    SubmitOk(*client);
    SubmitOk(*client);
    auto res = client->Post("/api/v1/jobs", Form(PngBytes(64, 48), {{"backend", "classic"}, {"style", "cartoon"}}));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429) << res->body;
    EXPECT_EQ(Json(res)["error"]["code"], "RESOURCE_EXHAUSTED");
    const int retry_after = std::atoi(res->get_header_value("Retry-After").c_str());
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 86400);
    // Reads are not jobs: the quota does not block them.
    EXPECT_EQ(client->Get("/api/v1/jobs")->status, 200);
    EXPECT_EQ(Json(client->Get("/api/v1/jobs"))["jobs"].size(), 2u);
}

TEST_F(AuthProcessTest, RevokedKeyStopsWorkingAtTheNextRequest) {
    const Key key = CreateKey("leaving");
    StartServer();
    auto client = ClientFor(key);
    ASSERT_EQ(client->Get("/api/v1/jobs")->status, 200);
    auto [code, output] = RunLabhouse({"keys", "revoke", key.id, "--data-dir", DataDir()});
    ASSERT_EQ(code, 0) << output;
    Expect401(client->Get("/api/v1/jobs"));
    auto [list_code, list] = RunLabhouse({"keys", "list", "--data-dir", DataDir()});
    EXPECT_EQ(list_code, 0);
    EXPECT_NE(list.find("revoked"), std::string::npos) << list;
    EXPECT_EQ(list.find(key.secret), std::string::npos);
}

TEST_F(AuthProcessTest, OpenModeRefusesAPublicAddressUnlessForced) {
    auto [code, output] = RunLabhouse({"serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", DataDir()});
    EXPECT_NE(code, 0);
    EXPECT_NE(output.find("refusing to serve without API keys"), std::string::npos) << output;
    auto [bad_code, bad] = RunLabhouse({"serve", "--auth", "secret", "--port", "0", "--data-dir", DataDir()});
    EXPECT_EQ(bad_code, 2) << bad;
    ServerProcess forced(dir_.path() / "data", {"--host", "0.0.0.0"}, {{"LABHOUSE_ALLOW_OPEN", "1"}});
    ASSERT_TRUE(forced.Start());
    EXPECT_EQ(forced.Terminate(), 0);
}

}  // namespace
}  // namespace labhouse::testing
