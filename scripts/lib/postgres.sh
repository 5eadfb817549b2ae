# A throwaway PostgreSQL server for the tests: Debian's `postgresql` package (installed when
# missing), a new cluster in a temporary directory on a free port, stopped and deleted when the
# calling script exits. Sourced, not run; needs ensure.sh's `step` and `as_root`.
#
#   start_throwaway_postgres   # exports PULSETAP_TEST_STORE=postgres://…
#
# initdb and pg_ctl refuse to run as root, so as root the cluster belongs to the `postgres`
# user the package creates. fsync is off: the tests kill collectors, never the machine, and a
# server stopped with `pg_ctl -m immediate` still finds its writes in the page cache.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

ensure_postgres() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    step "installing postgresql (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
}

# Runs a PostgreSQL program as the cluster's owner.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "no free port found" >&2
  return 1
}

stop_throwaway_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

start_throwaway_postgres() {
  ensure_postgres
  PG_DIR=$(mktemp -d /tmp/pulsetap-postgres.XXXXXX)
  chmod 755 "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_DIR"; fi
  trap stop_throwaway_postgres EXIT
  local port
  port=$(free_port)
  step "starting a throwaway PostgreSQL on port $port ($PG_DIR)"
  as_pg_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U pulsetap --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
  as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null || { cat "$PG_DIR/server.log"; return 1; }
  export PULSETAP_TEST_STORE="postgres://pulsetap@127.0.0.1:$port/postgres?sslmode=disable"
  export PULSETAP_TEST_PG_DATA="$PG_DIR/data"
}
