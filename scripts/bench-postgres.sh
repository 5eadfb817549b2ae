#!/usr/bin/env bash
# The collector on PostgreSQL, measured from outside the process like scripts/bench-http.sh:
#   ./scripts/bench-postgres.sh           # 5-second rounds, 3 of each; reads at 10k and 1M
#   ./scripts/bench-postgres.sh --quick   # 1-second rounds, 1 of each; reads at 1k and 10k
#
# A throwaway PostgreSQL 15 (Debian's package) that syncs every commit to disk, as the embedded
# store syncs before it acknowledges. wrk posts new anonymous ratings with two tags
# (scripts/bench-http.lua) at 64 connections to, in turn:
#   - the naive handler (collector/examples/naive_postgres.rs): one transaction per rating that
#     upserts it and adds to its survey's counter row for the day;
#   - the collector on PostgreSQL;
#   - the collector on its embedded store (fjall);
#   - two collectors on one PostgreSQL database, each driven by its own wrk at 32 connections
#     (the rate is their sum), as two machines behind a load balancer would be.
# Any reply other than a 2xx fails the run. Then the dashboard's reads on PostgreSQL as the
# database grows (collector/benches/aggregate_reads.rs, PULSETAP_BENCH_STORE).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
source scripts/lib/postgres.sh
source scripts/lib/wrk.sh
source scripts/lib/bench-build.sh

round_seconds=5 rounds=3 read_sizes=10000,1000000
if [ "${1:-}" = "--quick" ]; then round_seconds=1 rounds=1 read_sizes=1000,10000; fi
connections=64

ensure_wrk
ensure_postgres
build_collector naive_postgres

PG_DURABLE=1 start_throwaway_postgres
start_work_dir

# Every request comes from one address and one user agent: lift the per-visitor limits.
cat >"$work/pulsetap.toml" <<'EOF'
[limits]
visitor_requests_per_second = 1000000000
visitor_burst = 1000000000
[[survey]]
id = "bench"
allowed_origins = ["https://shop.example.com"]
tags = ["agent", "channel"]
max_per_visitor_per_day = 1000000000
max_unverified_per_day = 1000000000
EOF

naive_db=$(create_database bench_naive)
one_db=$(create_database bench_one)
two_db=$(create_database bench_two)
reads_db=$(create_database bench_reads)

serve() { # serve <name> [--store URL]: a collector with its own data directory
  local name=$1
  shift
  start "$name" "$bin_dir/collector" serve --listen 127.0.0.1:0 \
    --config "$work/pulsetap.toml" --data "$work/$name" "$@"
}
start naive "$bin_dir/examples/naive_postgres" 127.0.0.1:0 "$naive_db"
naive=$address
serve postgres --store "$one_db"
postgres=$address
serve embedded
embedded=$address
serve first --store "$two_db"
first=$address
serve second --store "$two_db"
second=$address

run_number=$((RANDOM * 2))

# Two wrk at once, one per collector; prints "ratings/s p99_ms" (the sum, the worse p99).
measure_two() {
  run_number=$((run_number + 1))
  measure "first collector" "$first" anonymous $((connections / 2)) >"$work/first.rate" &
  local first_pid=$!
  run_number=$((run_number + 1))
  measure "second collector" "$second" anonymous $((connections / 2)) >"$work/second.rate"
  wait "$first_pid"
  read -r rate_a _ p99_a <"$work/first.rate"
  read -r rate_b _ p99_b <"$work/second.rate"
  awk -v a="$rate_a" -v b="$rate_b" -v pa="$p99_a" -v pb="$p99_b" \
    'BEGIN { printf "%d %.2f\n", a + b, (pa > pb ? pa : pb) }'
}

echo "wrk, ${round_seconds}s rounds, $rounds round(s), new anonymous ratings with two tags, $connections connections; every reply checked to be a 2xx"
echo
row "" "ratings/s" "p50 ms" "p99 ms"
naive_rates=() postgres_rates=() embedded_rates=() two_rates=()
for round in $(seq "$rounds"); do
  for server in naive postgres embedded; do
    measured_row "round $round: $server" "$server" "${!server}" anonymous "$connections"
    declare -n rates="${server}_rates"
    rates+=("$rate")
    unset -n rates
  done
  result=$(measure_two)
  read -r rate p99 <<<"$result"
  row "round $round: two collectors on PostgreSQL" "$rate" "" "$p99"
  two_rates+=("$rate")
done

naive_rate=$(printf '%s\n' "${naive_rates[@]}" | median)
postgres_rate=$(printf '%s\n' "${postgres_rates[@]}" | median)
embedded_rate=$(printf '%s\n' "${embedded_rates[@]}" | median)
two_rate=$(printf '%s\n' "${two_rates[@]}" | median)
echo
echo "medians of $rounds round(s), ratings/s:"
printf '  %-40s %8s\n' "naive handler (transaction per rating)" "$naive_rate" \
  "collector on PostgreSQL" "$postgres_rate" "collector on its embedded store" "$embedded_rate" \
  "two collectors on one PostgreSQL" "$two_rate"
echo "  PostgreSQL collector / naive handler: $(ratio "$postgres_rate" "$naive_rate") (goal: at least 3)"
echo "  PostgreSQL collector / embedded store: $(ratio "$postgres_rate" "$embedded_rate")"
echo "  two collectors / one collector:       $(ratio "$two_rate" "$postgres_rate")"

for name in postgres first second; do
  if ! curl -fsS "$(eval echo "\$$name")/healthz" >/dev/null; then
    echo "FAILED: the $name collector is not healthy after the rounds" >&2
    tail -n 20 "$work/$name.log" >&2
    exit 1
  fi
done
echo
step "the dashboard's reads on PostgreSQL as it grows ($read_sizes responses)"
PULSETAP_BENCH_STORE=$reads_db PULSETAP_BENCH_SIZES=$read_sizes \
  run_bench pulsetap-collector aggregate_reads
