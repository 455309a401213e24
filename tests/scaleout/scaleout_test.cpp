// The scale-out deployment as separate processes on loopback: nginx -> 2 API nodes
// (`labhouse serve --workers 0`) -> PostgreSQL + Redis <- 2 `labhouse worker` processes.
// Each test builds its own cluster (fresh database, own Redis, own nginx). Skipped unless
// LABHOUSE_TEST_PG_DSN and LABHOUSE_TEST_REDIS_URL are set (`make test` sets them).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_helpers.h"
#include "tests/scaleout/cluster.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

#define LABHOUSE_REQUIRE_SERVICES()                                                                  \
    if (PgDsn().empty() || RedisUrl().empty())                                                     \
    GTEST_SKIP() << "LABHOUSE_TEST_PG_DSN / LABHOUSE_TEST_REDIS_URL not set (scripts/test-services.sh start)"

// One classic job; returns its id (empty on failure).
std::string Submit(httplib::Client& client, const std::string& image, const std::string& style) {
    auto res = client.Post("/api/v1/jobs", Form(image, {{"backend", "classic"}, {"style", style}}));
    if (!res || res->status != 202) {
        ADD_FAILURE() << "submit failed: " << (res ? std::to_string(res->status) + " " + res->body : "no response");
        return {};
    }
    return Json(res).value("id", "");
}

// Counts "job_succeeded job_id=<id>" lines per job id across the given logs.
std::map<std::string, int> SucceededCounts(const std::string& logs) {
    std::map<std::string, int> counts;
    static const std::regex kLine(R"(job_succeeded job_id=([0-9a-f]+))");
    for (auto it = std::sregex_iterator(logs.begin(), logs.end(), kLine); it != std::sregex_iterator(); ++it) {
        ++counts[(*it)[1]];
    }
    return counts;
}

std::string WorkerLogs(Cluster& cluster) {
    std::string logs;
    for (int i = 0; i < cluster.WorkerCount(); ++i) logs += cluster.Worker(i).Log();
    return logs;
}

// A worker writes its log line after the job's record, so a test that has seen the record may read
// the log a moment early: wait (bounded) until the logs say what the test needs.
std::string WorkerLogsOnce(Cluster& cluster, const std::function<bool(const std::string&)>& complete,
                           std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string logs = WorkerLogs(cluster);
    while (!complete(logs) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        logs = WorkerLogs(cluster);
    }
    return logs;
}

// The worker logs once every job in `ids` has its job_succeeded line.
std::string WorkerLogsOnceSucceeded(Cluster& cluster, const std::vector<std::string>& ids) {
    return WorkerLogsOnce(cluster, [&](const std::string& logs) {
        const auto counts = SucceededCounts(logs);
        return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) { return counts.count(id) > 0; });
    });
}

TEST(ScaleOut, TwoHundredJobsThroughNginxEachSucceedExactlyOnce) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    const std::string image = PngBytes(48, 32);
    constexpr int kJobs = 200;
    std::mutex mutex;
    std::vector<std::string> ids;
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&] {
            auto client = cluster.Nginx();
            for (int i = 0; i < kJobs / 4; ++i) {
                std::string id = Submit(*client, image, "cartoon");
                std::lock_guard lock(mutex);
                ids.push_back(std::move(id));
            }
        });
    }
    for (auto& t : clients) t.join();
    ASSERT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<std::size_t>(kJobs));

    auto client = cluster.Nginx();
    for (const std::string& id : ids) {
        auto job = WaitForJob(*client, id, Finished, 120s);
        ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump() << cluster.AllLogs();
        EXPECT_EQ(job.value("attempts", 0), 1) << id;
    }
    const auto counts = SucceededCounts(WorkerLogsOnceSucceeded(cluster, ids));
    EXPECT_EQ(counts.size(), static_cast<std::size_t>(kJobs));
    for (const auto& id : ids) EXPECT_EQ(counts.count(id) ? counts.at(id) : 0, 1) << "job " << id << " ran once";
    int worker0 = static_cast<int>(SucceededCounts(cluster.Worker(0).Log()).size());
    std::cout << "worker0 ran " << worker0 << " jobs, worker1 " << (kJobs - worker0) << "\n";
    // Every result is readable through either node, with no shared volume.
    auto result = cluster.Api(1)->Get(WaitForJob(*cluster.Api(0), ids.front(), Finished)["result"]["image_url"]
                                          .get<std::string>());
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
}

