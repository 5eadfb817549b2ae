#!/usr/bin/env bash
# Runs every Pulsetap test, the browser tests included, from a fresh clone:
#   ./scripts/test.sh
# Installs what is missing first (Chromium and its driver from Debian, the wasm toolchain via
# scripts/build-widget.sh, PostgreSQL from Debian), then checks formatting and lints, builds the
# widget (which enforces its size budget), runs the whole workspace's tests, and runs the
# collector's API tests again on a throwaway PostgreSQL server (scripts/lib/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/ensure.sh
source scripts/lib/postgres.sh
ensure_browser
ensure_postgres

step "building the widget"
./scripts/build-widget.sh

step "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "running every test"
cargo test --workspace --locked --no-fail-fast

step "running the collector's API tests on PostgreSQL"
start_throwaway_postgres
# A build of its own (about 2 minutes on 2 cores): without the widget's native tests among the
# targets, cargo builds the proc-macros differently from the run above.
cargo test --workspace --locked --test api --no-fail-fast -- --include-ignored \
  --skip a_database_restart_under_load
step "restarting PostgreSQL under load (alone: the other tests share its server)"
cargo test --workspace --locked --test api -- --ignored --exact \
  shared_store_faults::a_database_restart_under_load_is_answered_503_with_retry_after_and_loses_no_acknowledged_rating
