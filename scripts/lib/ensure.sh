# Helpers shared by the scripts: install what a fresh Debian machine with Rust lacks.
# Sourced, not run.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian's Chromium and ChromeDriver for the browser tests, and an emoji font so screenshots
# show emoji instead of empty boxes.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
  command -v brotli >/dev/null || missing+=(brotli)
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
