#!/usr/bin/env bash
# Runs the benchmarks. Each prints its figures and ratios against a baseline measured in the same
# run. Usage: bench/run.sh [build-dir] [name...]   (names: api, scaleout, soak, and those other bench/*/run.sh add)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(api scaleout soak)
fi
for name in "${names[@]}"; do
  echo "=== bench: $name"
  "bench/$name/run.sh" "$build_dir"
done
