#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and runs each for
# FUZZ_SECONDS (default 60), starting from the seed corpora in tests/fuzz/corpus. New inputs go to
# build-fuzz/corpus/<target>, crashes to build-fuzz/findings/. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
build=build-fuzz
targets=(fuzz_image fuzz_png_text fuzz_job_json fuzz_safetensors fuzz_tokenizer)
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLABHOUSE_FUZZ=ON -DLABHOUSE_WITH_TORCH=OFF -DLABHOUSE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  echo "=== $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=4096 -artifact_prefix="$build/findings/$t-" -print_final_stats=1 \
      "$build/corpus/$t" "tests/fuzz/corpus/$t" 2>&1 | tail -15; then
    status=1
  fi
done
exit $status
