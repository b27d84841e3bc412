#!/usr/bin/env bash
# `make bench`: builds Onramp and the floor app (bench/floor) in release, then prints one markdown
# table of the desktop figures (scripts/bench-desktop.sh) and one of the engine's hot paths
# (scripts/bench-engine.sh). Ratios are Onramp / floor from alternating runs in this same run.
# See docs/benchmark.md for what each figure measures and the knobs (BENCH_RUNS, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"
CARGO="${CARGO:-cargo}"
cd "$here"

# custom-protocol: built as Tauri's CLI builds a release (what `make package` ships), not in dev mode.
# onramp-floor/libraries adds the second floor binary (the floor + Onramp's libraries, no Onramp code).
$CARGO build --release -p onramp -p onramp-floor --features tauri/custom-protocol,onramp-floor/libraries

details="$(mktemp)"
rows="$(mktemp)"
engine_rows="$(mktemp)"
trap 'rm -f "$details" "$rows" "$engine_rows"' EXIT
echo "Desktop: ${BENCH_RUNS:-8} alternating runs of each app (progress below)..." >&2
# Only table rows: services the session bus starts (at-spi) may print to the same stdout.
BENCH_DETAILS="$details" bash scripts/bench-desktop.sh | grep '^|' >"$rows"
echo "Engine: the hot paths beside the raw HTTP requests..." >&2
bash scripts/bench-engine.sh | grep '^|' >"$engine_rows"

echo
echo "| figure | Onramp median (min–max) | floor median (min–max) | ratio | target |"
echo "|---|---|---|---|---|"
cat "$rows"
echo
echo "Engine hot paths, against the in-process sandbox (the baseline is the same requests made raw):"
echo
echo "| figure | Onramp median (min–max) | raw HTTP median (min–max) | ratio | target |"
echo "|---|---|---|---|---|"
cat "$engine_rows"
echo
echo "## Where it goes"
cat "$details"
