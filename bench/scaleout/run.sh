#!/usr/bin/env bash
# Scale-out benchmark: classic jobs per second end to end (submit -> succeeded) with 1, 2 and 4
# workers on PostgreSQL + Redis (2 API nodes behind nginx, N `labhouse worker` processes) against
# the SQLite embedded mode (`labhouse serve --workers N`) in the same run, then API requests per
# second through nginx (wrk). Everything runs on loopback and is stopped at the end.
# Usage: bench/scaleout/run.sh [build-dir]      env: JOBS (200), CLIENTS (8), WORKERS ("1 2 4")
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
build_dir="$(cd "${1:-build}" && pwd)"
bin="$build_dir/labhouse"
jobs="${JOBS:-200}"
clients="${CLIENTS:-8}"
worker_counts="${WORKERS:-1 2 4}"
work="$(mktemp -d /tmp/labhouse-bench-scaleout.XXXXXX)"
pids=()
started_services=0

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_services" = 1 ]; then scripts/test-services.sh stop; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${LABHOUSE_TEST_PG_DSN:-}" ] || [ -z "${LABHOUSE_TEST_REDIS_URL:-}" ]; then
  if ! scripts/test-services.sh status | grep -q "postgres up"; then started_services=1; fi
  scripts/test-services.sh start
  # shellcheck disable=SC1091
  . /tmp/labhouse-test-services/env
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A small photo: the benchmark measures the system, not the effect.
python3 - "$work/in.png" <<'PY'
import struct, sys, zlib
w, h = 96, 64
raw = b''.join(b'\x00' + bytes((x * 3 + y * 5 + c * 40) % 256 for x in range(w) for c in range(3)) for y in range(h))
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                              + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY

wait_http() {
  for _ in $(seq 1 200); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "not ready: $1" >&2; return 1
}

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

fresh_database() {
  local name="lh_bench_$1"
  psql -q "$LABHOUSE_TEST_PG_DSN" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
  echo "${LABHOUSE_TEST_PG_DSN%/*}/$name"
}

start_nginx() {  # $1 = port, rest = upstream ports
  local port="$1"; shift
  mkdir -p "$work/nginx/logs"
  {
    [ "$(id -u)" = 0 ] && echo "user root;"
    echo "worker_processes 2; pid $work/nginx/nginx.pid; error_log $work/nginx/logs/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off; client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;"
    echo "  fastcgi_temp_path $work/nginx/f; uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;"
    echo "  upstream labhouse_api {"
    for p in "$@"; do echo "    server 127.0.0.1:$p max_fails=3 fail_timeout=10s;"; done
    echo "    keepalive 32; }"
    echo "  server { listen 127.0.0.1:$port; include $root/deploy/nginx/labhouse-proxy.conf; } }"
  } >"$work/nginx/nginx.conf"
  nginx -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" -g "daemon off;" &
  pids+=($!)
}

declare -A embedded scaleout
echo "jobs=$jobs clients=$clients cpus=$(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"

