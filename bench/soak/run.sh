#!/usr/bin/env bash
# Soak benchmark (issue 11): SOAK_SECONDS (60) of wrk at SOAK_CONNECTIONS (200) on job reads and
# listings while classic jobs are submitted the whole time. Reports errors (non-2xx and socket
# errors from wrk, failed submissions), lost jobs (accepted submissions that never reach a terminal
# state), the server's RSS at the start and end of the soak, and p99 latency, with a ratio against
# a short baseline (same reads, no submissions) measured in the same run on the same server.
# Usage: bench/soak/run.sh [build-dir]
set -euo pipefail
build_dir="${1:-build}"
bin="$(cd "$build_dir" && pwd)/labhouse"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d /tmp/labhouse-soak.XXXXXX)
seconds="${SOAK_SECONDS:-60}"
connections="${SOAK_CONNECTIONS:-200}"
baseline_seconds="${SOAK_BASELINE_SECONDS:-10}"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --data-dir "$work/data" --workers 1 --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "machine: $(nproc) cores, load average at start $(load)"
# Seed: 30 finished jobs for reads and listings.
python3 "$here/submit.py" "$base" seed 30 "$work/seed-ids.txt"
rss_before_warmup=$(rss_kb)

# Baseline: the same read mix, no submissions. It also warms the server up (threads, caches), so
# the soak's starting RSS is that of a server that has already served this load.
wrk -t2 -c"$connections" -d"${baseline_seconds}s" --latency -s "$here/reads.lua" "$base" -- "$work/seed-ids.txt" \
  >"$work/baseline.txt"
rss_start=$(rss_kb)

python3 "$here/submit.py" "$base" run "$seconds" "$work/soak-ids.txt" >"$work/submit.txt" &
submit_pid=$!
pids+=("$submit_pid")
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$here/reads.lua" "$base" -- "$work/seed-ids.txt" \
  >"$work/soak.txt"
wait "$submit_pid"
rss_end=$(rss_kb)

# Every accepted submission must reach a terminal state.
python3 "$here/submit.py" "$base" check 300 "$work/soak-ids.txt" >"$work/check.txt"
rss_drained=$(rss_kb)

summary() {  # wrk output -> "requests rps p99 non2xx socket_errors"
  awk '
    /requests in/ {req=$1}
    /Requests\/sec/ {rps=$2}
    $1 == "99%" {p99=$2}
    /Non-2xx or 3xx responses/ {non2xx=$5}
    /Socket errors/ {gsub(",", ""); sock=$4+$6+$8+$10}
    END {printf "%s %s %s %d %d\n", req, rps, p99, non2xx, sock}' "$1"
}
read -r b_req b_rps b_p99 b_non2xx b_sock < <(summary "$work/baseline.txt")
read -r s_req s_rps s_p99 s_non2xx s_sock < <(summary "$work/soak.txt")
echo "baseline (${baseline_seconds} s, reads only): $b_req requests, $b_rps req/s, p99 $b_p99, non-2xx $b_non2xx, socket errors $b_sock"
echo "soak (${seconds} s, ${connections} connections, reads + submissions): $s_req requests, $s_rps req/s, p99 $s_p99, non-2xx $s_non2xx, socket errors $s_sock"
grep -h "Socket errors" "$work/baseline.txt" "$work/soak.txt" | sed 's/^ */  wrk (baseline, soak): /' || true
cat "$work/submit.txt" "$work/check.txt"
python3 - "$b_p99" "$s_p99" "$b_rps" "$s_rps" "$rss_before_warmup" "$rss_start" "$rss_end" "$rss_drained" <<'PY'
import sys
def ms(t):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if t.endswith(unit): return float(t[:-len(unit)]) * f
    return float(t)
b_p99, s_p99 = ms(sys.argv[1]), ms(sys.argv[2])
b_rps, s_rps = float(sys.argv[3]), float(sys.argv[4])
before, start, end, drained = (int(x) for x in sys.argv[5:9])
print(f"ratio soak/baseline     : p99 {s_p99 / b_p99:.2f}x, throughput {s_rps / b_rps:.2f}x")
print(f"RSS                     : {before / 1024:.1f} MiB before warm-up, {start / 1024:.1f} MiB at soak start, "
      f"{end / 1024:.1f} MiB at soak end ({(end - start) * 100.0 / start:+.1f}%), {drained / 1024:.1f} MiB after the queue drained")
PY
echo "load average at end $(load)"
status=0
[ "$s_non2xx" -eq 0 ] && [ "$s_sock" -eq 0 ] || { echo "FAIL: wrk saw errors"; status=1; }
grep -q "^lost 0$" "$work/check.txt" || { echo "FAIL: lost jobs"; status=1; }
grep -q "^submit errors 0$" "$work/submit.txt" || { echo "FAIL: submission errors"; status=1; }
exit $status