TEST(ScaleOut, AKilledWorkersJobCompletesOnTheOther) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    auto client = cluster.Nginx();
    // watercolor on 800x600 takes seconds: long enough to kill its worker mid-run.
    const std::string id = Submit(*client, PngBytes(800, 600), "watercolor");
    ASSERT_FALSE(id.empty());
    int victim = -1;
    for (int i = 0; i < 500 && victim < 0; ++i) {
        victim = cluster.WorkerRunning(id);
        if (victim < 0) std::this_thread::sleep_for(10ms);
    }
    ASSERT_GE(victim, 0) << cluster.AllLogs();
    ASSERT_EQ(WaitForJob(*client, id, [](const auto&) { return true; }).value("status", ""), "running")
        << "the job must still be running when its worker dies";
    cluster.Worker(victim).Kill();
    auto job = WaitForJob(*client, id, Finished, 90s);
    EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump() << cluster.AllLogs();
    EXPECT_EQ(job.value("attempts", 0), 2) << "the first attempt died with its worker";
    const int survivor = 1 - victim;
    EXPECT_TRUE(cluster.Worker(survivor).WaitForLog("job_succeeded job_id=" + id, 10s))
        << cluster.AllLogs();
}

TEST(ScaleOut, ASigtermedWorkerHandsItsJobBackWithoutSpendingAnAttempt) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;  // shutdown grace 0: a running job goes back to the queue at once
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    auto client = cluster.Nginx();
    const std::string id = Submit(*client, PngBytes(800, 600), "watercolor");
    ASSERT_FALSE(id.empty());
    int leaving = -1;
    for (int i = 0; i < 500 && leaving < 0; ++i) {
        leaving = cluster.WorkerRunning(id);
        if (leaving < 0) std::this_thread::sleep_for(10ms);
    }
    ASSERT_GE(leaving, 0) << cluster.AllLogs();
    EXPECT_EQ(cluster.Worker(leaving).Terminate(), 0) << cluster.Worker(leaving).Log();
    auto job = WaitForJob(*client, id, Finished, 90s);
    EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump() << cluster.AllLogs();
    EXPECT_EQ(job.value("attempts", 0), 1) << "a released job does not count the interrupted attempt";
    EXPECT_TRUE(cluster.Worker(1 - leaving).WaitForLog("job_succeeded job_id=" + id, 10s))
        << cluster.AllLogs();
}

TEST(ScaleOut, RedisRestartedWithoutItsDataLosesNoJob) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    // Workers paused: the first jobs exist only as queued rows and stream entries when Redis dies.
    for (int i = 0; i < cluster.WorkerCount(); ++i) cluster.Worker(i).Signal(SIGSTOP);
    auto client = cluster.Nginx();
    const std::string image = PngBytes(48, 32);
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(Submit(*client, image, "cartoon"));
    ASSERT_TRUE(cluster.RestartRedisWiped()) << cluster.AllLogs();
    for (int i = 0; i < 10; ++i) ids.push_back(Submit(*client, image, "pixel-art"));  // submitted after the wipe
    for (int i = 0; i < cluster.WorkerCount(); ++i) cluster.Worker(i).Signal(SIGCONT);
    for (const std::string& id : ids) {
        ASSERT_FALSE(id.empty());
        auto job = WaitForJob(*client, id, Finished, 90s);
        ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump() << cluster.AllLogs();
    }
    const auto counts = SucceededCounts(WorkerLogsOnceSucceeded(cluster, ids));
    for (const auto& id : ids) EXPECT_EQ(counts.count(id) ? counts.at(id) : 0, 1) << "job " << id << " ran once";
    EXPECT_EQ(cluster.ApiLogs().find("queue_announce_failed"), std::string::npos)
        << "API nodes reconnect to the new Redis at their next announcement" << cluster.ApiLogs();
    EXPECT_NE(WorkerLogs(cluster).find("queue_rebuilt"), std::string::npos)
        << "a worker noticed the lost stream and rebuilt it from the repository" << cluster.AllLogs();
}

TEST(ScaleOut, WithRedisGoneJobsStillRunFromTheRepository) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    cluster.KillRedis();  // and it stays down: hints and events are lost, jobs must not be
    auto client = cluster.Nginx();
    const std::string image = PngBytes(48, 32);
    std::vector<std::string> ids;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) ids.push_back(Submit(*client, image, "cartoon"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "submissions do not wait on Redis";
    for (const std::string& id : ids) {
        ASSERT_FALSE(id.empty());
        auto job = WaitForJob(*client, id, Finished, 60s);
        ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump() << cluster.AllLogs();
    }
    auto ready = cluster.Api(0)->Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200) << "readiness depends on the database, not on the hints";
}

