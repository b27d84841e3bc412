#!/usr/bin/env bash
# End-to-end tests: the real Onramp window under Xvfb, driven over WebDriver (tauri-driver +
# WebKitWebDriver), inside a private D-Bus session with an unlocked GNOME Keyring (a real Secret
# Service), against the in-app sandbox. Expects the app and test binaries to be built (make test does it).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"

if [ -z "${ONRAMP_E2E_INSIDE:-}" ]; then
  export ONRAMP_E2E_INSIDE=1
  # Resolve tools while HOME is still the real one.
  export TAURI_DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  run="$here/target/e2e"
  rm -rf "$run" "$here/target/e2e-screenshots"
  mkdir -p "$run/keyring-home" "$run/runtime"
  chmod 700 "$run/runtime"
  # The keyring daemon keeps its files under this throwaway HOME, never the user's.
  export HOME="$run/keyring-home" XDG_RUNTIME_DIR="$run/runtime"
  export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config"
  exec dbus-run-session -- "$0" "$@"
fi

# Inside the private session bus from here on.
eval "$(printf 'onramp-e2e' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# A display number nobody holds (a crashed run may leave a lock file behind).
for n in $(seq 90 199); do [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || break; done
display=":$n"
Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
export DISPLAY="$display"
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

cd "$here"
cargo test -p onramp-e2e --tests -- --test-threads=1 --nocapture "$@"
echo "Screenshots: $here/target/e2e-screenshots/"
