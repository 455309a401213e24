// Slow and abusive clients against the real `labhouse serve` process (issue 11): slow-loris heads
// and bodies, the upload cap, an SSE flood, and a client that disconnects mid-upload. The bounds
// are generous (seconds where the server needs milliseconds) so a loaded machine does not flake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A raw TCP connection, optionally from another loopback address (127.0.0.x), so one test can
// play several clients.
class RawConnection {
public:
    RawConnection(int port, const std::string& source = "") {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (!source.empty()) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
            ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~RawConnection() { Close(); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    bool connected() const { return connected_; }
    bool Send(const std::string& bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    }
    // Reads what arrives within `timeout` (stops early at EOF, or once `until` has been seen).
    std::string Read(std::chrono::milliseconds timeout, const std::string& until = "") {
        std::string got;
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            if (!until.empty() && got.find(until) != std::string::npos) break;
            pollfd p{fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) break;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                eof_ = true;
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
    // True once the server has closed the connection (reads EOF or a reset) within `timeout`.
    bool WaitClosed(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!eof_ && Clock::now() < deadline) Read(100ms);
        return eof_;
    }
    void Close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
};

int StatusOf(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
    return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
}

// The head of a multipart job submission whose body is `length` bytes long.
std::string UploadHead(std::size_t length) {
    return "POST /api/v1/jobs HTTP/1.1\r\nHost: localhost\r\n"
           "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: " +
           std::to_string(length) + "\r\n\r\n";
}

std::string MultipartBody(const std::string& image) {
    return "--XyZ\r\nContent-Disposition: form-data; name=\"backend\"\r\n\r\nclassic\r\n"
           "--XyZ\r\nContent-Disposition: form-data; name=\"style\"\r\n\r\ncartoon\r\n"
           "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" +
           image + "\r\n--XyZ--\r\n";
}

class AbuseProcessTest : public ::testing::Test {
protected:
    void StartServer(std::map<std::string, std::string> env) {
        env.emplace("LABHOUSE_HTTP_THREADS", "8");
        env.emplace("LABHOUSE_MAX_CONCURRENT_UPLOADS", "2");
        env.emplace("LABHOUSE_MAX_EVENT_STREAMS", "2");
        server_ = std::make_unique<ServerProcess>(dir_.path() / "data", std::vector<std::string>{}, env);
        ASSERT_TRUE(server_->Start());
        client_ = server_->Client();
        client_->set_read_timeout(10, 0);
    }

    // GET /api/v1/jobs answers 200 within `bound`.
    void ExpectApiAnswers(std::chrono::milliseconds bound) {
        const auto start = Clock::now();
        auto res = client_->Get("/api/v1/jobs");
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        ASSERT_TRUE(res) << "no answer: " << httplib::to_string(res.error());
        EXPECT_EQ(res->status, 200) << res->body;
        EXPECT_LT(took, bound) << "the API took " << took.count() << " ms";
    }

    // Every file under the data dir, the database and its lock aside.
    std::vector<std::string> DataFiles() {
        std::vector<std::string> files;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() / "data")) {
            if (!entry.is_regular_file()) continue;
            const std::string name = entry.path().filename().string();
            if (name.rfind("labhouse.db", 0) == 0 || name == "labhouse.lock") continue;
            files.push_back(entry.path().string());
        }
        return files;
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<httplib::Client> client_;
};

TEST_F(AbuseProcessTest, SlowLorisHeadsAndBodiesDoNotStarveTheApi) {
    StartServer({{"LABHOUSE_HTTP_HEADER_TIMEOUT_S", "3"},
                 {"LABHOUSE_HTTP_READ_TIMEOUT_S", "2"},
                 {"LABHOUSE_HTTP_MIN_BODY_RATE", "1024"}});
    // 60 connections trickling a request head (8 HTTP threads), plus bodies trickled on as many
    // uploads as the cap lets through.
    std::vector<std::unique_ptr<RawConnection>> heads;
    for (int i = 0; i < 60; ++i) {
        heads.push_back(std::make_unique<RawConnection>(server_->port()));
        ASSERT_TRUE(heads.back()->connected());
        ASSERT_TRUE(heads.back()->Send("GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n"));
    }
    std::vector<std::unique_ptr<RawConnection>> bodies;
    for (int i = 0; i < 2; ++i) {
        bodies.push_back(std::make_unique<RawConnection>(server_->port()));
        ASSERT_TRUE(bodies.back()->Send(UploadHead(100000) + "--XyZ\r\n"));
    }
    for (int round = 0; round < 4; ++round) {
        for (auto& c : heads) c->Send("X-Slow: 1\r\n");
        for (auto& c : bodies) c->Send("a");
        ExpectApiAnswers(5000ms);
        std::this_thread::sleep_for(250ms);
    }
    // A third upload finds the cap full: a fast 503 with Retry-After and a JSON body.
    RawConnection third(server_->port());
    const auto start = Clock::now();
    ASSERT_TRUE(third.Send(UploadHead(100000)));
    const std::string refused = third.Read(5000ms, "}}");
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_EQ(StatusOf(refused), 503) << refused;
    EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
    EXPECT_EQ(nlohmann::json::parse(BodyOf(refused), nullptr, false)["error"]["code"], "UNAVAILABLE") << refused;

    // The head tricklers are cut off by the head deadline (3 s) with a 408; the body tricklers
    // fall below the minimum rate once their 2 s grace is spent and are closed.
    for (auto& c : heads) EXPECT_TRUE(c->WaitClosed(10s));
    for (auto& c : bodies) EXPECT_TRUE(c->WaitClosed(10s));
    ExpectApiAnswers(5000ms);
    // Their upload slots are free again: a normal submission goes through.
    auto res = client_->Post("/api/v1/jobs", Form(PngBytes(64, 48), {{"backend", "classic"}, {"style", "cartoon"}}));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202) << res->body;
}