TEST(ScaleOut, SseThroughNginxShowsAWorkersProgressAndCancelOnTheOtherNodeStopsIt) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster;
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    // Large enough that the effect step outlasts a lease renewal, which is when the worker learns
    // of the cancel (the classic backend checks it between its steps).
    const std::string id = Submit(*cluster.Api(0), PngBytes(1200, 900), "watercolor");
    ASSERT_FALSE(id.empty());

    std::mutex mutex;
    std::string stream;
    std::atomic<bool> ended{false};
    std::thread reader([&] {
        auto sse = cluster.Nginx();
        sse->set_read_timeout(60, 0);
        sse->Get(("/api/v1/jobs/" + id + "/events").c_str(), [&](const char* data, std::size_t size) {
            std::lock_guard lock(mutex);
            stream.append(data, size);
            return true;
        });
        ended = true;
    });
    auto seen = [&](const std::string& needle) {
        std::lock_guard lock(mutex);
        return stream.find(needle) != std::string::npos;
    };
    // A progress event of the running job, published by a worker process, arrives through nginx.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!seen("\"stage\":\"effect\"") && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(seen("\"stage\":\"effect\"")) << stream << cluster.AllLogs();
    EXPECT_TRUE(seen("event: progress"));

    auto cancel = cluster.Api(1)->Post(("/api/v1/jobs/" + id + "/cancel").c_str());
    ASSERT_TRUE(cancel);
    EXPECT_LT(cancel->status, 300) << cancel->body;
    auto job = WaitForJob(*cluster.Api(0), id, Finished, 60s);
    EXPECT_EQ(job.value("status", ""), "canceled") << job.dump() << cluster.AllLogs();
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!ended && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(ended.load()) << "the stream closes when the job ends";
    EXPECT_TRUE(seen("event: done"));
    EXPECT_TRUE(seen("canceled")) << stream;
    reader.join();
    const std::string logs = WorkerLogsOnce(
        cluster, [](const std::string& text) { return text.find("job_canceled") != std::string::npos; });
    EXPECT_NE(logs.find("job_canceled"), std::string::npos) << cluster.AllLogs();
}

// Configuration edges of the scale-out mode; no services needed.
// `labhouse keys create` against the cluster's PostgreSQL; returns {id, secret}.
std::pair<std::string, std::string> CreateKey(const Cluster& cluster, const std::vector<std::string>& limits) {
    std::vector<std::string> args = {"keys", "create", "--name", "scaleout", "--database-url", cluster.DatabaseUrl()};
    args.insert(args.end(), limits.begin(), limits.end());
    auto [code, output] = RunLabhouse(args);
    EXPECT_EQ(code, 0) << output;
    std::smatch id, secret;
    if (!std::regex_search(output, id, std::regex(R"(id: (key_[0-9a-f]+))")) ||
        !std::regex_search(output, secret, std::regex(R"(secret: (lh_[0-9A-Za-z]{43}))"))) {
        ADD_FAILURE() << "no key in: " << output;
        return {};
    }
    return {id[1], secret[1]};
}

int GetJobsStatus(const Cluster& cluster, int node, const std::string& secret) {
    auto client = cluster.Api(node);
    client->set_bearer_token_auth(secret.c_str());
    auto res = client->Get("/api/v1/jobs");
    return res ? res->status : -1;
}

TEST(ScaleOutKeys, KeysLiveInPostgresAndEveryNodeSeesThemAndTheirRevocation) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster({2, 0, 3, {"--auth", "keys"}});
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    const auto [id, secret] = CreateKey(cluster, {});
    ASSERT_FALSE(secret.empty());
    auto [code, listed] = RunLabhouse({"keys", "list", "--database-url", cluster.DatabaseUrl()});
    EXPECT_EQ(code, 0) << listed;
    EXPECT_NE(listed.find(id), std::string::npos) << listed;
    EXPECT_EQ(listed.find(secret), std::string::npos) << "never the secret";
    for (int node = 0; node < 2; ++node) {
        EXPECT_EQ(GetJobsStatus(cluster, node, secret), 200) << "node " << node;
        EXPECT_EQ(GetJobsStatus(cluster, node, "lh_" + std::string(43, 'x')), 401) << "node " << node;
    }
    // A job made through one node belongs to the key on the other too.
    auto node0 = cluster.Api(0);
    node0->set_bearer_token_auth(secret.c_str());
    const std::string job = Submit(*node0, PngBytes(32, 32), "cartoon");
    ASSERT_FALSE(job.empty());
    auto node1 = cluster.Api(1);
    auto anonymous = node1->Get("/api/v1/jobs/" + job);
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401);
    node1->set_bearer_token_auth(secret.c_str());
    auto owned = node1->Get("/api/v1/jobs/" + job);
    ASSERT_TRUE(owned);
    EXPECT_EQ(owned->status, 200) << owned->body;

    auto [revoked, out] = RunLabhouse({"keys", "revoke", id, "--database-url", cluster.DatabaseUrl()});
    ASSERT_EQ(revoked, 0) << out;
    for (int node = 0; node < 2; ++node) EXPECT_EQ(GetJobsStatus(cluster, node, secret), 401) << "node " << node;
}

