// labhouse: one binary, subcommands. Each subcommand's options are declared where it is built.
#include <iostream>

#include <CLI/CLI.hpp>

#include "labhouse/app/access_config.h"
#include "labhouse/app/config.h"
#include "labhouse/app/run_worker.h"
#include "labhouse/app/serve.h"
#include "labhouse/models/cli/models_commands.h"
#ifdef LABHOUSE_HAVE_TORCH
#include "labhouse/engine/cli/engine_commands.h"
#endif
#ifdef LABHOUSE_HAVE_PIX2PIX
#include "labhouse/pix2pix/cli/pix2pix_commands.h"
#endif

int main(int argc, char** argv) {
    CLI::App app{"labhouse: a self-hosted photo-transformation service"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "labhouse 0.1.0");

    labhouse::app::AppConfig config;
    CLI::App* serve = app.add_subcommand("serve", "Run the REST API, web UI and embedded workers");
    labhouse::app::AddServeOptions(*serve, config);
    CLI::App* migrate = app.add_subcommand("migrate", "Apply pending database migrations");
    labhouse::app::AddStorageOptions(*migrate, config);
    // Takes the serve options, so every backend option reaches workers too; --host/--port are unused.
    CLI::App* worker = app.add_subcommand("worker", "Run worker processes only (scale-out: PostgreSQL + Redis)");
    labhouse::app::AddServeOptions(*worker, config);
    // pull/list/verify/rm run from their own callbacks during parse; other libraries may add more.
    [[maybe_unused]] CLI::App* models = labhouse::models::AddModelsCommands(app);
    labhouse::app::AddKeysCommands(app);  // create/list/revoke run from their own callbacks during parse
#ifdef LABHOUSE_HAVE_TORCH
    labhouse::engine::AddTransformCommand(app);  // runs from its own callback during parse
    labhouse::engine::AddMakeTinyCommand(*models);
#endif
#ifdef LABHOUSE_HAVE_PIX2PIX
    labhouse::pix2pix::AddPix2PixCommands(app);  // train / make-pairs run from their own callbacks
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    CLI::App* chosen = app.get_subcommands().front();
    if (chosen != serve && chosen != migrate && chosen != worker) return 0;
    if (auto env = labhouse::app::CheckUnknownEnvironment(*chosen); !env) {
        std::cerr << "labhouse: " << env.error().message << "\n";
        return 2;
    }
    if (chosen == serve) return labhouse::app::RunServe(config);
    if (chosen == migrate) return labhouse::app::RunMigrate(config);
    if (chosen == worker) return labhouse::app::RunWorker(config);
    return 0;
}