TEST_F(AbuseProcessTest, TimedOutHeadGets408AndOversizedHeadGets431) {
    StartServer({{"LABHOUSE_HTTP_HEADER_TIMEOUT_S", "2"}, {"LABHOUSE_HTTP_MAX_HEADER_BYTES", "4096"}});
    RawConnection slow(server_->port());
    ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\n"));
    const std::string timed_out = slow.Read(10s, "}}");
    EXPECT_EQ(StatusOf(timed_out), 408) << timed_out;

    RawConnection big(server_->port());
    ASSERT_TRUE(big.Send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n"));
    const std::string too_large = big.Read(10s, "}}");
    EXPECT_EQ(StatusOf(too_large), 431) << too_large;
    EXPECT_EQ(nlohmann::json::parse(BodyOf(too_large), nullptr, false)["error"]["code"], "HEADERS_TOO_LARGE");
    ExpectApiAnswers(5000ms);
}

TEST_F(AbuseProcessTest, EventStreamFloodIsRefusedWhileTheApiAnswers) {
    // No workers: the job stays queued, so its event stream stays open.
    StartServer({{"LABHOUSE_WORKERS", "0"}, {"LABHOUSE_MAX_EVENT_STREAMS_PER_CLIENT", "1"}});
    auto submitted =
        Json(client_->Post("/api/v1/jobs", Form(PngBytes(64, 48), {{"backend", "classic"}, {"style", "cartoon"}})));
    ASSERT_TRUE(submitted.is_object());
    const std::string request =
        "GET /api/v1/jobs/" + submitted["id"].get<std::string>() + "/events HTTP/1.1\r\nHost: x\r\n\r\n";
    auto open_stream = [&](const std::string& source) {
        auto c = std::make_unique<RawConnection>(server_->port(), source);
        EXPECT_TRUE(c->Send(request));
        return c;
    };
    // Client 127.0.0.2 takes its one stream; its second is refused with 429.
    auto a1 = open_stream("127.0.0.2");
    EXPECT_EQ(StatusOf(a1->Read(5s, "event: status")), 200);
    auto a2 = open_stream("127.0.0.2");
    const std::string per_client = a2->Read(5s, "}}");
    EXPECT_EQ(StatusOf(per_client), 429) << per_client;
    EXPECT_NE(per_client.find("Retry-After"), std::string::npos);
    // Client 127.0.0.3 takes the last of the 2 slots; client 127.0.0.4 finds none: 503.
    auto b1 = open_stream("127.0.0.3");
    EXPECT_EQ(StatusOf(b1->Read(5s, "event: status")), 200);
    std::vector<std::unique_ptr<RawConnection>> flood;
    for (int i = 0; i < 20; ++i) flood.push_back(open_stream("127.0.0.4"));
    for (auto& c : flood) {
        const std::string refused = c->Read(5s, "}}");
        EXPECT_EQ(StatusOf(refused), 503) << refused;
        EXPECT_EQ(nlohmann::json::parse(BodyOf(refused), nullptr, false)["error"]["code"], "UNAVAILABLE");
    }
    ExpectApiAnswers(5000ms);
    auto health = client_->Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    // A listener that leaves frees its slot promptly.
    a1->Close();
    int status = 0;
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline && status != 200;) {
        auto again = open_stream("127.0.0.5");
        status = StatusOf(again->Read(5s, "\r\n\r\n"));
        if (status != 200) std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(status, 200);
}

TEST_F(AbuseProcessTest, ClientThatDisconnectsMidUploadLeavesNothingBehind) {
    StartServer({});
    const std::string body = MultipartBody(PngBytes(320, 240));
    for (int i = 0; i < 5; ++i) {  // more than the upload cap: every slot must come back
        RawConnection c(server_->port());
        ASSERT_TRUE(c.Send(UploadHead(body.size()) + body.substr(0, body.size() / 2)));
        std::this_thread::sleep_for(100ms);
        c.Close();
    }
    std::this_thread::sleep_for(500ms);
    auto list = Json(client_->Get("/api/v1/jobs"));
    ASSERT_TRUE(list.is_object());
    EXPECT_TRUE(list["jobs"].empty()) << list.dump();
    EXPECT_TRUE(DataFiles().empty()) << DataFiles().front();
    // The slots came back: a whole upload on a raw connection is accepted.
    RawConnection whole(server_->port());
    ASSERT_TRUE(whole.Send(UploadHead(body.size()) + body));
    const std::string accepted = whole.Read(10s, "}");
    EXPECT_EQ(StatusOf(accepted), 202) << accepted;
}

TEST(AbuseConfigTest, LimitsThatCouldStarveTheApiAreRefusedAtStart) {
    TempDir dir;
    const std::vector<std::string> base = {"serve", "--port", "0", "--data-dir", (dir.path() / "data").string()};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return RunLabhouse(args);
    };
    // 4 streams + 2 uploads of 8 threads would leave 2 for everything else.
    auto [code, out] = with({"--http-threads", "8", "--max-event-streams", "4", "--max-concurrent-uploads", "2"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("leave at least 4"), std::string::npos) << out;
    auto [header_code, header_out] = with({"--http-max-header-bytes", "100"});
    EXPECT_EQ(header_code, 2) << header_out;
    auto [conn_code, conn_out] = RunLabhouse(base, {{"LABHOUSE_HTTP_MAX_CONNECTIONS", "5000"}});
    EXPECT_EQ(conn_code, 2) << conn_out;
}

}  // namespace
}  // namespace labhouse::testing
