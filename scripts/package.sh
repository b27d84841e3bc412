#!/usr/bin/env bash
# Builds Onramp's Debian package with Tauri's CLI (ui/node_modules, from the npm registry): the
# release profile of the workspace Cargo.toml (stripped, see docs/release-profile.md), the desktop
# entry from src-tauri/linux/onramp.desktop (registers onramp://). Expects `make deps ui` done.
# Safe to repeat: cargo rebuilds only what changed and the bundle is rewritten. Prints the .deb's path.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"
tauri="$here/ui/node_modules/.bin/tauri"
[ -x "$tauri" ] || { echo "Tauri's CLI is missing: run 'make deps' (npm ci in ui/)." >&2; exit 1; }
[ -f "$here/ui/dist/index.html" ] || { echo "ui/dist is missing: run 'make ui'." >&2; exit 1; }

# The CLI finds tauri.conf.json from the working directory; --ci: no prompts, plain output.
(cd "$here/src-tauri" && "$tauri" build --ci --bundles deb)

version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$here/src-tauri/tauri.conf.json" | head -n1)"
deb="$CARGO_TARGET_DIR/release/bundle/deb/Onramp_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "the bundler did not write $deb" >&2; exit 1; }
echo "Package: $deb ($(stat -c %s "$deb") bytes)"
