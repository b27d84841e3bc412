#!/usr/bin/env bash
# The desktop half of `make bench`: Onramp's release build against the bare floor app
# (bench/floor), alternating runs, under Xvfb in a private D-Bus session with an unlocked GNOME
# Keyring and throwaway HOME/XDG directories (as tests/e2e.sh). Prints markdown table rows; the
# measuring is scripts/bench_desktop.py. Expects both release binaries (scripts/bench.sh builds them).
# Knobs: BENCH_RUNS (8), BENCH_SETTLE_SECONDS (5), BENCH_IDLE_SECONDS (10), BENCH_COLD_CACHE (1: no
# shader cache kept between runs, no warm-up launch), BENCH_DETAILS (a file
# for the per-process and per-thread detail; stderr when unset).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"

if [ -z "${ONRAMP_BENCH_INSIDE:-}" ]; then
  export ONRAMP_BENCH_INSIDE=1
  export TAURI_DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
  for bin in onramp onramp-floor; do
    [ -x "$CARGO_TARGET_DIR/release/$bin" ] || {
      echo "missing $CARGO_TARGET_DIR/release/$bin: run scripts/bench.sh (make bench)" >&2
      exit 1
    }
  done
  run="$here/target/bench"
  rm -rf "$run"
  mkdir -p "$run/keyring-home" "$run/runtime"
  chmod 700 "$run/runtime"
  # The keyring daemon keeps its files under this throwaway HOME, never the user's.
  export HOME="$run/keyring-home" XDG_RUNTIME_DIR="$run/runtime"
  export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config"
  # The session bus and the services it starts (portals, accessibility) are chatty on stderr: their
  # output goes to a log, the bench's own progress to the terminal (fd 3).
  exec 3>&2
  exec dbus-run-session -- "$0" "$@" 2>"$run/session.log"
fi

# Inside the private session bus from here on.
eval "$(printf 'onramp-bench' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
for n in $(seq 90 199); do [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || break; done
display=":$n"
Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
export DISPLAY="$display"
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

python3 "$here/scripts/bench_desktop.py" \
  "$CARGO_TARGET_DIR/release/onramp" "$CARGO_TARGET_DIR/release/onramp-floor" \
  "$TAURI_DRIVER" "$here/target/bench" "$CARGO_TARGET_DIR" 2>&3
