#!/usr/bin/env bash
# Runs every Pulsetap test, the browser tests included, from a fresh clone:
#   ./scripts/test.sh
# Installs what is missing first (Chromium and its driver from Debian, the wasm toolchain via
# scripts/build-widget.sh), then checks formatting and lints, builds the widget (which enforces
# its size budget), and runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/ensure.sh
ensure_browser

step "building the widget"
./scripts/build-widget.sh

step "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "running every test"
cargo test --workspace --locked --no-fail-fast