// Waits, if needed, until a fresh clock minute has enough time left for a burst of requests, so a
// minute boundary (where the shared fixed window restarts) cannot fall inside it.
void WaitForRoomInThisMinute(std::chrono::seconds room) {
    using namespace std::chrono;
    const auto into = duration_cast<milliseconds>(system_clock::now().time_since_epoch()) % minutes(1);
    if (minutes(1) - into < room) std::this_thread::sleep_for(minutes(1) - into + milliseconds(200));
}

TEST(ScaleOutKeys, RateLimitAndDailyQuotaHoldAcrossApiNodes) {
    LABHOUSE_REQUIRE_SERVICES();
    Cluster cluster({2, 0, 3, {"--auth", "keys"}});
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();

    // 6 requests a minute for the key, whichever node takes them: per process it would be 12.
    const auto [rate_id, rate_secret] = CreateKey(cluster, {"--rate", "6"});
    ASSERT_FALSE(rate_secret.empty());
    WaitForRoomInThisMinute(std::chrono::seconds(15));
    int admitted = 0;
    std::vector<std::string> retry_after;
    for (int i = 0; i < 10; ++i) {
        auto client = cluster.Api(i % 2);
        client->set_bearer_token_auth(rate_secret.c_str());
        auto res = client->Get("/api/v1/jobs");
        ASSERT_TRUE(res);
        if (res->status == 200) ++admitted;
        else if (res->status == 429) retry_after.push_back(res->get_header_value("Retry-After"));
        else ADD_FAILURE() << res->status << " " << res->body;
    }
    EXPECT_EQ(admitted, 6) << "the limit is global, not per node";
    ASSERT_EQ(retry_after.size(), 4u);
    for (const auto& value : retry_after) {
        ASSERT_FALSE(value.empty());
        EXPECT_GE(std::stoi(value), 1);
        EXPECT_LE(std::stoi(value), 60);
    }

    // 3 jobs a day, counted from the shared database: the fourth is refused on either node.
    const auto [quota_id, quota_secret] = CreateKey(cluster, {"--daily-jobs", "3"});
    ASSERT_FALSE(quota_secret.empty());
    int created = 0, refused = 0;
    for (int i = 0; i < 5; ++i) {
        auto client = cluster.Api(i % 2);
        client->set_bearer_token_auth(quota_secret.c_str());
        auto res = client->Post("/api/v1/jobs", Form(PngBytes(32, 32), {{"backend", "classic"}, {"style", "cartoon"}}));
        ASSERT_TRUE(res);
        if (res->status == 202) ++created;
        else if (res->status == 429 && !res->get_header_value("Retry-After").empty()) ++refused;
        else ADD_FAILURE() << res->status << " " << res->body;
    }
    EXPECT_EQ(created, 3);
    EXPECT_EQ(refused, 2);

    // 12 requests at the same moment, 6 on each node, for a quota of 4: exactly 4 jobs, whichever
    // check stops the rest (the early one, or the insert's own under a per-owner lock, which is
    // what guarantees it; the repository contract tests show the race it closes).
    const auto [burst_id, burst_secret] = CreateKey(cluster, {"--daily-jobs", "4"});
    ASSERT_FALSE(burst_secret.empty());
    std::atomic<int> burst_created{0}, burst_refused{0};
    std::vector<std::thread> senders;
    for (int i = 0; i < 12; ++i) {
        senders.emplace_back([&, i] {
            auto client = cluster.Api(i % 2);
            client->set_bearer_token_auth(burst_secret.c_str());
            auto res = client->Post("/api/v1/jobs",
                                    Form(PngBytes(30 + i, 32), {{"backend", "classic"}, {"style", "cartoon"}}));
            if (res && res->status == 202) ++burst_created;
            else if (res && res->status == 429 && !res->get_header_value("Retry-After").empty()) ++burst_refused;
            else ADD_FAILURE() << (res ? std::to_string(res->status) + " " + res->body : "no answer");
        });
    }
    for (auto& sender : senders) sender.join();
    EXPECT_EQ(burst_created.load(), 4);
    EXPECT_EQ(burst_refused.load(), 8);
}

