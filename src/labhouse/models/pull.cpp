#include "labhouse/models/pull.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "labhouse/core/base/log.h"
#include "labhouse/core/base/sha256.h"
#include "labhouse/models/file_hash.h"
#include "labhouse/models/manifest.h"

namespace labhouse::models {
namespace {

namespace fs = std::filesystem;

constexpr auto kMaxBackoff = std::chrono::seconds(30);

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}


// What one file needs, decided before anything is fetched (so the disk check sees it all).
struct FilePlan {
    CatalogFile wanted;
    RemoteFile remote;
    fs::path final_path;
    fs::path partial_path;
    fs::path meta_path;
    std::string expected_sha256;  // catalog first, else the hub's LFS hash; empty for git files
    std::int64_t expected_size = -1;
    std::int64_t resume_from = 0;  // bytes of a matching partial to keep
    bool already_installed = false;
    InstalledModelFile installed;  // when already_installed
};

nlohmann::json PartialIdentity(const FilePlan& plan) {
    return {{"repo", plan.remote.repo},
            {"path", plan.remote.path},
            {"sha256", plan.expected_sha256},
            {"git_sha1", plan.remote.git_sha1},
            {"size", plan.expected_size}};
}

// Bytes of the partial that belong to the same remote file, or 0 (and the partial removed).
std::int64_t ResumableBytes(const FilePlan& plan) {
    std::error_code ec;
    if (!fs::exists(plan.partial_path, ec)) return 0;
    bool same = false;
    std::ifstream in(plan.meta_path);
    if (in) {
        try {
            std::stringstream buffer;
            buffer << in.rdbuf();
            same = nlohmann::json::parse(buffer.str()) == PartialIdentity(plan);
        } catch (const nlohmann::json::exception&) {
            same = false;
        }
    }
    // Without a hash there is nothing that proves old bytes belong to this version of the file.
    const bool identified = !plan.expected_sha256.empty() || !plan.remote.git_sha1.empty();
    const auto size = static_cast<std::int64_t>(fs::file_size(plan.partial_path, ec));
    if (ec || !same || !identified || (plan.expected_size >= 0 && size > plan.expected_size)) {
        fs::remove(plan.partial_path, ec);
        return 0;
    }
    return size;
}

Status WriteText(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Unavailable("cannot write " + path.string());
    return OkStatus();
}

// Checks an installed file without downloading: the manifest's record when it matches the
// file's size, else the bytes themselves.
bool InstalledFileMatches(FilePlan& plan, const std::vector<InstalledModel>& manifest) {
    std::error_code ec;
    if (!fs::is_regular_file(plan.final_path, ec)) return false;
    const auto size = static_cast<std::int64_t>(fs::file_size(plan.final_path, ec));
    if (ec || (plan.expected_size >= 0 && size != plan.expected_size)) return false;
    for (const auto& model : manifest) {
        for (const auto& file : model.files) {
            if (fs::path(model.dir) / file.path != plan.final_path || file.size != size) continue;
            if (!plan.expected_sha256.empty() && file.sha256 == plan.expected_sha256) {
                plan.installed = {plan.wanted.path, size, file.sha256, file.verified_by};
                return true;
            }
        }
    }
    if (!plan.expected_sha256.empty()) {
        auto sha = Sha256OfFile(plan.final_path.string());
        if (!sha || *sha != plan.expected_sha256) return false;
        plan.installed = {plan.wanted.path, size, *sha, plan.wanted.sha256.empty() ? "hub-sha256" : "catalog"};
        return true;
    }
    if (!plan.remote.git_sha1.empty()) {
        auto git = GitBlobSha1OfFile(plan.final_path.string());
        if (!git || *git != plan.remote.git_sha1) return false;
        auto sha = Sha256OfFile(plan.final_path.string());
        if (!sha) return false;
        plan.installed = {plan.wanted.path, size, *sha, "hub-git-sha1"};
        return true;
    }
    return false;
}

Result<FilePlan> PlanFile(const ModelSpec& spec, const CatalogFile& wanted, const HubClient& hub, const fs::path& dir,
                          const std::vector<InstalledModel>& manifest) {
    FilePlan plan;
    plan.wanted = wanted;
    LABHOUSE_ASSIGN_OR_RETURN(plan.remote, hub.Probe(spec.repo, spec.revision, wanted.path));
    const RemoteFile& remote = plan.remote;
    if (!wanted.sha256.empty() && !remote.sha256.empty() && wanted.sha256 != remote.sha256) {
        return FailedPrecondition("the hub's SHA-256 of '" + wanted.path + "' (" + remote.sha256 +
                                  ") differs from the catalog's (" + wanted.sha256 + "): the file changed upstream; " +
                                  "not downloading it");
    }
    if (wanted.size >= 0 && remote.size >= 0 && wanted.size != remote.size) {
        return FailedPrecondition("the hub's size of '" + wanted.path + "' (" + std::to_string(remote.size) +
                                  ") differs from the catalog's (" + std::to_string(wanted.size) + ")");
    }
    plan.expected_sha256 = !wanted.sha256.empty() ? wanted.sha256 : remote.sha256;
    plan.expected_size = wanted.size >= 0 ? wanted.size : remote.size;
    plan.final_path = dir / wanted.path;
    plan.partial_path = plan.final_path.string() + ".partial";
    plan.meta_path = plan.final_path.string() + ".partial.json";
    plan.already_installed = InstalledFileMatches(plan, manifest);
    if (!plan.already_installed) plan.resume_from = ResumableBytes(plan);
    return plan;
}

// Appends the body to the partial file, hashing as it goes.
class PartialFileSink : public FetchSink {
public:
    PartialFileSink(std::FILE* file, Sha256& hasher, std::int64_t done, std::int64_t limit,
                    std::function<void(std::int64_t done, std::int64_t received)> progress)
        : file_(file), hasher_(hasher), done_(done), limit_(limit), progress_(std::move(progress)) {}

