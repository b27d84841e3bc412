#!/usr/bin/env bash
# Runs every fuzz target of crates/onramp-fuzz under libFuzzer, on stable Rust, and prints a table:
# target, executions, crashes, seconds. Exits non-zero if any target crashed, naming the saved input.
#
#   FUZZ_SECONDS=60   time per target (default 60)
#   FUZZ_RUNS=N       stop a target after N executions instead (whichever comes first)
#   FUZZ_TARGETS="a b" only these targets (default: all)
#   FUZZ_JOBS=2       targets run side by side (default 1)
#   FUZZ_MAX_LEN=1024 the longest input libFuzzer makes (default 4096)
#
# Coverage comes from LLVM's SanitizerCoverage passes, enabled with stable `-C` flags (what
# cargo-fuzz passes, without nightly's sanitizers). The build has its own target dir, since its
# RUSTFLAGS differ from the normal build's. Inputs the fuzzer finds interesting are kept in
# $FUZZ_WORK/corpus/<target> across runs; the committed seeds (crates/onramp-fuzz/corpus/<target>) are
# read, never written. A crashing input is saved as $FUZZ_WORK/artifacts/<target>/crash-<sha1>;
# replay it with `cargo run -p onramp-fuzz -- <target> <file>`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

seconds="${FUZZ_SECONDS:-60}"
runs="${FUZZ_RUNS:-0}"
jobs="${FUZZ_JOBS:-1}"
max_len="${FUZZ_MAX_LEN:-4096}"
work="${FUZZ_WORK:-$HOME/.cache/onramp-fuzz}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/onramp-target-fuzz}"
# The shipped release profile (fat LTO, one codegen unit, opt-level "s": docs/release-profile.md) buys size, not
# coverage, and would make this build (part of `make test`) several times slower: the fuzz driver
# keeps cargo's default release codegen and optimisation.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=3
triple="$(rustc -vV | sed -n 's/^host: //p')"

export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "==> building the fuzz driver (release, coverage, debug assertions and overflow checks on)"
# --target keeps the coverage flags off build scripts and proc macros, which libFuzzer does not link.
"${CARGO:-cargo}" build --release --quiet --target "$triple" -p onramp-fuzz --features libfuzzer
bin="$CARGO_TARGET_DIR/$triple/release/onramp-fuzz"

targets="${FUZZ_TARGETS:-$(sed -n 's/^ *name: "\([a-z_]*\)",$/\1/p' crates/onramp-fuzz/src/lib.rs)}"
mkdir -p "$work/logs"

run_target() {
  local t="$1" seeds="crates/onramp-fuzz/corpus/$1"
  [ -d "$seeds" ] || { echo "no seed corpus at $seeds" >&2; return 2; }
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  local start end status=0
  start=$(date +%s)
  ONRAMP_FUZZ_TARGET="$t" "$bin" "$work/corpus/$t" "$seeds" \
    -max_total_time="$seconds" -runs="$([ "$runs" -gt 0 ] && echo "$runs" || echo -1)" \
    -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t/" >"$work/logs/$t.log" 2>&1 || status=$?
  end=$(date +%s)
  local execs crash="0" saved=""
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/logs/$t.log" | tail -1)
  saved=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/logs/$t.log" | tail -1)
  if [ "$status" -ne 0 ] || [ -n "$saved" ]; then crash=1; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-?}" "$crash" "$((end - start))" "$saved" >"$work/logs/$t.result"
}

running=0
for t in $targets; do
  rm -f "$work/logs/$t.result"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0 total=0
printf '\n%-22s %14s %8s %8s\n' target executions crashes seconds
for t in $targets; do
  if [ ! -f "$work/logs/$t.result" ]; then
    printf '%-22s %14s %8s %8s\n' "$t" "?" "?" "?"; failed=1; continue
  fi
  IFS=$'\t' read -r name execs crash secs saved <"$work/logs/$t.result"
  printf '%-22s %14s %8s %8s\n' "$name" "$execs" "$crash" "$secs"
  [[ "$execs" =~ ^[0-9]+$ ]] && total=$((total + execs))
  if [ "$crash" != 0 ]; then
    failed=1
    echo "  CRASH in $name: input saved as ${saved:-(none; see $work/logs/$name.log)}" >&2
    echo "  log: $work/logs/$name.log; replay: cargo run -p onramp-fuzz -- $name ${saved:-<file>}" >&2
  fi
done
printf '%-22s %14s\n' total "$total"
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a crash" >&2
  exit 1
fi
echo "fuzzing: 0 crashes"
