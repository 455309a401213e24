#!/usr/bin/env bash
# SDXL engine benchmark (issue 4): one 512x512 SDXL-Turbo img2img step end to end on a full-size
# random-weight f16 checkpoint, per-stage seconds and peak RSS. The checkpoint (~7 GB) is written
# on the first run and reused: LABHOUSE_BENCH_SDXL (default /tmp/labhouse-bench/sdxl-random-f16.safetensors).
# Needs ~7 GB of disk and ~10 GB of RAM in the default low-memory mode.
set -euo pipefail
build_dir="${1:-build}"
shift || true
checkpoint="${LABHOUSE_BENCH_SDXL:-/tmp/labhouse-bench/sdxl-random-f16.safetensors}"
exec "$build_dir/bench/sdxl/sdxl_bench" "$checkpoint" "$@"
