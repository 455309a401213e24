#!/usr/bin/env bash
# Builds the tests with a sanitizer in a build dir of their own and runs them under ctest (with
# the services scripts/run-tests.sh starts). Reports and suppressions: docs/hardening.md.
#   address: AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), every test built
#            without libtorch (LABHOUSE_WITH_TORCH=OFF), in build-asan.
#   thread:  ThreadSanitizer over the queue, worker, event bus/fanout, job runner and job
#            repository tests only (the concurrent code), in build-tsan.
# Usage: scripts/sanitizer-tests.sh address|thread [extra ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/sanitizer-tests.sh address|thread}"
shift
root="$PWD"
jobs="${JOBS:-$(nproc)}"
case "$kind" in
  address)
    build=build-asan
    targets=(all)
    select=()
    ;;
  thread)
    build=build-tsan
    # Use cases (job runner, in-process queue and event bus, worker lease recovery), the job
    # repository contract (SQLite, PostgreSQL) and the Redis queue and event bus.
    targets=(usecase_tests sqlite_contract_tests postgres_contract_tests redis_tests)
    # Only GoogleTest cases (Suite.Name): not the placeholders gtest_discover_tests adds for the
    # suites not built here (<target>_NOT_BUILT), nor tests that need the labhouse binary.
    select=(-R '\.')
    ;;
  *)
    echo "unknown sanitizer '$kind' (address or thread)" >&2
    exit 2
    ;;
esac

# -O1 -g1: usable stack traces at a fraction of -O0's run time; no libtorch (docs/hardening.md).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLABHOUSE_SANITIZE="$kind" -DLABHOUSE_WITH_TORCH=OFF >/dev/null
# Suites whose adapter is not built (no libpqxx, no hiredis) have no target: skip them.
known=$(cmake --build "$build" --target help)
for target in "${targets[@]}"; do
  if [ "$target" = all ] || grep -q "^$target:" <<<"$known"; then
    cmake --build "$build" -j "$jobs" --target "$target"
  fi
done

supp="$root/tests/sanitizers"
export ASAN_OPTIONS="detect_leaks=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
scripts/run-tests.sh "$build" "${select[@]}" "$@"