    Status Begin(bool from_start) override {
        if (from_start && done_ > 0) {
            // The server sent the whole file instead of the range asked for: start over.
            if (std::fflush(file_) != 0 || ::ftruncate(::fileno(file_), 0) != 0) {
                return Unavailable("cannot truncate the partial download");
            }
            hasher_ = Sha256();
            done_ = 0;
        }
        return OkStatus();
    }

    Status Write(const char* data, std::size_t size) override {
        if (limit_ >= 0 && done_ + static_cast<std::int64_t>(size) > limit_) {
            return Unavailable("the server sent more bytes than the file's advertised size");
        }
        if (std::fwrite(data, 1, size, file_) != size)
            return ResourceExhausted("cannot write the download (disk full?)");
        hasher_.Update(data, size);
        done_ += static_cast<std::int64_t>(size);
        received_ += static_cast<std::int64_t>(size);
        if (progress_) progress_(done_, received_);
        return OkStatus();
    }

    std::int64_t done() const { return done_; }
    std::int64_t received() const { return received_; }

private:
    std::FILE* file_;
    Sha256& hasher_;
    std::int64_t done_;
    std::int64_t limit_;
    std::int64_t received_ = 0;
    std::function<void(std::int64_t, std::int64_t)> progress_;
};

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

void DiscardPartial(const FilePlan& plan) {
    std::error_code ec;
    fs::remove(plan.partial_path, ec);
    fs::remove(plan.meta_path, ec);
}

Status Verify(const FilePlan& plan, const std::string& sha256, std::string& verified_by) {
    std::string expected;
    std::string actual;
    if (!plan.expected_sha256.empty()) {
        expected = plan.expected_sha256;
        actual = sha256;
        verified_by = plan.wanted.sha256.empty() ? "hub-sha256" : "catalog";
    } else if (!plan.remote.git_sha1.empty()) {
        LABHOUSE_ASSIGN_OR_RETURN(actual, GitBlobSha1OfFile(plan.partial_path.string()));
        expected = plan.remote.git_sha1;
        verified_by = "hub-git-sha1";
    } else {
        verified_by = "size-only";
        Log(LogLevel::kWarn, "model_file_unverified",
            {{"file", plan.wanted.path}, {"reason", "the hub gave no hash; only the size was checked"}});
        return OkStatus();
    }
    if (actual == expected) return OkStatus();
    return Unavailable("checksum mismatch for '" + plan.wanted.path + "' from " + plan.remote.repo + ": expected " +
                       (verified_by == "hub-git-sha1" ? "git blob " : "SHA-256 ") + expected + ", got " + actual +
                       "; the download was deleted and nothing was installed; run the command again");
}

Result<InstalledModelFile> DownloadFile(const FilePlan& plan, const HubClient& hub, const PullOptions& options,
                                        PullProgress progress, const PullProgressFn& on_progress) {
    std::error_code ec;
    fs::create_directories(plan.final_path.parent_path(), ec);
    if (ec) return Unavailable("cannot create " + plan.final_path.parent_path().string() + ": " + ec.message());
    LABHOUSE_RETURN_IF_ERROR(WriteText(plan.meta_path, PartialIdentity(plan).dump() + "\n"));
    Sha256 hasher;
    if (plan.resume_from > 0) {
        LABHOUSE_RETURN_IF_ERROR(HashFilePrefix(plan.partial_path.string(), plan.resume_from, hasher));
        Log(LogLevel::kInfo, "model_download_resumed",
            {{"file", plan.wanted.path}, {"from_bytes", std::to_string(plan.resume_from)}});
    }
    std::unique_ptr<std::FILE, FileCloser> file(
        std::fopen(plan.partial_path.c_str(), plan.resume_from > 0 ? "ab" : "wb"));
    if (!file) return Unavailable("cannot write " + plan.partial_path.string());
    std::setvbuf(file.get(), nullptr, _IOFBF, 1 << 20);  // fewer, larger writes for multi-GB files

    const auto started = std::chrono::steady_clock::now();
    std::int64_t session_before = 0;  // bytes received by earlier attempts in this run
    auto report = [&](std::int64_t done, std::int64_t received) {
        if (!on_progress) return;
        progress.done = done;
        progress.session_bytes = session_before + received;
        progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        on_progress(progress);
    };
    std::int64_t done = plan.resume_from;
    auto backoff = options.retry_backoff;
    RemoteFile remote = plan.remote;
    for (int attempt = 1;; ++attempt) {
        PartialFileSink sink(file.get(), hasher, done, plan.expected_size, report);
        Status fetched = (plan.expected_size >= 0 && done == plan.expected_size)
                             ? OkStatus()  // a partial that was complete when the last run stopped
                             : hub.Fetch(remote, done, sink);
        session_before += sink.received();
        done = sink.done();
        // Bytes counted as done must be on disk: a failed flush (disk full) would otherwise leave a
        // hole that the next Range request skips over.
        if (std::fflush(file.get()) != 0) {
            return ResourceExhausted("cannot write " + plan.partial_path.string() + " (disk full?); run again to resume");
        }
        if (fetched) break;
        if (fetched.error().code != ErrorCode::kUnavailable || attempt >= options.max_attempts) {
            std::string message = fetched.error().message;
            if (done > 0)
                message +=
                    " (" + FormatBytes(done) + " kept in " + plan.partial_path.string() + "; run again to resume)";
            return Error{fetched.error().code, message, {}};
        }
        Log(LogLevel::kWarn, "model_download_retry",
            {{"file", plan.wanted.path},
             {"attempt", std::to_string(attempt)},
             {"resume_from", std::to_string(done)},
             {"error", fetched.error().message}});
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(backoff, kMaxBackoff));
        backoff *= 2;
        // A fresh probe gives a fresh CDN link (they are signed and expire); if the hub is not
        // reachable either, the next attempt still tries the old one.
        if (auto fresh = hub.Probe(remote.repo, remote.revision, remote.path)) {
            if (fresh->sha256 != remote.sha256 || fresh->git_sha1 != remote.git_sha1 || fresh->size != remote.size) {
                return FailedPrecondition("'" + plan.wanted.path +
                                          "' changed on the hub during the download; run the "
                                          "command again to fetch the new version");
            }
            remote = *fresh;
        }
    }
    if (::fsync(::fileno(file.get())) != 0) return Unavailable("cannot sync " + plan.partial_path.string());
    file.reset();
    const auto on_disk = static_cast<std::int64_t>(fs::file_size(plan.partial_path, ec));
    if (ec || on_disk != done) {
        DiscardPartial(plan);
        return Unavailable("'" + plan.wanted.path + "': " + std::to_string(on_disk) + " bytes on disk, " +
                           std::to_string(done) + " received; the download was deleted; run the command again");
    }

