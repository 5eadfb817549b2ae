#!/usr/bin/env bash
# Prints the brotli size of every widget asset a visitor downloads (loader, JS glue, wasm, CSS)
# and fails when they add up to more than the budget. Writes the figures to
# widget/dist/size.txt. Run by scripts/build-widget.sh; usable alone on a built dist/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$root/widget/dist}
budget=40960      # bytes of brotli, everything a page with one widget downloads
loader_budget=1536

if [[ ! -f $dist/pulsetap.js.br ]]; then
  echo "size-check: no $dist/pulsetap.js.br; run scripts/build-widget.sh first" >&2
  exit 1
fi

size() { wc -c <"$1" | tr -d ' '; }

{
  printf '%-40s %8s %8s\n' asset raw brotli
  total=0
  for file in "$dist/pulsetap.js" "$dist"/assets/*.js "$dist"/assets/*.wasm "$dist"/assets/*.css; do
    [[ -f $file ]] || continue
    br=$(size "$file.br")
    total=$((total + br))
    printf '%-40s %8s %8s\n' "${file#"$dist"/}" "$(size "$file")" "$br"
  done
  printf '%-40s %8s %8s\n' total '' "$total"
  printf '%-40s %8s %8s\n' budget '' "$budget"
} | tee "$dist/size.txt"

total=$(awk '$1 == "total" {print $2}' "$dist/size.txt")
loader=$(size "$dist/pulsetap.js.br")
if ((loader > loader_budget)); then
  echo "size-check: FAIL: the loader is $loader bytes of brotli, over $loader_budget" >&2
  exit 1
fi
if ((total > budget)); then
  echo "size-check: FAIL: $total bytes of brotli, over the $budget-byte budget" >&2
  exit 1
fi
echo "size-check: ok, $total of $budget bytes"
