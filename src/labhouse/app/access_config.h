// Options of the access layer (issue 10): the auth mode, the guard against an open server on a
// public address, and webhook delivery. Kept apart from config.cpp so each feature's options live
// with the feature; AddServeOptions and AppConfig::Validate call in here.
#pragma once

#include <CLI/CLI.hpp>

#include "labhouse/app/config.h"
#include "labhouse/core/base/result.h"

namespace labhouse::app {

void AddAccessOptions(CLI::App& command, AppConfig& config);
// kInvalidArgument for an unknown auth mode; kFailedPrecondition for the open mode on a
// non-loopback address without --allow-open-on-public-address.
Status ValidateAccess(const AppConfig& config);
bool IsLoopbackHost(const std::string& host);

// `labhouse keys create|list|revoke`, on the database `serve` uses (--data-dir/--database-url:
// the SQLite file or PostgreSQL).
// They run from their own callbacks during parse, like `labhouse models`.
CLI::App* AddKeysCommands(CLI::App& app);

}  // namespace labhouse::app
