// Faults against the real `labhouse serve` process (issue 11): a crash between "result stored" and
// "job marked succeeded", SQLite held locked by another process, and a full disk while a result is
// written (a real one: the blob directory on a small tmpfs, when this process may mount; skipped
// otherwise).
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <future>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_helpers.h"
#include "tests/e2e/server_process.h"
#include "tests/testing/test_images.h"

namespace labhouse::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::pair<std::string, std::string>> kClassic = {{"backend", "classic"}, {"style", "cartoon"}};

// Holds a write transaction on the database from this (another) process.
class WriteLock {
public:
    explicit WriteLock(const std::filesystem::path& db) {
        sqlite3_open(db.c_str(), &db_);
        // The server's own short write transactions (a worker finishing jobs) may hold the lock at
        // this instant: wait for them as any writer would, then keep it.
        sqlite3_busy_timeout(db_, 10'000);
        locked_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    ~WriteLock() {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db_);
    }
    bool locked() const { return locked_; }

private:
    sqlite3* db_ = nullptr;
    bool locked_ = false;
};

std::string IntegrityCheck(const std::filesystem::path& db) {
    sqlite3* handle = nullptr;
    sqlite3_open(db.c_str(), &handle);
    std::string result;
    sqlite3_exec(
        handle, "PRAGMA integrity_check",
        [](void* out, int, char** values, char**) {
            *static_cast<std::string*>(out) += values[0] ? values[0] : "";
            return 0;
        },
        &result, nullptr);
    sqlite3_close(handle);
    return result;
}

class FaultProcessTest : public ::testing::Test {
protected:
    std::filesystem::path DataDir() const { return dir_.path() / "data"; }

    std::unique_ptr<ServerProcess> Start(std::map<std::string, std::string> env) {
        auto server = std::make_unique<ServerProcess>(DataDir(), std::vector<std::string>{}, std::move(env));
        EXPECT_TRUE(server->Start());
        return server;
    }

    // Blob files (ids) and leftover temp files under the data dir.
    std::set<std::string> Blobs() {
        std::set<std::string> ids;
        if (!std::filesystem::exists(DataDir() / "blobs")) return ids;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(DataDir() / "blobs")) {
            if (entry.is_regular_file()) ids.insert(entry.path().filename().string());
        }
        return ids;
    }

    TempDir dir_;
};

TEST_F(FaultProcessTest, CrashBetweenResultStoredAndDoneRunsTheJobExactlyOnceAfterRestart) {
    auto server = Start({{"LABHOUSE_TEST_CRASH_AFTER_RESULT_STORED", "1"}});
    auto client = server->Client();
    auto submitted = Json(client->Post("/api/v1/jobs", Form(PngBytes(160, 120), kClassic)));
    ASSERT_TRUE(submitted.is_object());
    const std::string id = submitted["id"];
    // The hook kills the process (SIGKILL) right after the result blob is stored.
    ASSERT_EQ(server->WaitForExit(60), 128 + SIGKILL) << server->Log();
    const auto after_crash = Blobs();
    ASSERT_EQ(after_crash.size(), 2u) << "input and the stored result";

    auto restarted = Start({});
    client = restarted->Client();
    auto job = WaitForJob(*client, id, Finished);
    ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump();
    EXPECT_EQ(job["attempts"], 2) << job.dump();
    auto list = Json(client->Get("/api/v1/jobs"));
    ASSERT_EQ(list["jobs"].size(), 1u) << list.dump();
    // One input and one result: the first attempt's result, which no row refers to, was swept.
    const auto blobs = Blobs();
    EXPECT_EQ(blobs.size(), 2u);
    const std::string url = job["result"]["image_url"];
    const std::string result_id = url.substr(url.rfind('/') + 1);
    EXPECT_TRUE(blobs.count(result_id));
    auto image = client->Get(url);
    ASSERT_TRUE(image);
    EXPECT_EQ(image->status, 200);
    EXPECT_NE(restarted->Log().find("orphan_blobs_removed"), std::string::npos) << restarted->Log();
}

