#!/usr/bin/env bash
# `make dev`: the real app against its built-in sandbox, with the UI served by Vite (hot reload).
#
# Vite runs in the background on a fixed port (ui/vite.config.ts). The app is built with TAURI_CONFIG
# adding `build.devUrl`: tauri-build and `tauri::generate_context!` merge that variable into
# src-tauri/tauri.conf.json, and a build without tauri's `custom-protocol` feature (every cargo build
# of this repo) loads devUrl instead of embedding ui/dist. No tauri-cli is needed.
#
# The variable is part of the build: this leaves `$CARGO_TARGET_DIR/debug/onramp` loading the dev
# server. `make build` (and `make run`, `make test`) builds it again without the variable, which
# recompiles only the onramp crate, before anything else uses it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cargo="${CARGO:-cargo}"
host=127.0.0.1
port=1420 # keep in step with DEV_PORT in ui/vite.config.ts
url="http://$host:$port"

if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
  echo "Port $port is in use (another make dev?); Vite needs it." >&2
  exit 1
fi

# Vite itself (not npm) in the background, so its pid is the one to stop on the way out.
(cd "$here/ui" && exec ./node_modules/.bin/vite) &
vite_pid=$!
trap 'kill "$vite_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

up=0
for _ in $(seq 150); do
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$vite_pid" 2>/dev/null || break
  sleep 0.2
done
if [ "$up" != 1 ]; then
  echo "Vite did not start on $url." >&2
  exit 1
fi

cd "$here"
echo "==> the app loads its UI from $url (edit ui/src: the window reloads what changed)"
TAURI_CONFIG="{\"build\":{\"devUrl\":\"$url\"}}" "$cargo" run -p onramp
