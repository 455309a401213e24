#!/usr/bin/env bash
# Starts (or stops) the throwaway services the pg/redis/scaleout tests need: a PostgreSQL cluster
# and a Redis, both on loopback ports, under /tmp/labhouse-test-services. Installs nothing (see
# scripts/install-deps.sh test). Writes $dir/env exporting LABHOUSE_TEST_PG_DSN and
# LABHOUSE_TEST_REDIS_URL, which scripts/run-tests.sh sources.
# Usage: scripts/test-services.sh start|stop|status
# Idempotent: start reuses services that are already up and healthy; stop is safe to repeat.
set -euo pipefail

dir="${LABHOUSE_TEST_SERVICES_DIR:-/tmp/labhouse-test-services}"
env_file="$dir/env"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"

log() { echo "test-services: $*" >&2; }

# initdb and postgres refuse to run as root, so as root they run as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_ok() {
  [ -f "$dir/pg_port" ] && "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/pg_port")" 2>/dev/null
}

redis_ok() {
  [ -f "$dir/redis_port" ] && [ "$(redis-cli -h 127.0.0.1 -p "$(cat "$dir/redis_port")" ping 2>/dev/null)" = PONG ]
}

start_pg() {
  if pg_ok; then log "PostgreSQL already up on port $(cat "$dir/pg_port")"; return; fi
  [ -x "$pg_bin/initdb" ] || { log "PostgreSQL server binaries not found (run scripts/install-deps.sh test)"; exit 1; }
  stop_pg
  local port
  port="$(free_port)"
  mkdir -p "$dir/pg" "$dir/pgsock" "$dir/pglog"
  chmod 700 "$dir/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pg" "$dir/pgsock" "$dir/pglog"; fi
  as_pg "$pg_bin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # Durability is pointless for a throwaway test cluster; speed is not.
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pglog/pg.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/pgsock -c max_connections=300 \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null ||
    { cat "$dir/pglog/pg.log" >&2; exit 1; }
  echo "$port" >"$dir/pg_port"
  log "PostgreSQL up on 127.0.0.1:$port"
}

start_redis() {
  if redis_ok; then log "Redis already up on port $(cat "$dir/redis_port")"; return; fi
  stop_redis
  local port
  port="$(free_port)"
  mkdir -p "$dir/redis"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 100); do
    echo "$port" >"$dir/redis_port"
    redis_ok && break
    sleep 0.1
  done
  redis_ok || { cat "$dir/redis.log" >&2; exit 1; }
  log "Redis up on 127.0.0.1:$port"
}

stop_pg() {
  if [ -f "$dir/pg/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    local pid
    pid="$(head -n 1 "$dir/pg/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -rf "$dir/pg" "$dir/pgsock" "$dir/pglog" "$dir/pg_port"
}

stop_redis() {
  if [ -f "$dir/redis.pid" ]; then
    local pid
    pid="$(cat "$dir/redis.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir/redis" "$dir/redis.pid" "$dir/redis_port"
}

case "${1:-}" in
  start)
    mkdir -p "$dir"
    chmod 755 "$dir"
    start_pg
    start_redis
    cat >"$env_file" <<ENV
export LABHOUSE_TEST_PG_DSN=postgresql://postgres@127.0.0.1:$(cat "$dir/pg_port")/postgres
export LABHOUSE_TEST_REDIS_URL=redis://127.0.0.1:$(cat "$dir/redis_port")
ENV
    log "wrote $env_file"
    ;;
  stop)
    stop_redis
    stop_pg
    rm -rf "$dir"
    ;;
  status)
    pg_ok && echo "postgres up" || echo "postgres down"
    redis_ok && echo "redis up" || echo "redis down"
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
