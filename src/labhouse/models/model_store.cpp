#include "labhouse/models/model_store.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "labhouse/core/base/log.h"
#include "labhouse/models/file_hash.h"
#include "labhouse/models/manifest.h"

namespace labhouse::models {
namespace {

namespace fs = std::filesystem;

bool Matches(const InstalledModel& model, const std::string& name, const std::string& dtype) {
    return model.name == name && (dtype.empty() || model.dtype == dtype);
}

Error NoneInstalled(const std::vector<InstalledModel>& models, const std::string& name, const std::string& dtype) {
    std::string installed;
    for (const auto& model : models)
        installed += (installed.empty() ? "" : ", ") + model.name + " (" + model.dtype + ")";
    return NotFound("no installed model " + name + (dtype.empty() ? "" : " (" + dtype + ")") +
                    (installed.empty() ? "; nothing is installed" : "; installed: " + installed));
}

// Removes `dir` and its parents up to (and including) `stop` while they are empty.
void RemoveEmptyDirs(fs::path dir, const fs::path& stop) {
    std::error_code ec;
    while (!dir.empty() && dir.string().size() >= stop.string().size()) {
        if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) return;
        fs::remove(dir, ec);
        if (dir == stop) return;
        dir = dir.parent_path();
    }
}

}  // namespace

Result<std::vector<InstalledModel>> ListInstalled(const std::string& models_dir) { return LoadManifest(models_dir); }

Result<std::vector<VerifyReport>> VerifyInstalled(const std::string& models_dir, const std::string& name,
                                                  const std::string& dtype, const VerifyProgressFn& progress) {
    LABHOUSE_ASSIGN_OR_RETURN(std::vector<InstalledModel> models, LoadManifest(models_dir));
    std::vector<VerifyReport> reports;
    for (const auto& model : models) {
        if (!Matches(model, name, dtype)) continue;
        VerifyReport report{model, {}};
        for (const auto& file : model.files) {
            FileCheck check{file.path, file.size, -1, file.sha256, "", ""};
            const fs::path path = fs::path(model.dir) / file.path;
            std::error_code ec;
            if (!fs::is_regular_file(path, ec)) {
                check.problem = "missing";
            } else if (check.actual_size = static_cast<std::int64_t>(fs::file_size(path, ec));
                       check.actual_size != file.size) {
                check.problem = "size";
            } else {
                auto sha = Sha256OfFile(path.string(), [&](std::int64_t done) {
                    if (progress) progress(file.path, done, file.size);
                });
                if (!sha) return sha.error();
                check.actual_sha256 = *sha;
                if (*sha != file.sha256) check.problem = "checksum";
            }
            if (!check.problem.empty()) {
                Log(LogLevel::kWarn, "model_file_damaged",
                    {{"model", model.name}, {"file", file.path}, {"problem", check.problem}});
            }
            report.files.push_back(std::move(check));
        }
        reports.push_back(std::move(report));
    }
    if (reports.empty()) return NoneInstalled(models, name, dtype);
    return reports;
}

Result<std::vector<InstalledModel>> RemoveInstalled(const std::string& models_dir, const std::string& name,
                                                    const std::string& dtype) {
    std::vector<InstalledModel> removed;
    std::error_code ec;
    if (!fs::is_directory(models_dir, ec)) return NoneInstalled({}, name, dtype);
    Status status = UpdateManifest(models_dir, [&](std::vector<InstalledModel>& models) -> Status {
        std::vector<InstalledModel> kept;
        for (auto& model : models) (Matches(model, name, dtype) ? removed : kept).push_back(model);
        if (removed.empty()) return NoneInstalled(models, name, dtype);
        std::set<fs::path> still_used;
        for (const auto& model : kept) {
            for (const auto& file : model.files) still_used.insert(fs::path(model.dir) / file.path);
        }
        for (const auto& model : removed) {
            const fs::path dir = model.dir;
            for (const auto& file : model.files) {
                const fs::path path = dir / file.path;
                if (still_used.count(path)) continue;
                std::error_code ec;
                fs::remove(path, ec);
                fs::remove(path.string() + ".partial", ec);
                fs::remove(path.string() + ".partial.json", ec);
                fs::remove(path.string() + ".sha256", ec);  // the sdxl backend's hash cache beside a checkpoint
                RemoveEmptyDirs(path.parent_path(), dir);
            }
            const bool dir_still_used = std::any_of(
                kept.begin(), kept.end(), [&](const InstalledModel& other) { return other.dir == model.dir; });
            if (!dir_still_used) {
                std::error_code ec;
                fs::remove(dir / ".pull.lock", ec);
                RemoveEmptyDirs(dir, dir);
            }
            Log(LogLevel::kInfo, "model_removed", {{"model", model.name}, {"dtype", model.dtype}, {"dir", model.dir}});
        }
        models = std::move(kept);
        return OkStatus();
    });
    if (!status) return std::move(status).error();
    return removed;
}

Result<std::string> RecordedSha256(const std::string& models_dir, const std::string& file_path) {
    LABHOUSE_ASSIGN_OR_RETURN(std::vector<InstalledModel> models, LoadManifest(models_dir));
    std::error_code ec;
    const fs::path wanted = fs::absolute(file_path, ec).lexically_normal();
    const auto size = static_cast<std::int64_t>(fs::file_size(wanted, ec));
    if (ec) return NotFound(file_path + " does not exist");
    for (const auto& model : models) {
        for (const auto& file : model.files) {
            if ((fs::path(model.dir) / file.path).lexically_normal() == wanted && file.size == size) return file.sha256;
        }
    }
    return NotFound(file_path + " is not recorded in the manifest of " + models_dir);
}

Result<std::string> FindInstalledFile(const std::string& models_dir, const std::string& name,
                                      const std::string& dtype) {
    LABHOUSE_ASSIGN_OR_RETURN(std::vector<InstalledModel> models, LoadManifest(models_dir));
    const InstalledModel* best = nullptr;
    for (const auto& model : models) {
        if (model.name != name || model.files.empty()) continue;
        if (best == nullptr || (!dtype.empty() && model.dtype == dtype && best->dtype != dtype)) best = &model;
    }
    const std::string fix =
        "labhouse models pull " + name + (dtype.empty() || dtype == "any" ? "" : " --dtype " + dtype);
    if (best == nullptr) return NotFound(name + " is not installed in " + models_dir + ": run `" + fix + "`");
    const InstalledModelFile* main = &best->files.front();
    for (const auto& file : best->files) {
        if (file.size > main->size) main = &file;
    }
    const fs::path path = fs::path(best->dir) / main->path;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        return NotFound(path.string() + " is recorded but missing: run `" + fix + "`");
    }
    return path.string();
}

}  // namespace labhouse::models
