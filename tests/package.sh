#!/usr/bin/env bash
# The Debian package, checked as a user would meet it (`make package-test`, as root):
#  1. inspected with dpkg-deb: /usr/bin/onramp present and stripped, the run-time dependencies, one
#     desktop entry that passes desktop-file-validate, registers x-scheme-handler/onramp and has an
#     unquoted Exec with %u (Debian 12's xdg-open cannot start a quoted path);
#  2. installed with dpkg -i; the desktop database (dpkg's trigger) names the entry for onramp://;
#  3. under Xvfb and a private session bus with a throwaway HOME: `xdg-open` and `gio open` on an
#     onramp:// URL each start the installed /usr/bin/onramp (cold, the package's entry being the
#     only handler), which logs that a deep link arrived; a second URL while it runs is handed to
#     the running instance (single-instance). The package is removed at the end.
# Expects the .deb built (`make package`); DEB=path overrides where it is looked for.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/onramp-target}"
run="$here/target/package-test"

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

# Waits up to 60 s (a loaded machine; not a speed check) for a command to succeed.
wait_for() {
  local what="$1"; shift
  for _ in $(seq 600); do "$@" >/dev/null && return 0; sleep 0.1; done
  fail "timed out waiting for: $what"
}

if [ -z "${ONRAMP_PACKAGE_TEST_INSIDE:-}" ]; then
  [ "$(id -u)" = 0 ] || fail "installs a package: run as root (a CI machine or a container)"
  version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$here/src-tauri/tauri.conf.json" | head -n1)"
  deb="${DEB:-$CARGO_TARGET_DIR/release/bundle/deb/Onramp_${version}_$(dpkg --print-architecture).deb}"
  [ -f "$deb" ] || fail "no package at $deb: run 'make package'"
  echo "==> $deb ($(stat -c %s "$deb") bytes)"
  rm -rf "$run"
  mkdir -p "$run/contents"

  # 1. What the package holds.
  dpkg-deb -I "$deb"
  package="$(dpkg-deb -f "$deb" Package)"
  depends="$(dpkg-deb -f "$deb" Depends)"
  for dep in libwebkit2gtk-4.1-0 libgtk-3-0; do
    grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
  done
  ok "package $package depends on $depends"
  dpkg-deb -x "$deb" "$run/contents"
  bin="$run/contents/usr/bin/onramp"
  [ -x "$bin" ] || fail "usr/bin/onramp missing or not executable"
  described="$(file -b "$bin")"
  grep -q ', stripped' <<<"$described" || fail "usr/bin/onramp is not stripped: $described"
  ok "usr/bin/onramp: $(stat -c %s "$bin") bytes, $described"
  mapfile -t entries < <(cd "$run/contents" && find usr/share/applications -name '*.desktop')
  [ "${#entries[@]}" = 1 ] || fail "expected one desktop entry, found: ${entries[*]:-none}"
  entry="$run/contents/${entries[0]}"
  entry_name="$(basename "$entry")"
  desktop-file-validate "$entry" || fail "desktop-file-validate rejects ${entries[0]}"
  grep -qx 'MimeType=.*x-scheme-handler/onramp;.*' "$entry" || fail "no x-scheme-handler/onramp in MimeType"
  exec_line="$(grep '^Exec=' "$entry")"
  [[ "$exec_line" =~ ^Exec=[^\"\'\ ]+\ %u$ ]] || fail "Exec must be an unquoted program and %u: $exec_line"
  ok "${entries[0]} validates; $exec_line; $(grep '^MimeType=' "$entry")"

  # 2. Installed, as a user would; removed whatever happens next.
  trap 'echo "==> dpkg -r $package"; dpkg -r "$package" >/dev/null || true' EXIT
  dpkg -i "$deb"
  [ -x /usr/bin/onramp ] || fail "/usr/bin/onramp not installed"
  grep -q "^x-scheme-handler/onramp=.*$entry_name" /usr/share/applications/mimeinfo.cache \
    || fail "the desktop database (desktop-file-utils' dpkg trigger) does not list $entry_name for onramp://"
  ok "installed; mimeinfo.cache: $(grep '^x-scheme-handler/onramp=' /usr/share/applications/mimeinfo.cache)"

  # 3. Launches, in a private session with no desktop environment (xdg-open's generic mode, the
  # one that cannot start a quoted Exec).
  mkdir -p "$run/runtime"
  chmod 700 "$run/runtime"
  unset XDG_CURRENT_DESKTOP DESKTOP_SESSION GNOME_DESKTOP_SESSION_ID KDE_FULL_SESSION BROWSER
  export XDG_RUNTIME_DIR="$run/runtime" XDG_DATA_DIRS=/usr/local/share:/usr/share
  export ONRAMP_PACKAGE_TEST_INSIDE=1 ENTRY_NAME="$entry_name"
  start=$(date +%s)
  # The session's own chatter (portals, accessibility bus) goes to a file, printed on failure.
  dbus-run-session -- "$0" "$@" 2>"$run/session.err" || { tail -n 40 "$run/session.err"; exit 1; }
  echo "==> launches checked in $(( $(date +%s) - start )) s"
  echo "Package test passed."
  exit 0
fi

# Inside the private session bus from here on.
for n in $(seq 90 199); do [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || break; done
Xvfb ":$n" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
export DISPLAY=":$n"
wait_for "Xvfb on $DISPLAY" test -e "/tmp/.X11-unix/X$n"

# The pid of the installed binary running with `url` in its arguments (xdg-open, a shell script,
# carries the URL too, so the executable is what tells them apart).
app_pid() {
  local url="$1" pid
  for pid in $(pgrep -f onramp || true); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/onramp ] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$url" && { echo "$pid"; return 0; }
  done
  return 1
}
received() { [ "$(grep -c 'deep link received' "$1" 2>/dev/null)" -ge "$2" ]; }
stop_app() {
  kill "$1" 2>/dev/null || true
  wait_for "onramp (pid $1) to exit" bash -c "! kill -0 $1 2>/dev/null"
}

# One cold launch through `opener` in a fresh HOME, so the package's entry is the only handler
# (the app registers its own per-user one once it runs). Leaves the app running in $app.
launch() {
  local opener="$1" url="$2" home="$run/home-$1"
  rm -rf "$home"
  mkdir -p "$home"
  export HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_CONFIG_HOME="$home/.config"
  export ONRAMP_CONFIG_DIR="$home/onramp-config" ONRAMP_LOG_DIR="$home/onramp-log"
  log="$ONRAMP_LOG_DIR/onramp.log"
  local default
  default="$(xdg-mime query default x-scheme-handler/onramp)"
  [ "$default" = "$ENTRY_NAME" ] || fail "xdg-mime names '$default' for onramp://, not $ENTRY_NAME"
  ok "xdg-mime query default x-scheme-handler/onramp: $default"
  case "$opener" in
    # Generic xdg-open runs the program in the foreground until it exits.
    xdg-open) xdg-open "$url" >"$home/opener.out" 2>&1 & ;;
    gio) gio open "$url" >"$home/opener.out" 2>&1 || fail "gio open failed: $(cat "$home/opener.out")" ;;
  esac
  wait_for "$opener to start /usr/bin/onramp with $url" app_pid "$url"
  app="$(app_pid "$url")"
  ok "$opener started pid $app: $(tr '\0' ' ' <"/proc/$app/cmdline")(exe $(readlink "/proc/$app/exe"))"
  wait_for "the app to log the deep link" received "$log" 1
  ok "its log: $(grep -m1 'deep link received' "$log")"
}

launch xdg-open 'onramp://callback?probe=1'
stop_app "$app"

launch gio 'onramp://callback?probe=2'
# A second link while it runs: the new process hands it over the session bus and exits.
xdg-open 'onramp://callback?probe=3' >"$HOME/second.out" 2>&1 || fail "xdg-open (second link) failed: $(cat "$HOME/second.out")"
wait_for "the running app to receive the second link" received "$log" 2
ok "the running instance (pid $app) received the second link; $(grep -c 'Onramp .* starting' "$log") start logged"
stop_app "$app"
