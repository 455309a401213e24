// CLI hook of model management for the main binary (src/labhouse/app/main.cpp):
//
//   CLI::App* models = labhouse::models::AddModelsCommands(app);
//   // other libraries may add their own: labhouse::engine::AddMakeTinyCommand(*models);
//
// creates `labhouse models` with `pull`, `list`, `verify` and `rm`. The models dir is --dir (on
// each subcommand, or before it) or LABHOUSE_MODELS_DIR, default ./data/models. The hub is
// HF_ENDPOINT (default https://huggingface.co), authenticated with HF_TOKEN when set.
// A failing command prints "labhouse models <cmd>: error: ..." on stderr and throws
// CLI::RuntimeError(code) (2 for bad arguments, 1 otherwise), so the usual
// `catch (const CLI::ParseError& e) { return app.exit(e); }` exits with that code.
#pragma once

#include <CLI/CLI.hpp>

namespace labhouse::models {

CLI::App* AddModelsCommands(CLI::App& app);

}  // namespace labhouse::models
