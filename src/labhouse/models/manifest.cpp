#include "labhouse/models/manifest.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace labhouse::models {
namespace {

constexpr int kManifestVersion = 1;

// `dir` relative to `root` when it is inside it; otherwise unchanged (absolute).
std::string RelativeDir(const std::string& dir, const std::filesystem::path& root) {
    const std::filesystem::path relative = std::filesystem::path(dir).lexically_relative(root);
    if (relative.empty() || *relative.begin() == "..") return dir;
    return relative.string();
}

namespace fs = std::filesystem;

nlohmann::json ToJson(const InstalledModel& model, const fs::path& root) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& file : model.files) {
        files.push_back(
            {{"path", file.path}, {"size", file.size}, {"sha256", file.sha256}, {"verified_by", file.verified_by}});
    }
    return {{"name", model.name},
            {"repo", model.repo},
            {"revision", model.revision},
            {"commit", model.commit},
            {"dtype", model.dtype},
            {"role", model.role},
            {"dir", RelativeDir(model.dir, root)},
            {"backends", model.backends},
            {"files", files},
            {"installed_at_ms", model.installed_at_ms}};
}

InstalledModel FromJson(const nlohmann::json& j, const fs::path& root) {
    InstalledModel model;
    model.name = j.at("name").get<std::string>();
    model.repo = j.value("repo", "");
    model.revision = j.value("revision", "");
    model.commit = j.value("commit", "");
    model.dtype = j.value("dtype", "");
    model.role = j.value("role", "");
    const fs::path dir = j.at("dir").get<std::string>();
    model.dir = dir.is_absolute() ? dir.string() : (root / dir).lexically_normal().string();
    model.backends = j.value("backends", std::vector<std::string>{});
    model.installed_at_ms = j.value("installed_at_ms", std::int64_t{0});
    for (const auto& f : j.at("files")) {
        model.files.push_back({f.at("path").get<std::string>(), f.at("size").get<std::int64_t>(),
                               f.at("sha256").get<std::string>(), f.value("verified_by", "")});
    }
    return model;
}

Status WriteAtomically(const std::filesystem::path& path, const std::string& content) {
    const std::filesystem::path temp = path.string() + ".tmp";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Unavailable("cannot write " + temp.string());
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n <= 0) {
            ::close(fd);
            return Unavailable("cannot write " + temp.string() + " (disk full?)");
        }
        written += static_cast<std::size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced || ::rename(temp.c_str(), path.c_str()) != 0) return Unavailable("cannot replace " + path.string());
    return OkStatus();
}

class ManifestLock {
public:
    explicit ManifestLock(const std::string& models_dir)
        : fd_(::open((std::filesystem::path(models_dir) / ".manifest.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                     0644)) {
        if (fd_ >= 0) ::flock(fd_, LOCK_EX);
    }
    ~ManifestLock() {
        if (fd_ >= 0) ::close(fd_);  // releases the flock
    }
    ManifestLock(const ManifestLock&) = delete;
    ManifestLock& operator=(const ManifestLock&) = delete;
    bool ok() const { return fd_ >= 0; }

private:
    int fd_;
};

}  // namespace

std::string AbsoluteModelsDir(const std::string& models_dir) {
    std::error_code ec;
    fs::path path = fs::absolute(models_dir, ec).lexically_normal();
    if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) path = path.parent_path();
    return path.string();
}

Result<std::vector<InstalledModel>> LoadManifest(const std::string& models_dir) {
    const fs::path root = AbsoluteModelsDir(models_dir);
    const std::filesystem::path path = root / kManifestFileName;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::vector<InstalledModel>{};
    std::ifstream in(path);
    if (!in) return Internal("cannot read " + path.string());
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        const nlohmann::json j = nlohmann::json::parse(buffer.str());
        if (j.value("version", 0) != kManifestVersion) {
            return Internal(path.string() + " has an unknown manifest version");
        }
        std::vector<InstalledModel> models;
        for (const auto& entry : j.at("models")) models.push_back(FromJson(entry, root));
        return models;
    } catch (const nlohmann::json::exception& e) {
        return Internal(path.string() + " is malformed: " + e.what());
    }
}

Status UpdateManifest(const std::string& models_dir, const std::function<Status(std::vector<InstalledModel>&)>& edit) {
    ManifestLock lock(models_dir);
    if (!lock.ok()) return Unavailable("cannot lock the manifest in " + models_dir);
    LABHOUSE_ASSIGN_OR_RETURN(std::vector<InstalledModel> models, LoadManifest(models_dir));
    LABHOUSE_RETURN_IF_ERROR(edit(models));
    nlohmann::json list = nlohmann::json::array();
    const fs::path root = AbsoluteModelsDir(models_dir);
    for (const auto& model : models) list.push_back(ToJson(model, root));
    const nlohmann::json doc = {{"version", kManifestVersion}, {"models", list}};
    return WriteAtomically(std::filesystem::path(models_dir) / kManifestFileName, doc.dump(2) + "\n");
}

void UpsertModel(std::vector<InstalledModel>& models, InstalledModel model) {
    for (auto& existing : models) {
        if (existing.name == model.name && existing.dtype == model.dtype) {
            existing = std::move(model);
            return;
        }
    }
    models.push_back(std::move(model));
}

}  // namespace labhouse::models