    if (plan.expected_size >= 0 && done != plan.expected_size) {
        DiscardPartial(plan);
        return Unavailable("'" + plan.wanted.path + "' arrived with " + std::to_string(done) + " bytes, expected " +
                           std::to_string(plan.expected_size) + "; the download was deleted; run the command again");
    }
    const std::string sha256 = hasher.FinishHex();
    std::string verified_by;
    if (auto verified = Verify(plan, sha256, verified_by); !verified) {
        DiscardPartial(plan);
        Log(LogLevel::kError, "model_checksum_mismatch", {{"file", plan.wanted.path}, {"repo", plan.remote.repo}});
        return verified.error();
    }
    if (::rename(plan.partial_path.c_str(), plan.final_path.c_str()) != 0) {
        return Unavailable("cannot move " + plan.partial_path.string() + " into place");
    }
    fs::remove(plan.meta_path, ec);
    progress.done = done;
    progress.finished = true;
    if (on_progress) on_progress(progress);
    Log(LogLevel::kInfo, "model_file_installed",
        {{"file", plan.wanted.path},
         {"bytes", std::to_string(done)},
         {"sha256", sha256},
         {"verified_by", verified_by}});
    return InstalledModelFile{plan.wanted.path, done, sha256, verified_by};
}

// An exclusive, non-blocking flock held for the lifetime of the object; the kernel drops it if
// the process dies, so a killed pull never leaves a stale lock.
class PullLock {
public:
    explicit PullLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~PullLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    PullLock(const PullLock&) = delete;
    PullLock& operator=(const PullLock&) = delete;
    bool held() const { return fd_ >= 0; }

private:
    int fd_;
};

}  // namespace

