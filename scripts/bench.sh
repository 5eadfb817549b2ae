#!/usr/bin/env bash
# Every Pulsetap benchmark, one after the other, printing the figures BENCHMARKS.md quotes:
#   ./scripts/bench.sh            # the full run: 15–25 minutes on 2 cores, PostgreSQL included
#   ./scripts/bench.sh --quick    # a smoke run of each (seconds per phase, small stores, debug builds)
#   ./scripts/bench.sh soak       # the 30-minute soak alone (scripts/bench-soak.sh), not in CI
#   ./scripts/bench.sh engines    # the store's write workload on sled, fjall and redb (about 6
#                                 # minutes; engine-compare/), not in CI
#
# 1. ingest under load: the collector (durable acks) against a bare axum handler, same clients;
#    then the same from outside the process, wrk over HTTP against the release binary
#    (scripts/bench-http.sh); and on PostgreSQL: against a naive handler, against the embedded
#    store, two collectors on one database, and reads at 10 thousand and 1 million responses
#    (scripts/bench-postgres.sh);
# 2. aggregate reads at 10 thousand, 1 million and 10 million stored responses, with the
#    collector's resident memory at each size;
# 3. export of a million responses in bounded memory;
# 4. made-up tag values: 100,000 attempts, what is stored, and breakdown and /healthz latency;
#    then a helpdesk registering 200,000 tickets: registrations per second, and the time and
#    memory of one request of 10,000;
# 5. the widget: its size budget, then time to tappable, bytes, long tasks and layout shift in
#    headless Chromium.
# Each part is a `cargo bench` target you can also run alone (see BENCHMARKS.md). Run it on a
# quiet machine: anything else using the CPU shows up in the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
source scripts/lib/bench-build.sh

if [ "${1:-}" = "soak" ]; then
  shift
  exec ./scripts/bench-soak.sh "$@"
fi

if [ "${1:-}" = "engines" ]; then
  # PULSETAP_ENGINE_RATINGS (1000000) ratings per run, in batches of 16 (what 32 connections
  # gather) and 128 (256 connections).
  ratings=${PULSETAP_ENGINE_RATINGS:-1000000}
  step "the embedded store's write workload on three engines, $ratings ratings each"
  cargo build --release --locked --manifest-path engine-compare/Cargo.toml
  compare=${CARGO_TARGET_DIR:-engine-compare/target}/release/pulsetap-engine-compare
  for batch in 16 128; do
    for engine in sled fjall redb; do
      "$compare" "$engine" "$ratings" "$batch" | tail -n 1
    done
  done
  exit 0
fi

if [ "${1:-}" = "--quick" ]; then
  export PULSETAP_LOAD_SECONDS=2 PULSETAP_BENCH_SIZES=1000,10000 PULSETAP_EXPORT_SIZES=10000
  export PULSETAP_WIDGET_RUNS=3 PULSETAP_TAG_VALUES=3000 PULSETAP_TAG_LOAD_SECONDS=2
  export PULSETAP_REGISTRATIONS=10000
  # Debug builds, the ones the tests made: a smoke run's figures mean nothing anyway
  # (scripts/lib/bench-build.sh).
  export PULSETAP_BENCH_BUILD="${PULSETAP_BENCH_BUILD:-debug}"
else
  export PULSETAP_LOAD_SECONDS="${PULSETAP_LOAD_SECONDS:-8}"
  export PULSETAP_BENCH_SIZES="${PULSETAP_BENCH_SIZES:-10000,1000000,10000000}"
fi

ensure_browser
step "building the widget (and checking its size budget)"
./scripts/build-widget.sh

step "ingest under load"
run_bench pulsetap-collector load

step "ingest over HTTP from outside: wrk against collector serve and a bare handler"
if [ "${1:-}" = "--quick" ]; then ./scripts/bench-http.sh --quick; else ./scripts/bench-http.sh; fi

step "the collector on PostgreSQL: against a naive handler, against the embedded store, two collectors, reads as it grows"
if [ "${1:-}" = "--quick" ]; then ./scripts/bench-postgres.sh --quick; else ./scripts/bench-postgres.sh; fi

step "aggregate reads as the store grows ($PULSETAP_BENCH_SIZES responses)"
run_bench pulsetap-collector aggregate_reads

step "export in bounded memory"
run_bench pulsetap-collector export_memory

step "made-up tag values against the cap"
run_bench pulsetap-collector tag_values

step "a helpdesk registering its tickets (registrations per second)"
run_bench pulsetap-collector registrations

step "the widget on a host page"
run_bench pulsetap-e2e widget_load
