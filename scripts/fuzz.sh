#!/usr/bin/env bash
# Fuzzes the ingest path (raw bytes → JSON → domain checks → signature → store) and the
# configuration parser, each for a bounded time:
#   ./scripts/fuzz.sh [seconds per target, default 180]
# Needs the nightly toolchain (present on the project's machines) and installs cargo-fuzz.
# Seeds live in fuzz/corpus/<target>/ (*.json, *.toml); what the fuzzer adds stays untracked.
# A crash is written to fuzz/artifacts/<target>/ and stops the run: turn it into a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
seconds="${1:-180}"
command -v cargo-fuzz >/dev/null || { step "installing cargo-fuzz"; cargo install cargo-fuzz; }
for target in ingest config; do
  step "fuzzing $target for ${seconds}s"
  (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096)
done
