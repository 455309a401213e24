// `labhouse models pull|list|verify|rm`.
#include "labhouse/models/cli/models_commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "labhouse/core/base/log.h"
#include "labhouse/models/catalog.h"
#include "labhouse/models/cli/progress_bar.h"
#include "labhouse/models/model_store.h"
#include "labhouse/models/pull.h"

namespace labhouse::models {
namespace {

// What `labhouse serve` uses when neither --models-dir nor LABHOUSE_MODELS_DIR is set:
// <data-dir>/models, with LABHOUSE_DATA_DIR honoured so both commands agree.
constexpr const char* kDefaultModelsDirHelp = "$LABHOUSE_DATA_DIR/models, else ./data/models";

std::string DefaultModelsDir() {
    const char* data_dir = std::getenv("LABHOUSE_DATA_DIR");
    if (data_dir != nullptr && *data_dir != '\0') return std::string(data_dir) + "/models";
    return "./data/models";
}

struct ModelsArgs {
    std::string group_dir;    // `labhouse models --dir D <cmd>`
    std::string command_dir;  // `labhouse models <cmd> --dir D`
    std::string log_level = "warn";
    // pull / verify / rm
    std::string name;
    std::string dtype;
    std::vector<std::string> files;
    std::string revision = "main";
    int retries = 5;
    // list
    bool json = false;
    bool available = false;

    std::string ModelsDir() const {
        if (!command_dir.empty()) return command_dir;
        return group_dir.empty() ? DefaultModelsDir() : group_dir;
    }
};

[[noreturn]] void Fail(const std::string& command, const Error& error) {
    std::cerr << "labhouse models " << command << ": error: " << error.message << "\n";
    throw CLI::RuntimeError(error.code == ErrorCode::kInvalidArgument ? 2 : 1);
}

LogLevel ParseLevel(const std::string& level) {
    if (level == "debug") return LogLevel::kDebug;
    if (level == "info") return LogLevel::kInfo;
    if (level == "error") return LogLevel::kError;
    return LogLevel::kWarn;
}

// Log records go to stderr as one line each, below `min_level` dropped, without breaking the
// progress line. Records never carry the token (see hub_client.h).
void InstallLogSink(LogLevel min_level, ProgressBar* bar) {
    SetLogSink([min_level, bar](LogLevel level, std::string_view event, const LogFields& fields) {
        if (level < min_level) return;
        if (bar != nullptr) bar->BreakLine();
        static const char* kNames[] = {"debug", "info", "warn", "error"};
        std::cerr << "labhouse: " << kNames[static_cast<int>(level)] << ": " << FormatLogLine(event, fields) << "\n";
    });
}

std::string Join(const std::vector<std::string>& items, const std::string& empty) {
    if (items.empty()) return empty;
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

std::string DescribeVerification(const std::string& verified_by) {
    if (verified_by == "catalog") return "SHA-256 pinned in the catalog";
    if (verified_by == "hub-sha256") return "the hub's LFS SHA-256";
    if (verified_by == "hub-git-sha1") return "the hub's git blob id";
    return "size only: the hub gave no hash";
}

// The file a backend loads: the largest one.
const InstalledModelFile* MainFile(const InstalledModel& model) {
    const InstalledModelFile* main = nullptr;
    for (const auto& file : model.files) {
        if (main == nullptr || file.size > main->size) main = &file;
    }
    return main;
}

void RunPull(const ModelsArgs& args) {
    auto spec = ResolvePullRequest({args.name, args.dtype, args.files, args.revision});
    if (!spec) Fail("pull", spec.error());
    HubClient hub(HubConfigFromEnvironment());
    ProgressBar bar(stderr, ::isatty(STDERR_FILENO) == 1);
    InstallLogSink(ParseLevel(args.log_level), &bar);
    PullOptions options;
    options.models_dir = args.ModelsDir();
    options.max_attempts = std::max(1, args.retries + 1);
    std::cerr << "pulling " << spec->name << " (" << spec->dtype << ") from " << hub.config().endpoint << "/"
              << spec->repo << (hub.config().token.empty() ? "" : " with HF_TOKEN")
              << "; interrupted downloads resume when the command is run again\n";
    auto installed = PullModel(*spec, hub, options, [&bar](const PullProgress& p) { bar.Update(p); });
    bar.BreakLine();
    if (!installed) Fail("pull", installed.error());
    std::cout << "installed " << installed->name << " (" << installed->dtype << ") in " << installed->dir << "\n";
    for (const auto& file : installed->files) {
        std::cout << "  " << file.path << "  " << FormatBytes(file.size) << "  sha256 " << file.sha256 << "  ("
                  << DescribeVerification(file.verified_by) << ")\n";
    }
    std::cout << "backends: " << Join(installed->backends, "none yet") << "\n";
    if (!spec->note.empty()) std::cout << "note: " << spec->note << "\n";
    if (installed->role == "checkpoint" && !installed->backends.empty()) {
        if (const InstalledModelFile* main = MainFile(*installed)) {
            std::cout << "try: labhouse transform --model "
                      << (std::filesystem::path(installed->dir) / main->path).string()
                      << " --input photo.jpg --prompt \"a watercolor painting\" --out out.png\n";
        }
    }
}

nlohmann::json ModelJson(const InstalledModel& model) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : model.files) {
        files.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"verified_by", f.verified_by}});
    }
    return {{"name", model.name},
            {"repo", model.repo},
            {"revision", model.revision},
            {"commit", model.commit},
            {"dtype", model.dtype},
            {"role", model.role},
            {"dir", model.dir},
            {"size", model.TotalBytes()},
            {"backends", model.backends},
            {"files", files},
            {"installed_at_ms", model.installed_at_ms}};
}

