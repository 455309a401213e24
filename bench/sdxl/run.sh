#!/usr/bin/env bash
# SDXL engine benchmark (issues 4 and 5): one 512x512 SDXL-Turbo img2img (2 steps x strength 0.5 =
# one UNet pass) end to end on a full-size random-weight f16 checkpoint, in low-memory mode and
# then in fast mode, each with per-stage wall/CPU seconds, GFLOP/s against the reference FLOPs and
# as a fraction of a same-run sgemm, minor page faults and peak RSS. The checkpoint (~7 GB) is
# written on the first run and reused: LABHOUSE_BENCH_SDXL (default
# /tmp/labhouse-bench/sdxl-random-f16.safetensors). Needs ~7 GB of disk, ~9 GB of RAM for the
# low-memory run and ~16 GB for the fast one.
#
#   bench/sdxl/run.sh BUILD_DIR [--modes "low fast taesd"] [--micro] [--vae-tiling [--vae-size 1024]]
#                     [other sdxl_bench options]
#
# Modes: low (low-memory weights), fast (fp32 weights), taesd (low-memory, decoded by TAESDXL with
# random weights of its architecture instead of the SDXL VAE).
#
# --micro also times single full-size modules (bench/sdxl/sdxl_micro.cpp) against the sgemm.
# --vae-tiling times the VAE alone (bench/sdxl/vae_bench.cpp, low-memory weights) at --vae-size
# (default 1024) untiled and then with tiles of at most 512 px, one process each, with each stage's
# peak RSS; "--modes none" skips the img2img runs.
# OMP_WAIT_POLICY defaults to passive: with spinning OpenMP threads every small parallel op
# stalled on a shared 2-core machine (docs/engine.md, "Threads").
set -euo pipefail
build_dir="${1:-build}"
shift || true
modes="low fast taesd"
micro=0
vae_tiling=0
vae_size=1024
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --modes) modes="$2"; shift 2 ;;
    --micro) micro=1; shift ;;
    --vae-tiling) vae_tiling=1; shift ;;
    --vae-size) vae_size="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
checkpoint="${LABHOUSE_BENCH_SDXL:-/tmp/labhouse-bench/sdxl-random-f16.safetensors}"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
for mode in $modes; do
  [[ "$mode" == none ]] && continue
  flag=()
  [[ "$mode" == fast ]] && flag=(--fast)
  [[ "$mode" == taesd ]] && flag=(--decoder taesd)
  echo "=== mode $mode ==="
  "$build_dir/bench/sdxl/sdxl_bench" "$checkpoint" "${flag[@]}" "${args[@]}"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
if [[ $micro == 1 ]]; then
  echo "=== single modules ==="
  "$build_dir/bench/sdxl/sdxl_micro" "$checkpoint"
fi
if [[ $vae_tiling == 1 ]]; then
  for tile in -1 512; do
    echo "=== VAE alone at ${vae_size}x${vae_size}, vae_tile $tile ==="
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$build_dir/bench/sdxl/sdxl_vae_bench" "$checkpoint" --size "$vae_size" --vae-tile "$tile"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  done
fi
