#!/usr/bin/env bash
# Ingest measured from outside the process: wrk posts new ratings over HTTP to the release
# `collector serve` (durable acks: a 2xx means flushed to disk) and to a bare axum handler
# that parses the same JSON and answers 201 (collector/examples/bare_handler.rs). Beside them
# runs the durable floor: the same bare handler answering only once each body is appended to a
# zeroed journal and `fdatasync`ed, in groups (`bare_handler --journal`), the least any server
# keeping "a 2xx means on disk" can cost on this disk. The three take turns on this machine,
# round after round, so all see the same machine.
#   ./scripts/bench-http.sh           # 5-second rounds, 3 of each
#   ./scripts/bench-http.sh --quick   # 1-second rounds, 1 of each: a smoke run
#
# Scenarios: new anonymous ratings with two tags (a help-center page), and new interaction
# ratings (the end of a chat), each at 32 and 256 connections; every request carries a new
# response_id (scripts/bench-http.lua). Then the collector paced at half the highest rate it
# reached in each scenario, for its latency under a normal peak, and the durable floor at the
# same pace. Any reply other than a 2xx, or any socket error or timeout, fails the run.
#
# Why wrk (Debian's 4.1): it installs from apt in seconds, its C event loop takes less of this
# 2-core machine away from the servers than oha, and its Lua scripting gives every request a
# fresh id (oha's per-request bodies are lines drawn at random from a file, which repeat).
# What it lacks is an open-loop rate (that is wrk2, not in Debian): the half-load phase paces
# each of 256 connections with random pauses through Lua's delay(). At half load only a few
# connections wait for a reply at any moment, so sends rarely wait on the server; a stall
# longer than a pause is under-counted (coordinated omission), which wrk2 or oha -q would not.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
source scripts/lib/wrk.sh
source scripts/lib/bench-build.sh

round_seconds=5 rounds=3
if [ "${1:-}" = "--quick" ]; then round_seconds=1 rounds=1; fi
paced_connections=256

ensure_wrk
build_collector bare_handler

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

start collector "$bin_dir/collector" serve --listen 127.0.0.1:0 \
  --config "$work/pulsetap.toml" --data "$work/data"
collector=$address
start bare "$bin_dir/examples/bare_handler" 127.0.0.1:0
bare=$address
start floor "$bin_dir/examples/bare_handler" 127.0.0.1:0 --journal "$work/floor-journal"
floor=$address

run_number=$((RANDOM * 2))

echo "wrk, 2 threads, ${round_seconds}s rounds, $rounds round(s) per scenario; every reply checked to be a 2xx"
echo
row "" "ratings/s" "p50 ms" "p99 ms"
declare -A highest
summary=()
for kind in anonymous interaction; do
  highest[$kind]=0
  for connections in 32 256; do
    ratios=() collector_rates=() bare_rates=() floor_ratios=()
    for round in $(seq "$rounds"); do
      measured_row "round $round: bare handler, $kind, $connections conn" \
        "bare handler" "$bare" "$kind" "$connections"
      bare_rates+=("$rate")
      bare_rate=$rate
      measured_row "round $round: durable floor, $kind, $connections conn" \
        "durable floor" "$floor" "$kind" "$connections"
      floor_ratios+=("$(ratio "$rate" "$bare_rate")")
      measured_row "round $round: collector, $kind, $connections conn" \
        collector "$collector" "$kind" "$connections"
      collector_rates+=("$rate")
      ratios+=("$(ratio "$rate" "$bare_rate")")
      if [ "$rate" -gt "${highest[$kind]}" ]; then highest[$kind]=$rate; fi
    done
    summary+=("$(printf '%-12s %3d connections: collector %6s/s, bare %6s/s, ratio %s (durable floor %s)' \
      "$kind" "$connections" \
      "$(printf '%s\n' "${collector_rates[@]}" | median)" "$(printf '%s\n' "${bare_rates[@]}" | median)" \
      "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${floor_ratios[@]}" | median)")")
  done
done

echo
echo "the collector paced at half its highest rate, $paced_connections connections with random pauses"
for kind in anonymous interaction; do
  target=$((highest[$kind] / 2))
  pace=$(awk -v c="$paced_connections" -v r="$target" 'BEGIN { printf "%.1f", c * 1000 / r }')
  measured_row "collector, $kind, aiming at $target/s" \
    collector "$collector" "$kind" "$paced_connections" "$pace"
  collector_p99=$p99 collector_rate=$rate
  measured_row "durable floor, $kind, aiming at $target/s" \
    "durable floor" "$floor" "$kind" "$paced_connections" "$pace"
  summary+=("$(printf '%-12s half load:       p99 %s ms at %s/s   (goal: at most 5 ms; durable floor %s ms)' \
    "$kind" "$collector_p99" "$collector_rate" "$p99")")
done

echo
echo "collector / bare handler, median of $rounds round(s) (goal: at least 0.50; the durable floor's own ratio in brackets):"
printf '  %s\n' "${summary[@]}"
