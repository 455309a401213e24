// labhouse: one binary, subcommands. Each subcommand's options are declared where it is built.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string_view>

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

namespace {

// OpenMP threads that spin between parallel regions steal the cores from each other and from every
// other process: on a busy 2-core machine a small op took 15 ms instead of 0.01 ms (docs/engine.md).
// libgomp reads OMP_WAIT_POLICY once, before main, so the only way to default it is to set it and
// start this same program again (same pid, same arguments). That costs a second static
// initialisation of libtorch, so it is done only for the subcommands that run the engine, and an
// explicit setting is left alone.
void DefaultOpenMpWaitPolicy(int argc, char** argv) {
#ifdef LABHOUSE_HAVE_TORCH
    if (argc < 2 || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
    const std::string_view subcommand = argv[1];
    if (subcommand != "serve" && subcommand != "worker" && subcommand != "transform") return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // execv only returns on failure: run on with the spinning default.
#else
    (void)argc;
    (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
    DefaultOpenMpWaitPolicy(argc, argv);
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
