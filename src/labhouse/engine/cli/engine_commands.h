// CLI hooks of the SDXL engine for the main binary (src/labhouse/app/main.cpp):
//   AddTransformCommand(app);            // labhouse transform --model F --input in.jpg --prompt ... --out out.png
//   AddMakeTinyCommand(*models_command);  // labhouse models make-tiny --out DIR
// A failing command prints "error: ..." on stderr and throws CLI::RuntimeError(1), so the usual
// `try { app.parse(argc, argv); } catch (const CLI::ParseError& e) { return app.exit(e); }` exits 1.
#pragma once

#include <CLI/CLI.hpp>

namespace labhouse::engine {

void AddTransformCommand(CLI::App& app);
void AddMakeTinyCommand(CLI::App& models_subcommand);

}  // namespace labhouse::engine
