# What the benchmarks that drive servers with wrk share (scripts/bench-http.sh,
# scripts/bench-postgres.sh). Sourced, not run; needs ensure.sh's `step` and `as_root`. The
# caller sets `round_seconds` and `run_number` (step it before each `measure`).

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    step "installing wrk (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
  fi
}

# A scratch directory ($work) and the servers started in it ($pids), both gone at exit.
start_work_dir() {
  work=$(mktemp -d)
  pids=()
  trap cleanup_work_dir EXIT
}

cleanup_work_dir() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if declare -F stop_throwaway_postgres >/dev/null; then stop_throwaway_postgres; fi
}

# start <name> <command…>: runs a server in the background (in this shell, so cleanup can stop
# it) and sets $address to the base URL it announces on stdout.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 300); do
    address=$(grep -o 'http://[^ ]*' "$work/$name.out" | head -1) || true
    if [ -n "$address" ]; then return; fi
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

# measure <server name> <url> <kind> <connections> [pace ms]: one wrk round; prints
# "ratings/s p50_ms p99_ms", or fails the whole script. Call it as `x=$(measure …)` (so a
# failure stops the script under `set -e`), never inside `< <(…)`, and step $run_number before
# each call (a subshell's increment would be lost): the ids of each run are its own.
measure() {
  local name=$1 url=$2 kind=$3 connections=$4 pace=${5:-0}
  local out="$work/wrk-$run_number.txt"
  if ! PULSETAP_WRK_KIND=$kind PULSETAP_WRK_RUN=$run_number PULSETAP_WRK_PACE=$pace \
    wrk --threads 2 --connections "$connections" --duration "${round_seconds}s" --timeout 10s \
    --script scripts/bench-http.lua "$url/v1/responses" >"$out" 2>&1; then
    echo "wrk failed against the $name:" >&2
    cat "$out" >&2
    exit 1
  fi
  local result
  result=$(grep '^RESULT ' "$out") || {
    echo "wrk printed no result against the $name:" >&2
    cat "$out" >&2
    exit 1
  }
  local requests duration non_2xx socket_errors p50 p99
  read -r requests duration non_2xx socket_errors p50 p99 < <(
    sed -E 's/[a-z0-9_]+=//g; s/^RESULT //' <<<"$result"
  )
  if [ "$non_2xx" -ne 0 ] || [ "$socket_errors" -ne 0 ] || [ "$requests" -eq 0 ]; then
    echo "FAILED: the $name answered $non_2xx of $requests requests with a status of 400 or more and had $socket_errors socket errors or timeouts ($kind, $connections connections)" >&2
    cat "$out" >&2
    echo "--- the $name's log (last lines):" >&2
    tail -n 20 "$work/$name.log" >&2
    exit 1
  fi
  awk -v n="$requests" -v us="$duration" -v p50="$p50" -v p99="$p99" \
    'BEGIN { printf "%.0f %.2f %.2f\n", n / (us / 1e6), p50 / 1000, p99 / 1000 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

row() { printf '%-44s %10s %9s %9s\n' "$@"; }

# measured_row <row label> <server name> <url> <kind> <connections> [pace ms]: steps
# $run_number, runs one `measure` round, prints its row and leaves its figures in $rate, $p50
# and $p99 (call it directly, not in a subshell, or they and the step are lost).
measured_row() {
  local label=$1 result
  shift
  run_number=$((run_number + 1))
  result=$(measure "$@")
  read -r rate p50 p99 <<<"$result"
  row "$label" "$rate" "$p50" "$p99"
}

# ratio <a> <b>: a / b to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
