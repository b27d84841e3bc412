#!/usr/bin/env bash
# Installs everything Onramp needs to build, run and test on Debian 12, as root.
# Safe to run twice: each step checks before it installs.
set -euo pipefail

APT_PACKAGES=(
  # Tauri's documented Debian prerequisites (build-essential's g++ also builds libFuzzer for make fuzz)
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config
  # deep links: xdg-mime (register) and gio (delivery in tests)
  xdg-utils desktop-file-utils libglib2.0-bin
  # end-to-end: WebKitWebDriver, a virtual display, a session bus, a Secret Service
  webkit2gtk-driver xvfb xauth dbus dbus-x11 gnome-keyring libsecret-tools
  # fonts so the window renders text under Xvfb
  fonts-dejavu-core
  # the hand-off snippets are run in the tests: bash + curl + jq, python3 (node comes with npm below)
  jq python3
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: Onramp needs a Rust toolchain (rustup, stable >= 1.90)." >&2
  exit 1
fi

# tauri-driver: the WebDriver proxy for Tauri apps (end-to-end tests only).
if [ "${ONRAMP_SKIP_TAURI_DRIVER:-0}" != 1 ] && ! command -v tauri-driver >/dev/null 2>&1 \
   && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "==> cargo install tauri-driver"
  cargo install tauri-driver --version '^2' --locked --quiet
fi

# UI packages, exactly as locked; skipped while node_modules was installed from this very lockfile.
here="$(cd "$(dirname "$0")/.." && pwd)"
lock="$here/ui/package-lock.json"
stamp="$here/ui/node_modules/.onramp-lock.sha256"
if [ -f "$lock" ]; then
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> npm ci (ui/)"
    (cd "$here/ui" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
fi
echo "==> dependencies ready"
