#!/usr/bin/env bash
# The linker for the widget's wasm (scripts/build-widget.sh passes it as `-C linker=`): rust-lld,
# minus the exports of wasm-streams' JS classes.
#
# Leptos always links server_fn with its `browser` feature, whose wasm-streams dependency
# exports three classes (IntoUnderlyingSource, …Sink, …ByteSource) the widget never uses. As
# exports they are roots, so the linker keeps their code and vtables (several KB of the size
# budget); wasm-bindgen copes with exports that are absent (tools/prune.mjs then drops the
# classes from the glue).
set -euo pipefail

lld=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-lld
unused='[Ii]nto[Uu]nderlying'

args=()
expand() {
  local skip=0 arg
  for arg in "$@"; do
    if ((skip)); then
      skip=0
      [[ $arg =~ $unused ]] && { unset 'args[${#args[@]}-1]'; continue; }
      args+=("$arg")
    elif [[ $arg == --export ]]; then
      skip=1
      args+=("$arg")
    elif [[ $arg == --export=* && $arg =~ $unused ]]; then
      continue
    elif [[ $arg == @* ]]; then
      local lines=()
      mapfile -t lines <"${arg#@}"
      expand "${lines[@]}"
    else
      args+=("$arg")
    fi
  done
}
expand "$@"
[[ ${args[0]:-} == -flavor ]] || args=(-flavor wasm "${args[@]}")
exec "$lld" "${args[@]}"
