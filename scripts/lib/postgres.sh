# A throwaway PostgreSQL server for the tests: Debian's `postgresql` package (installed when
# missing), a new cluster in a temporary directory on a free port, stopped and deleted when the
# calling script exits. Sourced, not run; needs ensure.sh's `step` and `as_root`.
#
#   start_throwaway_postgres   # exports PULSETAP_TEST_STORE=postgres://…
#   create_database NAME       # prints the URL of a new database on it
#
# initdb and pg_ctl refuse to run as root, so as root the cluster belongs to the `postgres`
# user the package creates. fsync is off: the tests kill collectors, never the machine, and a
# server stopped with `pg_ctl -m immediate` still finds its writes in the page cache. The
# benchmarks set PG_DURABLE=1 for a server that syncs its commits to disk, as the collector's
# embedded store does.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

ensure_postgres() {
  if [ ! -x "$PG_BIN/initdb" ] || ! command -v openssl >/dev/null; then
    step "installing postgresql (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql openssl >/dev/null
  fi
}

# Runs a PostgreSQL program as the cluster's owner.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A port below the kernel's ephemeral range: a port inside it may be the local end of an
# outgoing connection (a benchmark's clients), which the connect probe below doesn't see and a
# listener can't bind ("Address already in use" failed a CI run so).
free_port() {
  local port low=32768 span
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$((low - 20000))
  if [ "$span" -lt 1000 ]; then span=40000; fi
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "no free port found" >&2
  return 1
}

# make_test_certificates DIR: a certificate authority made for this run (ca.pem) and the
# server's certificate for 127.0.0.1 signed by it, so a test can reach the server over TLS
# (sslmode=require) trusting that authority alone (SSL_CERT_FILE=DIR/ca.pem).
make_test_certificates() {
  local dir=$1
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=Pulsetap test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  chmod 600 "$dir/server.key"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
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
  make_test_certificates "$PG_DIR/tls"
  local tls="-c ssl=on -c ssl_cert_file=$PG_DIR/tls/server.pem -c ssl_key_file=$PG_DIR/tls/server.key"
  local durability="-c fsync=off -c full_page_writes=off"
  if [ "${PG_DURABLE:-0}" = 1 ]; then durability=""; fi
  as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 $durability $tls -c max_connections=400" \
    start >/dev/null || { cat "$PG_DIR/server.log"; return 1; }
  export PULSETAP_TEST_STORE="postgres://pulsetap@127.0.0.1:$port/postgres?sslmode=disable"
  export PULSETAP_TEST_PG_DATA="$PG_DIR/data"
  export PULSETAP_TEST_PG_CA="$PG_DIR/tls/ca.pem"
  PG_PORT=$port
}

create_database() {
  as_pg_owner "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U pulsetap -d postgres \
    -c "CREATE DATABASE $1" >/dev/null
  echo "postgres://pulsetap@127.0.0.1:$PG_PORT/$1?sslmode=disable"
}