for n in $worker_counts; do
  # Embedded: one process, SQLite, n worker threads.
  port=$(free_port)
  LABHOUSE_LOG_LEVEL=warn "$bin" serve --port "$port" --workers "$n" --data-dir "$work/embedded-$n" \
    >"$work/embedded-$n.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port"
  read -r _ secs rate < <(python3 bench/scaleout/load.py "http://127.0.0.1:$port" "$jobs" "$clients" "$work/in.png" cartoon)
  embedded[$n]=$rate
  stop_all

  # Scale-out: 2 API nodes behind nginx, n worker processes, PostgreSQL + Redis.
  db_url=$(fresh_database "$n")
  redis-cli -u "$LABHOUSE_TEST_REDIS_URL" DEL labhouse:jobs labhouse:events >/dev/null
  export LABHOUSE_DATABASE_URL="$db_url" LABHOUSE_QUEUE_URL="$LABHOUSE_TEST_REDIS_URL" LABHOUSE_LOG_LEVEL=warn
  api_ports=()
  for a in 1 2; do
    p=$(free_port)
    "$bin" serve --port "$p" --workers 0 --data-dir "$work/api-$n-$a" >"$work/api-$n-$a.log" 2>&1 &
    pids+=($!)
    api_ports+=("$p")
  done
  for p in "${api_ports[@]}"; do wait_http "http://127.0.0.1:$p"; done
  for w in $(seq 1 "$n"); do
    "$bin" worker --workers 1 --data-dir "$work/worker-$n-$w" >"$work/worker-$n-$w.log" 2>&1 &
    pids+=($!)
  done
  nginx_port=$(free_port)
  start_nginx "$nginx_port" "${api_ports[@]}"
  wait_http "http://127.0.0.1:$nginx_port"
  read -r _ secs rate < <(python3 bench/scaleout/load.py "http://127.0.0.1:$nginx_port" "$jobs" "$clients" "$work/in.png" cartoon)
  scaleout[$n]=$rate

  if [ "$n" = "$(echo "$worker_counts" | awk '{print $NF}')" ]; then
    # API throughput on the same cluster: a job's status through nginx (2 nodes, PostgreSQL) and
    # the health endpoint (no database), 10 s each.
    id=$(curl -fsS "http://127.0.0.1:$nginx_port/api/v1/jobs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
    api_get=$(wrk -t2 -c32 -d10s "http://127.0.0.1:$nginx_port/api/v1/jobs/$id" | awk '/Requests\/sec/{print $2}')
    api_health=$(wrk -t2 -c32 -d10s "http://127.0.0.1:$nginx_port/healthz" | awk '/Requests\/sec/{print $2}')
    direct_get=$(wrk -t2 -c32 -d10s "http://127.0.0.1:${api_ports[0]}/api/v1/jobs/$id" | awk '/Requests\/sec/{print $2}')
  fi
  stop_all
  unset LABHOUSE_DATABASE_URL LABHOUSE_QUEUE_URL LABHOUSE_LOG_LEVEL
  psql -q "$LABHOUSE_TEST_PG_DSN" -c "DROP DATABASE IF EXISTS lh_bench_$n WITH (FORCE)"
done

# The same GET against the embedded server, for comparison.
port=$(free_port)
"$bin" serve --port "$port" --workers 1 --data-dir "$work/embedded-api" >"$work/embedded-api.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port"
python3 bench/scaleout/load.py "http://127.0.0.1:$port" 1 1 "$work/in.png" cartoon >/dev/null
id=$(curl -fsS "http://127.0.0.1:$port/api/v1/jobs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
embedded_get=$(wrk -t2 -c32 -d10s "http://127.0.0.1:$port/api/v1/jobs/$id" | awk '/Requests\/sec/{print $2}')
stop_all

echo
echo "classic jobs/s end to end ($jobs jobs, $clients clients, 96x64 cartoon):"
printf '  %-8s %-22s %-32s %s\n' workers "embedded (SQLite)" "scale-out (PG+Redis, nginx, 2 API)" ratio
for n in $worker_counts; do
  ratio=$(python3 -c "print(f'{${scaleout[$n]}/${embedded[$n]}:.2f}x')")
  printf '  %-8s %-22s %-32s %s\n' "$n" "${embedded[$n]}" "${scaleout[$n]}" "$ratio"
done
echo "API req/s (wrk -t2 -c32 -d10s):"
echo "  GET /api/v1/jobs/{id} through nginx -> 2 API nodes (PostgreSQL): $api_get"
echo "  GET /api/v1/jobs/{id} direct to one API node (PostgreSQL):        $direct_get"
echo "  GET /api/v1/jobs/{id} embedded server (SQLite):                   $embedded_get"
echo "  GET /healthz through nginx:                                       $api_health"
