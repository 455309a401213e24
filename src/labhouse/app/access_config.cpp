#include "labhouse/app/access_config.h"

#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "labhouse/app/access_storage.h"
#include "labhouse/core/usecases/access_control.h"

namespace labhouse::app {
namespace {

[[noreturn]] void FailCommand(const Error& error) {
    std::cerr << "labhouse keys: " << error.message << "\n";
    throw CLI::RuntimeError(error.code == ErrorCode::kInvalidArgument ? 2 : 1);
}

// The keys of the database `serve` uses: the SQLite file in the data dir, or PostgreSQL.
std::unique_ptr<KeyRepository> OpenKeys(const AppConfig& config) {
    std::error_code ec;
    if (!config.UsesPostgres()) std::filesystem::create_directories(config.data_dir, ec);
    auto keys = OpenKeyRepository(config);
    if (!keys) FailCommand(keys.error());
    return std::move(*keys);
}

std::string FormatTime(std::int64_t ms) {
    if (ms <= 0) return "-";
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

std::string Limit(int value, const char* unit) { return value == 0 ? "unlimited" : std::to_string(value) + unit; }

}  // namespace

bool IsLoopbackHost(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status ValidateAccess(const AppConfig& config) {
    if (config.auth != "open" && config.auth != "keys") return InvalidArgument("auth must be open or keys");
    if (config.auth == "open" && !IsLoopbackHost(config.host) && !config.allow_open_on_public_address) {
        return FailedPrecondition("refusing to serve without API keys on " + config.host +
                                  ": anyone who can reach it could use it. Set LABHOUSE_AUTH=keys (and create a key "
                                  "with `labhouse keys create`), or pass --allow-open-on-public-address");
    }
    return OkStatus();
}

void AddAccessOptions(CLI::App& command, AppConfig& c) {
    command.add_option("--auth", c.auth, "open (no keys; loopback only unless forced) or keys (Bearer API keys)")
        ->envname("LABHOUSE_AUTH")
        ->capture_default_str();
    command.add_flag("--allow-open-on-public-address", c.allow_open_on_public_address,
                     "Allow auth=open on a non-loopback --host (only behind your own authenticating proxy)")
        ->envname("LABHOUSE_ALLOW_OPEN");
    command.add_option("--webhook-secret", c.webhook_secret,
                       "HMAC-SHA256 key that signs webhooks; set the variable, not the flag (command lines show)")
        ->envname("LABHOUSE_WEBHOOK_SECRET");
    command.add_flag("--webhook-allow-private", c.webhook_allow_private,
                     "Allow webhook URLs on loopback, private and link-local addresses")
        ->envname("LABHOUSE_WEBHOOK_ALLOW_PRIVATE");
}

CLI::App* AddKeysCommands(CLI::App& app) {
    auto config = std::make_shared<AppConfig>();
    CLI::App* keys = app.add_subcommand("keys", "Create, list and revoke API keys (for LABHOUSE_AUTH=keys)");
    keys->require_subcommand(1);

    struct CreateArgs {
        std::string name;
        bool admin = false;
        int rate = 0;
        int daily_jobs = 0;
    };
    auto create_args = std::make_shared<CreateArgs>();
    CLI::App* create = keys->add_subcommand("create", "Create a key; its secret is printed once");
    AddStorageOptions(*create, *config);
    create->add_option("--name", create_args->name, "Who or what the key is for")->required();
    create->add_flag("--admin", create_args->admin, "Sees and manages every key's jobs");
    create->add_option("--rate", create_args->rate, "Requests per minute (0 = unlimited)")->capture_default_str();
    create->add_option("--daily-jobs", create_args->daily_jobs, "Jobs per UTC day (0 = unlimited)")
        ->capture_default_str();
    create->callback([config, create_args] {
        auto repo = OpenKeys(*config);
        SystemClock clock;
        auto created = CreateApiKey(*repo, clock, create_args->name,
                                    {create_args->admin, create_args->rate, create_args->daily_jobs});
        if (!created) FailCommand(created.error());
        std::cout << "id: " << created->key.id << "\n"
                  << "name: " << created->key.name << "\n"
                  << "admin: " << (created->key.admin ? "yes" : "no") << "\n"
                  << "rate: " << Limit(created->key.rate_per_minute, "/min") << "\n"
                  << "daily jobs: " << Limit(created->key.daily_jobs, "/day") << "\n"
                  << "secret: " << created->secret << "\n"
                  << "The secret is shown only now; labhouse stores only its hash.\n";
    });

    CLI::App* list = keys->add_subcommand("list", "List keys (never their secrets)");
    AddStorageOptions(*list, *config);
    list->callback([config] {
        auto repo = OpenKeys(*config);
        auto all = repo->List();
        if (!all) FailCommand(all.error());
        std::cout << std::left << std::setw(22) << "ID" << std::setw(20) << "NAME" << std::setw(13) << "PREFIX"
                  << std::setw(7) << "ADMIN" << std::setw(12) << "RATE" << std::setw(12) << "DAILY JOBS"
                  << std::setw(22) << "CREATED" << "STATUS\n";
        for (const ApiKey& key : *all) {
            std::cout << std::setw(22) << key.id << std::setw(20) << key.name.substr(0, 19) << std::setw(13)
                      << key.prefix + "..." << std::setw(7) << (key.admin ? "yes" : "no") << std::setw(12)
                      << Limit(key.rate_per_minute, "/min") << std::setw(12) << Limit(key.daily_jobs, "/day")
                      << std::setw(22) << FormatTime(key.created_ms)
                      << (key.revoked() ? "revoked " + FormatTime(key.revoked_ms) : "active") << "\n";
        }
    });

    auto revoke_id = std::make_shared<std::string>();
    CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key; it stops working at the next request");
    AddStorageOptions(*revoke, *config);
    revoke->add_option("id", *revoke_id, "The key id (from `labhouse keys list`)")->required();
    revoke->callback([config, revoke_id] {
        auto repo = OpenKeys(*config);
        SystemClock clock;
        auto key = repo->Revoke(*revoke_id, clock.NowMs());
        if (!key) FailCommand(key.error());
        std::cout << "revoked " << key->id << " (" << key->name << ") at " << FormatTime(key->revoked_ms) << "\n";
    });
    return keys;
}

}  // namespace labhouse::app
