#!/usr/bin/env bash
# Start the services the suite needs, on loopback only, installing them from Debian's packages
# when missing (a fresh CI machine has nothing but Python). Sourced by .ci/run.
#   start_postgres  -> exports DATABASE_URL (a throwaway cluster; PG_PORT, default 54329)
#   start_redis     -> exports REDIS_URL (REDIS_PORT, default 63799)
#   ensure_chromium -> Debian's chromium for the browser test (Playwright drives it; its own
#                      browser download is not used)
#   stop_services   -> stops what this script started

SERVICES_DIR="${SERVICES_DIR:-$(mktemp -d /tmp/planner-ci.XXXXXX)}"
chmod 755 "$SERVICES_DIR"
_apt_updated=0

_apt_install() {
  if [ "$_apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  local port="${PG_PORT:-54329}" bindir
  bindir="$(_pg_bindir)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "ci: installing PostgreSQL from Debian's packages"
    _apt_install postgresql
    bindir="$(_pg_bindir)"
  fi
  # initdb refuses to run as root: use the postgres system user (created by the package).
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  local data="$SERVICES_DIR/pgdata"
  mkdir -p "$data" && chown postgres "$data"
  su postgres -s /bin/sh -c "'$bindir/initdb' -D '$data' -A trust -U postgres --no-sync -E UTF8" >/dev/null
  su postgres -s /bin/sh -c "'$bindir/pg_ctl' -D '$data' -l '$data/server.log' -w \
    -o \"-h 127.0.0.1 -p $port -k '$data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null
  PG_STARTED="$bindir/pg_ctl -D $data"
  su postgres -s /bin/sh -c "'$bindir/createdb' -h 127.0.0.1 -p $port -U postgres planner"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/planner"
  echo "ci: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

start_redis() {
  local port="${REDIS_PORT:-63799}"
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ci: installing Redis from Debian's packages"
    _apt_install redis-server
  fi
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
    --pidfile "$SERVICES_DIR/redis.pid" --logfile "$SERVICES_DIR/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  REDIS_STARTED="$SERVICES_DIR/redis.pid"
  export REDIS_URL="redis://127.0.0.1:$port/0"
  echo "ci: Redis on 127.0.0.1:$port"
}

ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    echo "ci: installing Chromium from Debian's packages"
    _apt_install chromium
  fi
  echo "ci: $(chromium --version 2>/dev/null)"
}

stop_services() {
  # Runs from the EXIT trap: it must neither fail the run nor hide the run's own status.
  local status=$?
  set +e
  if [ -n "${PG_STARTED:-}" ]; then
    su postgres -s /bin/sh -c "$PG_STARTED -m fast -w stop" >/dev/null 2>&1
  fi
  if [ -n "${REDIS_STARTED:-}" ] && [ -f "$REDIS_STARTED" ]; then
    local pid
    pid="$(cat "$REDIS_STARTED")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$SERVICES_DIR" 2>/dev/null
  return $status
}