TEST_F(FaultProcessTest, SqliteLockedByAnotherProcessDelaysButLosesAndDuplicatesNothing) {
    auto server = Start({});
    auto client = server->Client();
    client->set_read_timeout(30, 0);
    ASSERT_TRUE(Json(client->Get("/api/v1/jobs")).is_object());  // database created and migrated
    const auto db = DataDir() / "labhouse.db";
    std::vector<std::string> ids;
    {
        // Shorter than the 5 s busy timeout: every submission waits, then goes through.
        std::optional<WriteLock> lock(std::in_place, db);
        ASSERT_TRUE(lock->locked());
        std::vector<std::future<nlohmann::json>> pending;
        for (int i = 0; i < 6; ++i) {
            pending.push_back(std::async(std::launch::async, [&, i] {
                auto c = server->Client();
                c->set_read_timeout(30, 0);
                auto res = c->Post("/api/v1/jobs", Form(PngBytes(64 + i, 48), kClassic));
                EXPECT_TRUE(res);
                if (!res) return nlohmann::json();
                EXPECT_EQ(res->status, 202) << res->body;
                return Json(res);
            }));
        }
        // Reads do not wait for the writer (WAL).
        auto listed = client->Get("/api/v1/jobs");
        ASSERT_TRUE(listed);
        EXPECT_EQ(listed->status, 200);
        std::this_thread::sleep_for(2s);
        for (auto& p : pending) {
            if (p.wait_for(0s) == std::future_status::ready) ADD_FAILURE() << "a submission did not wait for the lock";
        }
        lock.reset();  // the waiting submissions go through now
        for (auto& p : pending) {
            auto job = p.get();
            if (job.is_object()) ids.push_back(job["id"]);
        }
    }
    ASSERT_EQ(ids.size(), 6u);
    {
        // Longer than the busy timeout: the submission gives up with 503, not 500, and creates nothing.
        WriteLock lock(db);
        ASSERT_TRUE(lock.locked());
        auto res = client->Post("/api/v1/jobs", Form(PngBytes(99, 77), kClassic));
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 503) << res->body;
        EXPECT_EQ(Json(res)["error"]["code"], "UNAVAILABLE") << res->body;
    }
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), 6u);
    for (const auto& id : ids) {
        auto job = WaitForJob(*client, id, Finished);
        EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump();
    }
    auto list = Json(client->Get("/api/v1/jobs?limit=100"));
    EXPECT_EQ(list["jobs"].size(), 6u) << list.dump();
    EXPECT_EQ(server->Terminate(), 0);
    EXPECT_EQ(IntegrityCheck(db), "ok");
}

TEST_F(FaultProcessTest, FullDiskWhileWritingAResultFailsTheJobCleanly) {
    // The blob volume is a real, small filesystem that really fills up (ENOSPC from write()).
    const auto blobs_dir = DataDir() / "blobs";
    std::filesystem::create_directories(blobs_dir);
    if (::mount("tmpfs", blobs_dir.c_str(), "tmpfs", 0, "size=4m") != 0) {
        GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): " << std::strerror(errno);
    }
    struct Unmount {
        std::filesystem::path path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{blobs_dir};

    // Accept the job with no worker running, then fill the volume and start a worker.
    auto api = Start({{"LABHOUSE_WORKERS", "0"}});
    auto submitted = Json(api->Client()->Post("/api/v1/jobs", Form(PngBytes(640, 480), kClassic)));
    ASSERT_TRUE(submitted.is_object());
    const std::string id = submitted["id"];
    ASSERT_EQ(api->Terminate(), 0);
    const auto inputs = Blobs();
    ASSERT_EQ(inputs.size(), 1u);

    struct statvfs fs {};
    ASSERT_EQ(::statvfs(blobs_dir.c_str(), &fs), 0);
    const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    const std::uint64_t keep = 16 * 1024;  // far less than a 640x480 result
    ASSERT_GT(free_bytes, keep);
    const auto filler = blobs_dir / "filler";
    {
        std::ofstream out(filler, std::ios::binary);
        const std::string block(4096, 'x');
        for (std::uint64_t written = 0; written + block.size() <= free_bytes - keep; written += block.size()) {
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }

    auto server = Start({});
    auto client = server->Client();
    auto job = WaitForJob(*client, id, Finished, 90s);
    ASSERT_EQ(job.value("status", ""), "failed") << job.dump() << "\n" << server->Log();
    EXPECT_EQ(job["error"]["code"], "RESOURCE_EXHAUSTED") << job.dump();
    EXPECT_NE(job["error"]["message"].get<std::string>().find("disk full"), std::string::npos) << job.dump();
    EXPECT_TRUE(job["result"].is_null()) << job.dump();
    // No partial file under any name: the input, the filler, and no temp file.
    auto after = Blobs();
    after.erase("filler");
    EXPECT_EQ(after, inputs);

    // With room again the same server runs the next job.
    std::filesystem::remove(filler);
    auto next = Json(client->Post("/api/v1/jobs", Form(PngBytes(640, 480), kClassic)));
    ASSERT_TRUE(next.is_object());
    auto done = WaitForJob(*client, next["id"], Finished, 90s);
    EXPECT_EQ(done.value("status", ""), "succeeded") << done.dump();
    auto list = Json(client->Get("/api/v1/jobs"));
    EXPECT_EQ(list["jobs"].size(), 2u) << list.dump();
    EXPECT_EQ(server->Terminate(), 0);
    EXPECT_EQ(IntegrityCheck(DataDir() / "labhouse.db"), "ok");
}

}  // namespace
}  // namespace labhouse::testing
