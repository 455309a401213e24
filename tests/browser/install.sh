#!/usr/bin/env bash
# Installs the browser tests' npm packages (playwright-core) from package-lock.json with `npm ci`.
# Offline-safe: when node_modules already matches the lock file it does nothing (no network).
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/browser: node and npm (Node 20 or newer) are needed for the browser tests" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "tests/browser: Node $(node --version) is too old; playwright-core needs Node 20 or newer" >&2
  exit 1
fi
stamp="$dir/node_modules/.labhouse-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dir/node_modules/playwright-core" ]; then
  exit 0
fi
npm ci --prefix "$dir" --no-audit --no-fund
echo "$want" > "$stamp"
