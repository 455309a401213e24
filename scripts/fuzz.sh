#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and runs each, one after the
# other on one core, for FUZZ_SECONDS (default 60), starting from the seed corpora in
# tests/fuzz/corpus. New inputs go to build-fuzz/corpus/<target>, crashes, leaks, timeouts and
# out-of-memory inputs to build-fuzz/findings/. Exits non-zero on any finding.
# `make test` runs it with FUZZ_SECONDS=10 (a smoke run); long runs: docs/hardening.md.
# Usage: scripts/fuzz.sh [target...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
build=build-fuzz
all_targets=(fuzz_image fuzz_png_text fuzz_job_json fuzz_safetensors fuzz_tokenizer
             fuzz_stability_response fuzz_hub_response fuzz_config fuzz_api_request fuzz_compat_request)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLABHOUSE_FUZZ=ON -DLABHOUSE_WITH_TORCH=OFF -DLABHOUSE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  echo "=== $t for ${seconds}s"
  # halt_on_error: UBSan only prints by default, which libFuzzer would not count as a finding.
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=25 \
      -artifact_prefix="$build/findings/$t-" -print_final_stats=1 \
      "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$build/$t.log" 2>&1; then
    status=1
    echo "FINDING in $t (log: $build/$t.log):"
    grep -A30 -m1 "ERROR\|runtime error\|deadly signal" "$build/$t.log" || tail -40 "$build/$t.log"
  fi
  grep "stat::number_of_executed_units\|stat::average_exec_per_sec" "$build/$t.log" | tr '\n' ' '
  echo
done
exit $status