TEST(ScaleOutConfig, AWorkerRefusesTheEmbeddedDatabase) {
    TempDir dir;
    auto [code, output] = RunLabhouse({"worker", "--data-dir", dir.path().string()});
    EXPECT_EQ(code, 2) << output;
    EXPECT_NE(output.find("needs a shared database"), std::string::npos) << output;
}

TEST(ScaleOutConfig, AQueueUrlMustBeRedis) {
    TempDir dir;
    auto [code, output] = RunLabhouse({"serve", "--data-dir", dir.path().string()},
                                      {{"LABHOUSE_QUEUE_URL", "amqp://127.0.0.1:5672"}});
    EXPECT_EQ(code, 2) << output;
    EXPECT_NE(output.find("queue URL must start with redis://"), std::string::npos) << output;
}

TEST(ScaleOutConfig, AnUnreachableDatabaseFailsFastWithoutLeakingItsPassword) {
    TempDir dir;
    auto [code, output] = RunLabhouse(
        {"worker", "--data-dir", dir.path().string(), "--database-url",
         "postgresql://labhouse:hunter2@127.0.0.1:1/labhouse?connect_timeout=2"});
    EXPECT_EQ(code, 1) << output;
    EXPECT_NE(output.find("cannot connect to PostgreSQL"), std::string::npos) << output;
    EXPECT_NE(output.find("labhouse:***@127.0.0.1:1"), std::string::npos) << "the effective config is logged" << output;
    EXPECT_EQ(output.find("hunter2"), std::string::npos) << output;
}

// Every API node hears every job end (Redis events); the database claim lets one of them send the
// webhook. Before the claim, each job's webhook went out once per API node.
TEST(ScaleOutWebhooks, EachJobsWebhookIsSentOnceWhicheverNodesHearItEnd) {
    LABHOUSE_REQUIRE_SERVICES();
    httplib::Server receiver;
    std::mutex mutex;
    std::map<std::string, int> deliveries;  // X-Labhouse-Delivery -> times received
    receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex);
        ++deliveries[req.get_header_value("X-Labhouse-Delivery")];
        res.status = 200;
    });
    const int port = receiver.bind_to_any_port("127.0.0.1");
    std::thread receiving([&] { receiver.listen_after_bind(); });
    struct StopReceiver {
        httplib::Server& server;
        std::thread& thread;
        ~StopReceiver() {
            server.stop();
            thread.join();
        }
    } stop{receiver, receiving};

    Cluster cluster({2, 1, 3, {"--webhook-secret", "scale-out-webhook-secret", "--webhook-allow-private"}});
    ASSERT_TRUE(cluster.Start()) << cluster.AllLogs();
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
        auto res = cluster.Api(i % 2)->Post(
            "/api/v1/jobs", Form(PngBytes(40 + i, 32), {{"backend", "classic"}, {"style", "cartoon"}, {"webhook_url", url}}));
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 202) << res->body;
        ids.push_back(Json(res).value("id", ""));
    }
    auto client = cluster.Nginx();
    for (const auto& id : ids) {
        auto job = WaitForJob(*client, id, [](const nlohmann::json& j) { return j["meta"].contains("webhook"); }, 30s);
        ASSERT_TRUE(job["meta"].contains("webhook")) << job.dump() << cluster.AllLogs();
    }
    std::this_thread::sleep_for(1500ms);  // room for a second node's duplicate, were there one
    std::lock_guard lock(mutex);
    ASSERT_EQ(deliveries.size(), ids.size()) << cluster.ApiLogs();
    for (const auto& id : ids) EXPECT_EQ(deliveries[id + ".job.succeeded"], 1) << id;
    // One delivery per job in the two API nodes' logs together.
    const std::string logs = cluster.ApiLogs();
    std::size_t sent = 0;
    for (auto at = logs.find("webhook_done"); at != std::string::npos; at = logs.find("webhook_done", at + 1)) ++sent;
    EXPECT_EQ(sent, ids.size()) << logs;
}

}  // namespace
}  // namespace labhouse::testing