void PrintCatalog(bool json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& entry : Catalog()) {
        for (const auto& variant : entry.variants) {
            std::vector<std::string> paths;
            for (const auto& file : variant.files) paths.push_back(file.path);
            list.push_back({{"name", entry.name},
                            {"repo", entry.repo},
                            {"dtype", variant.dtype},
                            {"role", entry.role},
                            {"files", paths},
                            {"backends", variant.backends},
                            {"note", variant.note},
                            {"pull", PullCommandFor(entry.name, variant.dtype)}});
            if (json) continue;
            std::printf("%-18s %-5s %-12s %-42s %s\n", entry.name.c_str(), variant.dtype.c_str(), entry.role.c_str(),
                        entry.repo.c_str(), variant.note.c_str());
        }
    }
    if (json) std::cout << list.dump(2) << "\n";
}

void RunList(const ModelsArgs& args) {
    InstallLogSink(ParseLevel(args.log_level), nullptr);
    if (args.available) return PrintCatalog(args.json);
    auto models = ListInstalled(args.ModelsDir());
    if (!models) Fail("list", models.error());
    if (args.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& model : *models) list.push_back(ModelJson(model));
        std::cout << nlohmann::json{{"models_dir", std::filesystem::absolute(args.ModelsDir()).string()},
                                    {"models", list}}
                         .dump(2)
                  << "\n";
        return;
    }
    if (models->empty()) {
        std::cout << "no models installed in " << args.ModelsDir() << " (see `labhouse models list --available`)\n";
        return;
    }
    std::printf("%-28s %-5s %10s  %-16s %-10s %s\n", "NAME", "DTYPE", "SIZE", "SHA256", "BACKENDS", "PATH");
    for (const auto& model : *models) {
        const InstalledModelFile* main = MainFile(model);
        const std::string sha = main != nullptr ? main->sha256.substr(0, 16) : "-";
        const std::string path = main != nullptr ? (std::filesystem::path(model.dir) / main->path).string() : model.dir;
        std::printf("%-28s %-5s %10s  %-16s %-10s %s\n", model.name.c_str(), model.dtype.c_str(),
                    FormatBytes(model.TotalBytes()).c_str(), sha.c_str(), Join(model.backends, "-").c_str(),
                    path.c_str());
    }
}

// The pull that (re)installs an entry; `<org>/<repo>` entries need their files named again.
std::string ReinstallCommand(const InstalledModel& model) {
    std::string command = PullCommandFor(model.name, model.dtype);
    if (FindCatalogEntry(model.name) == nullptr) {
        for (const auto& file : model.files) command += " --file " + file.path;
        if (!model.revision.empty() && model.revision != "main") command += " --revision " + model.revision;
    }
    return command;
}

