#!/usr/bin/env bash
# The engine half of `make bench`: builds crates/onramp-bench in release and runs it against the
# in-process sandbox, with the in-memory keychain and with a real Secret Service (GNOME Keyring in a
# private D-Bus session, under a throwaway HOME, as tests/e2e.sh does). Prints a heading line and the
# markdown rows `| figure | Onramp median (min–max) | raw median (min–max) | ratio | target |`.
# Extra arguments go to the binary (e.g. --rounds 41). See docs/benchmark-engine.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"

if [ -z "${ONRAMP_BENCH_INSIDE:-}" ]; then
  "${CARGO:-cargo}" build --release --quiet -p onramp-bench --manifest-path "$here/Cargo.toml"
  export ONRAMP_BENCH_INSIDE=1 ONRAMP_BENCH_BIN="$CARGO_TARGET_DIR/release/onramp-bench"
  run="$(mktemp -d "${TMPDIR:-/tmp}/onramp-bench.XXXXXX")"
  trap 'rm -rf "$run"' EXIT
  mkdir -p "$run/home" "$run/runtime"
  chmod 700 "$run/runtime"
  # The keyring daemon keeps its files under this throwaway HOME, never the user's.
  HOME="$run/home" XDG_RUNTIME_DIR="$run/runtime" XDG_DATA_HOME="$run/home/.local/share" \
    XDG_CONFIG_HOME="$run/home/.config" dbus-run-session -- "$0" "$@" \
    2> >(grep -v 'Failed to set fd limit' >&2)
  exit
fi

# Inside the private session bus: an unlocked keyring, then the benchmark.
eval "$(printf 'onramp-bench' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
echo "### Engine hot paths (against the in-process sandbox; medians of alternating rounds)"
# Rows only: `make bench` puts them under its own table header (the binary prints one too).
"$ONRAMP_BENCH_BIN" "$@" | grep -v -e '^| figure |' -e '^|---'
