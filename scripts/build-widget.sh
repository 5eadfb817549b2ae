#!/usr/bin/env bash
# Builds the widget's browser assets into widget/dist/:
#
#   widget/dist/pulsetap.js                 the loader (served at /pulsetap.js, short cache)
#   widget/dist/assets/pulsetap-<hash>.js   wasm-bindgen glue, minified (immutable)
#   widget/dist/assets/pulsetap-<hash>.wasm the widget (immutable)
#   each with .br and .gz siblings, and widget/dist/size.txt (see scripts/size-check.sh)
#
# Installs what is missing first: the wasm32 target, wasm-bindgen-cli at the version Cargo.lock
# pins, and the npm tools of tools/package-lock.json (binaryen 132's wasm-opt, esbuild).
# Honours CARGO_TARGET_DIR. Re-running after no change rebuilds nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
work=$target_dir/widget-build
dist=$root/widget/dist
tools=$root/tools/node_modules/.bin
say() { echo "build-widget: $*" >&2; }

# --- tools -----------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly, or the glue and the wasm disagree.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[[ -n $bindgen_version ]] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }
if [[ $(wasm-bindgen --version 2>/dev/null | awk '{print $2}') != "$bindgen_version" ]]; then
  say "installing wasm-bindgen-cli $bindgen_version"
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

if [[ ! -x $tools/wasm-opt || ! -x $tools/esbuild ||
      tools/package-lock.json -nt tools/node_modules/.package-lock.json ]]; then
  say "installing build tools (npm ci --prefix tools)"
  npm ci --prefix tools --no-audit --no-fund
fi
# Debian's binaryen 108 emits a wasm that fails in the browser (WebAssembly.Table.set), so the
# pinned one must be the one that runs.
if ! "$tools/wasm-opt" --version | grep -q 'version 132'; then
  say "tools/node_modules has $("$tools/wasm-opt" --version), expected binaryen 132"
  exit 1
fi

# --- wasm --------------------------------------------------------------------------------------
# `--crate-type cdylib` here: with both cdylib and rlib in Cargo.toml, cargo builds without LTO.
# The linker wrapper leaves out exports the widget never uses (see scripts/widget-link.sh).
cargo rustc --profile wasm-release --target wasm32-unknown-unknown -p pulsetap-widget --lib \
  --crate-type cdylib -- -C linker="$root/scripts/widget-link.sh"
wasm=$target_dir/wasm32-unknown-unknown/wasm-release/pulsetap_widget.wasm

# Everything below is cheap but not free; skip it when neither the wasm nor the loader nor
# this pipeline changed since the last build.
stamp=$(cat "$wasm" widget/loader/pulsetap.js scripts/build-widget.sh tools/prune.mjs tools/compress.mjs \
  scripts/size-check.sh tools/package-lock.json | sha256sum | cut -c1-64)
if [[ -f $dist/.stamp && $(cat "$dist/.stamp") == "$stamp" ]]; then
  say "widget/dist is up to date"
  exec scripts/size-check.sh "$dist"
fi

rm -rf "$work"
mkdir -p "$work"
# wasm-bindgen warns that `strip = true` removed the target_features section; keeping it
# (-C strip=debuginfo) silences the warning but makes the output 50 bytes larger, for nothing.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$work" --out-name pulsetap "$wasm"
node tools/prune.mjs exports "$work/pulsetap_bg.wasm" "$work/pruned.wasm"
# The features are those rustc's wasm32 target enables and wasm-bindgen's output relies on
# (externref tables need reference types); wasm-opt must not refuse or lower them.
"$tools/wasm-opt" -Oz --converge --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$work/pruned.wasm" -o "$work/pulsetap.wasm"
node tools/prune.mjs glue "$work/pulsetap.js" "$work/pulsetap.wasm"
"$tools/esbuild" "$work/pulsetap.js" --minify --format=esm --tree-shaking=true \
  --log-level=warning --outfile="$work/glue.js"

hash() { sha256sum "$1" | cut -c1-16; }
glue_name=assets/pulsetap-$(hash "$work/glue.js").js
wasm_name=assets/pulsetap-$(hash "$work/pulsetap.wasm").wasm

# The loader names the hashed assets; it is the only file that is not cached forever.
sed -e "s#\"assets/pulsetap.js\"#\"$glue_name\"#" -e "s#\"assets/pulsetap_bg.wasm\"#\"$wasm_name\"#" \
  widget/loader/pulsetap.js >"$work/loader.js"
grep -q "$glue_name" "$work/loader.js" && grep -q "$wasm_name" "$work/loader.js" ||
  { say "could not put the asset names into the loader"; exit 1; }
"$tools/esbuild" "$work/loader.js" --minify --target=es2020 --log-level=warning \
  --outfile="$work/pulsetap.min.js"

# Build next to dist/ and swap, so a running collector never serves half a build.
next=$dist.next
rm -rf "$next"
mkdir -p "$next/assets"
cp "$work/pulsetap.min.js" "$next/pulsetap.js"
cp "$work/glue.js" "$next/$glue_name"
cp "$work/pulsetap.wasm" "$next/$wasm_name"
node tools/compress.mjs "$next/pulsetap.js" "$next/$glue_name" "$next/$wasm_name"
scripts/size-check.sh "$next"
echo "$stamp" >"$next/.stamp"
rm -rf "$dist"
mv "$next" "$dist"
say "built widget/dist ($glue_name, $wasm_name)"