void RunVerify(const ModelsArgs& args) {
    InstallLogSink(ParseLevel(args.log_level), nullptr);
    ProgressBar bar(stderr, ::isatty(STDERR_FILENO) == 1);
    auto started = std::chrono::steady_clock::now();
    std::string current;
    auto reports = VerifyInstalled(
        args.ModelsDir(), args.name, args.dtype, [&](const std::string& file, std::int64_t done, std::int64_t total) {
            if (file != current) {
                current = file;
                started = std::chrono::steady_clock::now();
            }
            PullProgress p;
            p.file = "hashing " + file;
            p.file_index = p.file_count = 1;
            p.done = p.session_bytes = done;
            p.total = total;
            p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            bar.Update(p);
        });
    bar.BreakLine();
    if (!reports) Fail("verify", reports.error());
    bool all_ok = true;
    std::string fix;
    for (const auto& report : *reports) {
        std::cout << report.model.name << " (" << report.model.dtype << ") in " << report.model.dir << "\n";
        for (const auto& file : report.files) {
            std::string status = "ok";
            if (file.problem == "missing") status = "MISSING";
            if (file.problem == "size") {
                status = "SIZE MISMATCH (" + std::to_string(file.actual_size) + " bytes, expected " +
                         std::to_string(file.expected_size) + ")";
            }
            if (file.problem == "checksum") status = "CHECKSUM MISMATCH (sha256 " + file.actual_sha256 + ")";
            std::cout << "  " << file.path << "  " << status << "\n";
        }
        if (!report.ok()) fix += (fix.empty() ? "" : "; ") + ReinstallCommand(report.model);
        all_ok = all_ok && report.ok();
    }
    if (!all_ok) Fail("verify", Unavailable("damaged files; reinstall with: " + fix));
    std::cout << "all files match the SHA-256 recorded at install\n";
}

void RunRemove(const ModelsArgs& args) {
    InstallLogSink(ParseLevel(args.log_level), nullptr);
    auto removed = RemoveInstalled(args.ModelsDir(), args.name, args.dtype);
    if (!removed) Fail("rm", removed.error());
    for (const auto& model : *removed) {
        std::cout << "removed " << model.name << " (" << model.dtype << ", " << FormatBytes(model.TotalBytes())
                  << ") from " << model.dir << "\n";
    }
}

void AddDirOption(CLI::App& command, ModelsArgs& args) {
    command.add_option("--dir", args.command_dir, std::string("Models directory (default: ") + kDefaultModelsDirHelp + ")")
        ->envname("LABHOUSE_MODELS_DIR");
}

}  // namespace

CLI::App* AddModelsCommands(CLI::App& app) {
    auto args = std::make_shared<ModelsArgs>();
    CLI::App* models =
        app.add_subcommand("models", "Pull, list, verify and remove model weights from the Hugging Face hub");
    models->require_subcommand(1);
    models->add_option("--dir", args->group_dir, std::string("Models directory (default: ") + kDefaultModelsDirHelp + ")")
        ->envname("LABHOUSE_MODELS_DIR");
    models->add_option("--log-level", args->log_level, "debug, info, warn or error (on stderr)")
        ->envname("LABHOUSE_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    // Subcommands (which inherit this) hand options they do not know (--log-level) to `models`, so
    // those may follow the subcommand too; what `models` does not know either is still an error.
    models->fallthrough();

    CLI::App* pull = models->add_subcommand(
        "pull",
        "Download a model (resumable, verified). Environment: HF_TOKEN for gated repos, HF_ENDPOINT for a mirror");
    pull->add_option("name", args->name, "Catalog name (see `models list --available`) or <org>/<repo> with --file")
        ->required();
    pull->add_option("--dtype", args->dtype, "fp16 (default: half the download, for GPUs) or fp32")
        ->check(CLI::IsMember({"fp16", "fp32"}));
    pull->add_option("--file", args->files, "For <org>/<repo>: a file to fetch (repeatable)");
    pull->add_option("--revision", args->revision, "Branch, tag or commit")->capture_default_str();
    pull->add_option("--retries", args->retries, "Retries per file after a dropped connection (each resumes)")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    AddDirOption(*pull, *args);
    pull->callback([args] { RunPull(*args); });

    CLI::App* list =
        models->add_subcommand("list", "List installed models (size, SHA-256, backends that can use them)");
    list->add_flag("--json", args->json, "Machine-readable output");
    list->add_flag("--available", args->available, "List the catalog instead of what is installed");
    AddDirOption(*list, *args);
    list->callback([args] { RunList(*args); });

    CLI::App* verify = models->add_subcommand("verify", "Re-hash an installed model's files against the manifest");
    verify->add_option("name", args->name, "Installed model name")->required();
    verify->add_option("--dtype", args->dtype, "Only this variant")->check(CLI::IsMember({"fp16", "fp32", "any"}));
    AddDirOption(*verify, *args);
    verify->callback([args] { RunVerify(*args); });

    CLI::App* rm = models->add_subcommand("rm", "Delete an installed model's files");
    rm->add_option("name", args->name, "Installed model name")->required();
    rm->add_option("--dtype", args->dtype, "Only this variant")->check(CLI::IsMember({"fp16", "fp32", "any"}));
    AddDirOption(*rm, *args);
    rm->callback([args] { RunRemove(*args); });
    models->fallthrough(false);  // only the subcommands inherit it: `models` passes nothing to the root
    return models;
}

}  // namespace labhouse::models
