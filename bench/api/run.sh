#!/usr/bin/env bash
# API benchmark (issue 2): wrk on loopback against GET /api/v1/jobs/{id} and against nginx serving
# a static file of the same size, in the same run; then end-to-end classic jobs per second
# (submit + complete) with 1 and 2 workers.
set -euo pipefail
build_dir="${1:-build}"
bin="$(cd "$build_dir" && pwd)/labhouse"
work=$(mktemp -d /tmp/labhouse-bench.XXXXXX)
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-32}"
jobs_count="${BENCH_JOBS:-60}"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_png() {  # width height path: a gradient PNG, made without any image tool
  python3 - "$@" <<'PY'
import struct, sys, zlib
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\x00' + bytes((x * 5 + y * 3) % 256 for x in range(w * 3)) for y in range(h))
open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                       + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY
}

start_server() {  # workers data-dir -> sets port
  port=$(free_port)
  "$bin" serve --port "$port" --data-dir "$2" --workers "$1" --log-level warn >"$work/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$work/server.log"; exit 1
}

wrk_run() {  # url -> "req/s p99"
  wrk -t2 -c"$connections" -d"$duration" --latency "$1" >"$work/wrk.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  echo "$rps $p99"
}

make_png 256 192 "$work/photo.png"

# 1. Job reads against nginx static files.
start_server 1 "$work/data-read"
id=$(curl -sf -F image=@"$work/photo.png" -F backend=classic -F style=cartoon "http://127.0.0.1:$port/api/v1/jobs" |
     python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 1
curl -sf "http://127.0.0.1:$port/api/v1/jobs/$id" >"$work/job.json"
mkdir -p "$work/www"
cp "$work/job.json" "$work/www/job.json"
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp;
  scgi_temp_path $work/nginx-tmp;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
NGINX
mkdir -p "$work/nginx-tmp"
nginx -c "$work/nginx.conf"
sleep 0.3
read -r api_rps api_p99 < <(wrk_run "http://127.0.0.1:$port/api/v1/jobs/$id")
read -r nginx_rps nginx_p99 < <(wrk_run "http://127.0.0.1:$nginx_port/job.json")
echo "GET /api/v1/jobs/{id}   : $api_rps req/s, p99 $api_p99  ($(wc -c <"$work/job.json") bytes)"
echo "nginx static same bytes : $nginx_rps req/s, p99 $nginx_p99"
python3 -c "print(f'ratio labhouse/nginx     : {float(\"$api_rps\")/float(\"$nginx_rps\"):.2f}')"

# 2. End-to-end classic jobs per second.
for workers in 1 2; do
  kill "${pids[-1]}" 2>/dev/null || true
  start_server "$workers" "$work/data-jobs-$workers"
  start=$(date +%s.%N)
  seq "$jobs_count" | xargs -P 4 -I{} curl -sf -o /dev/null -F image=@"$work/photo.png" -F backend=classic \
      -F style=cartoon -F strength=0.{} "http://127.0.0.1:$port/api/v1/jobs" || true
  while true; do
    done_count=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "labhouse_jobs{state=\"succeeded\"}" {print $2}')
    [ "${done_count:-0}" -ge "$jobs_count" ] && break
    sleep 0.05
  done
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'classic jobs, {$workers} worker(s): {$jobs_count} in {s:.2f} s = {$jobs_count/s:.1f} jobs/s')"
done
