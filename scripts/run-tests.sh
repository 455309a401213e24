#!/usr/bin/env bash
# Runs every test under ctest. Services the tests need (PostgreSQL, Redis, nginx) are started on
# loopback by scripts/test-services.sh and stopped on exit, whatever happens.
# Usage: scripts/run-tests.sh [build-dir] [extra ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true

if [ -x scripts/test-services.sh ]; then
  scripts/test-services.sh start
  trap 'scripts/test-services.sh stop' EXIT
  # shellcheck disable=SC1091
  [ -f "${LABHOUSE_TEST_ENV_FILE:-/tmp/labhouse-test-services/env}" ] && . "${LABHOUSE_TEST_ENV_FILE:-/tmp/labhouse-test-services/env}"
fi

jobs=$(nproc)
# ctest runs suites side by side: OpenMP threads that spin would steal each other's cores. Set here,
# the server processes the tests start inherit it and skip labhouse's own re-exec that defaults it.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600 "$@"
