#!/usr/bin/env bash
# Runs the Pulsetap demo from a fresh clone:
#   ./scripts/demo.sh
# Builds what is missing (wasm target, pinned wasm-bindgen CLI, wasm-opt, the widget, the
# collector and the demo shop), starts the collector on http://127.0.0.1:8080 with its embedded
# store in demo-site/pulsetap-data, serves the demo shop from its own origin on
# http://127.0.0.1:8000, and prints the URLs to open. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh

COLLECTOR=127.0.0.1:8080
SHOP=127.0.0.1:8000   # demo-site/pulsetap.toml allows this origin

./scripts/build-widget.sh

step "building the collector and the demo shop"
cargo build --locked -p pulsetap-collector -p pulsetap-demo-site
bin="${CARGO_TARGET_DIR:-target}/debug"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

# Wait for a server's "listening on" line before going on, so the URLs printed work at once.
start() {
  local log="$1"; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$log" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  cat "$log"; exit 1
}

mkdir -p demo-site/logs
start demo-site/logs/collector.log "$bin/collector" serve --listen "$COLLECTOR" \
  --config demo-site/pulsetap.toml --data demo-site/pulsetap-data --assets widget/dist
start demo-site/logs/shop.log "$bin/demo-site" --listen "$SHOP" --collector "http://$COLLECTOR" \
  --config demo-site/pulsetap.toml

cat <<MSG

  Pulsetap demo is running.

    Demo shop        http://$SHOP/
      help article   http://$SHOP/help/descaling
      support chat   http://$SHOP/chat
      support email  http://$SHOP/email
      script tag     http://$SHOP/install
      team inbox     http://$SHOP/alerts
    Dashboard        http://$COLLECTOR/dashboard   (key: demo-marketing-key)
    Collector API    http://$COLLECTOR/openapi.json

  Logs in demo-site/logs/. Ctrl-C stops the demo.
MSG
wait