Result<std::int64_t> FreeBytesStatvfs(const std::string& dir) {
    struct statvfs info {};
    if (::statvfs(dir.c_str(), &info) != 0) return Unavailable("cannot statvfs " + dir);
    return static_cast<std::int64_t>(info.f_bavail) * static_cast<std::int64_t>(info.f_frsize);
}

Result<InstalledModel> PullModel(const ModelSpec& spec, const HubClient& hub, const PullOptions& options,
                                 const PullProgressFn& progress) {
    if (options.models_dir.empty()) return InvalidArgument("no models dir");
    if (!IsSafeRelativePath(spec.install_dir)) return InvalidArgument("unsafe install dir '" + spec.install_dir + "'");
    std::error_code ec;
    const fs::path models_dir = AbsoluteModelsDir(options.models_dir);
    const fs::path dir = models_dir / spec.install_dir;
    fs::create_directories(dir, ec);
    if (ec) return Unavailable("cannot create " + dir.string() + ": " + ec.message());
    // Two pulls into one model dir would append to the same partial files.
    PullLock lock(dir / ".pull.lock");
    if (!lock.held()) return FailedPrecondition("another pull into " + dir.string() + " is running");
    LABHOUSE_ASSIGN_OR_RETURN(std::vector<InstalledModel> manifest, LoadManifest(models_dir.string()));

    // Probe every file first: a 401 or 404 on the last file must not cost the first one's gigabytes.
    std::vector<FilePlan> plans;
    std::int64_t needed = 0;
    for (const auto& wanted : spec.files) {
        LABHOUSE_ASSIGN_OR_RETURN(FilePlan plan, PlanFile(spec, wanted, hub, dir, manifest));
        if (!plan.already_installed && plan.expected_size > 0) needed += plan.expected_size - plan.resume_from;
        plans.push_back(std::move(plan));
    }
    const auto free_fn = options.free_bytes ? options.free_bytes : FreeBytesStatvfs;
    LABHOUSE_ASSIGN_OR_RETURN(const std::int64_t free_bytes, free_fn(dir.string()));
    if (needed + options.reserve_bytes > free_bytes) {
        return ResourceExhausted("not enough disk space in " + dir.string() + ": " + spec.name + " needs " +
                                 FormatBytes(needed) + " more (plus " + FormatBytes(options.reserve_bytes) +
                                 " headroom), " + FormatBytes(free_bytes) + " free");
    }
    Log(LogLevel::kInfo, "model_pull_started",
        {{"model", spec.name},
         {"repo", spec.repo},
         {"revision", spec.revision},
         {"dtype", spec.dtype},
         {"files", std::to_string(plans.size())},
         {"bytes_to_fetch", std::to_string(needed)},
         {"auth", hub.config().token.empty() ? "none" : "token"}});

    InstalledModel model{spec.name, spec.repo,    spec.revision, "", spec.dtype,
                         spec.role, dir.string(), spec.backends, {}, 0};
    for (std::size_t i = 0; i < plans.size(); ++i) {
        const FilePlan& plan = plans[i];
        if (model.commit.empty()) model.commit = plan.remote.commit;
        PullProgress file_progress;
        file_progress.file = plan.wanted.path;
        file_progress.file_index = static_cast<int>(i) + 1;
        file_progress.file_count = static_cast<int>(plans.size());
        file_progress.total = plan.expected_size;
        if (plan.already_installed) {
            file_progress.done = plan.installed.size;
            file_progress.finished = true;
            if (progress) progress(file_progress);
            model.files.push_back(plan.installed);
            continue;
        }
        LABHOUSE_ASSIGN_OR_RETURN(InstalledModelFile installed,
                                  DownloadFile(plan, hub, options, file_progress, progress));
        model.files.push_back(std::move(installed));
    }
    model.installed_at_ms = NowMs();
    LABHOUSE_RETURN_IF_ERROR(UpdateManifest(models_dir.string(), [&model](std::vector<InstalledModel>& models) {
        UpsertModel(models, model);
        return OkStatus();
    }));
    Log(LogLevel::kInfo, "model_installed",
        {{"model", spec.name},
         {"dtype", spec.dtype},
         {"dir", dir.string()},
         {"bytes", std::to_string(model.TotalBytes())}});
    return model;
}

std::string FormatBytes(std::int64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    return text;
}

}  // namespace labhouse::models
