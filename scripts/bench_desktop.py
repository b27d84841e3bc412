#!/usr/bin/env python3
"""The desktop half of `make bench`: Onramp against the bare Tauri floor app (bench/floor).

Runs inside scripts/bench-desktop.sh (a private D-Bus session, an unlocked GNOME Keyring, Xvfb).
Alternates the two apps (onramp, floor, onramp, floor, ...) so both see the same machine load, and
prints markdown table rows: `| figure | Onramp median (min–max) | floor median (min–max) | ratio | target |`.
The per-thread and per-process detail (where Onramp's excess goes) is written to BENCH_DETAILS.

Standard library only: WebDriver is plain JSON over HTTP, the figures come from /proc.
"""

import datetime
import json
import re
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict

RUNS = int(os.environ.get("BENCH_RUNS", "8"))
SETTLE_S = float(os.environ.get("BENCH_SETTLE_SECONDS", "5"))
IDLE_S = float(os.environ.get("BENCH_IDLE_SECONDS", "10"))
# A second idle window of the same length, this long after interactive: the steady state, once
# start-up's garbage is collected (JavaScriptCore's collector runs until ~17 s after start; measured).
LATE_IDLE_AFTER_S = float(os.environ.get("BENCH_LATE_IDLE_AFTER_SECONDS", "20"))
# Each app keeps one cache folder across its runs, filled by a first launch that is not counted: a
# user's second launch onwards. Without a GPU, WebKit draws with Mesa's llvmpipe, which compiles
# every shader the page needs on the first launch (~1.3 s of CPU for Onramp's page, measured) and
# then reads them from ~/.cache/mesa_shader_cache. BENCH_COLD_CACHE=1 measures the first launch.
COLD_CACHE = os.environ.get("BENCH_COLD_CACHE", "") not in ("", "0")
POLL_S = 0.010
START_TIMEOUT_S = 120.0
MIB = 1024 * 1024

# How far each app got, as one script per poll: 0 = nothing yet, 1 = the page rendered its first
# element, 2 = the first step is in the DOM, 3 = the first step is interactive.
# Onramp: its shell renders at once ("Starting Onramp…"); the provider step appears once `bootstrap`
# answered, and its primary control (Next) is enabled once the first-run provider is preselected:
# the app has finished starting.
READY_SCRIPTS = {
    "onramp": (
        "if (document.querySelector('#next:not([disabled])')"
        " && document.querySelector('[data-testid=\"step-providers\"]')) return 3;"
        "if (document.querySelector('[data-testid=\"step-providers\"]')) return 2;"
        "return document.querySelector('.shell') ? 1 : 0;"
    ),
    # The floor's whole page is its marker.
    "floor": "return document.querySelector('[data-testid=\"floor-ready\"]') ? 3 : 0;",
}

ANIMATIONS = {
    "script": "return document.getAnimations().map(a => {"
    " const t = a.effect && a.effect.target;"
    " const who = t ? t.tagName.toLowerCase() + (t.className ? '.' + String(t.className).split(' ').join('.') : '') : '?';"
    " return who + ' ' + (a.animationName || a.transitionProperty || a.constructor.name); });",
    "args": [],
}

# After the measurements: the page's own timings (navigation, each loaded file) and, for Onramp, one
# more `bootstrap` (warm: the first one is inside the start-up figure) with the size of its answer.
PROBE = {
    "script": "const done = arguments[arguments.length - 1];"
    " const nav = performance.getEntriesByType('navigation')[0];"
    " const out = {domContentLoaded: nav ? nav.domContentLoadedEventEnd : null, timeOrigin: performance.timeOrigin,"
    "  resources: performance.getEntriesByType('resource').map(r =>"
    "   [r.name.split('/').pop(), r.duration, r.decodedBodySize || r.encodedBodySize || 0]),"
    "  marks: performance.getEntriesByType('mark').concat(performance.getEntriesByType('paint'))"
    "   .map(m => [m.name, m.startTime])};"
    " const invoke = window.__TAURI_INTERNALS__ && window.__TAURI_INTERNALS__.invoke;"
    " if (!arguments[0] || !invoke) { done(out); return; }"
    " const t = performance.now();"
    " invoke('bootstrap').then(r => { out.bootstrapMs = performance.now() - t;"
    "  out.bootstrapBytes = new TextEncoder().encode(JSON.stringify(r)).length; done(out); },"
    "  e => { out.bootstrapError = String(e); done(out); });",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=START_TIMEOUT_S):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    # No proxy: everything here is on 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"null")


# ---- /proc ---------------------------------------------------------------------------------------


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def children_map():
    kids = defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read(f"/proc/{name}/stat")
            if stat:
                # The comm field may hold spaces; ppid is the second field after its closing paren.
                ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                kids[ppid].append(int(name))
    return kids


def descendants(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def find_app(root, binary):
    want = os.path.realpath(binary)
    for p in descendants(root):
        try:
            if os.readlink(f"/proc/{p}/exe") == want:
                return p
        except OSError:
            pass
    return None


def comm(path):
    return read(path).strip() or "?"


def pss_by_process(app_pid):
    """PSS in bytes of the app and every descendant (WebKit's web and network processes)."""
    out = {}
    for p in descendants(app_pid):
        for line in read(f"/proc/{p}/smaps_rollup").splitlines():
            if line.startswith("Pss:"):
                out[(p, comm(f"/proc/{p}/comm"))] = int(line.split()[1]) * 1024
    return out


def pss_by_mapping(app_pid):
    """PSS in bytes per (process name, mapping) over the app tree: which memory grows (the JavaScript
    heap and anonymous memory, a library, a GPU buffer)."""
    out = defaultdict(int)
    for p in descendants(app_pid):
        pname = comm(f"/proc/{p}/comm")
        name = "?"
        for line in read(f"/proc/{p}/smaps").splitlines():
            head = line.split()
            if head and re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head[0]):
                name = os.path.basename(head[5]) if len(head) > 5 else "[anonymous]"
            elif head and head[0] == "Pss:":
                out[(pname, name)] += int(head[1]) * 1024
    return dict(out)


def thread_counters(app_pid):
    """{(pid, tid): (process name, thread name, context switches, CPU ns)} over the process tree."""
    out = {}
    for p in descendants(app_pid):
        pname = comm(f"/proc/{p}/comm")
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            base = f"/proc/{p}/task/{t}"
            switches = 0
            for line in read(f"{base}/status").splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
            sched = read(f"{base}/schedstat").split()
            cpu_ns = int(sched[0]) if sched else 0
            out[(p, t)] = (pname, comm(f"{base}/comm"), switches, cpu_ns)
    return out


def window(before, after):
    """Per thread (process name, thread name, context switches, CPU ns) between two readings."""
    out = {}
    for key, (pname, tname, sw, cpu) in after.items():
        sw0, cpu0 = before.get(key, (pname, tname, 0, 0))[2:]
        out[key] = (pname, tname, sw - sw0, cpu - cpu0)
    return out


def log_timeline(path, t0_wall):
    """Onramp's own log lines as (what, ms after the session request): where its start-up time goes."""
    out = []
    for line in read(path).splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+)Z\s+\w+\s+(\S+): (.*)", line)
        if not m:
            continue
        stamp = datetime.datetime.fromisoformat(m[1][:26]).replace(tzinfo=datetime.timezone.utc)
        what = re.sub(r"\d+", "N", m[3].split(";")[0])[:60]
        out.append((f"{m[2]}: {what}", (stamp.timestamp() - t0_wall) * 1000))
    return out


# ---- one run -------------------------------------------------------------------------------------


class Driver:
    """tauri-driver (+ WebKitWebDriver + the app) in its own process group, stopped as a whole."""

    def __init__(self, tauri_driver, env, log_path):
        self.port, native = free_port(), free_port()
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [tauri_driver, "--port", str(self.port), "--native-port", str(native)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http("GET", f"{self.url}/status", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tauri-driver did not answer /status")

    def stop(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        # The app may linger a moment after the driver is gone; wait for the group to empty.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def run_once(kind, binary, tauri_driver, run_dir, cache_home):
    home = os.path.join(run_dir, "home")
    shutil.rmtree(home, ignore_errors=True)
    for d in (".config", ".local/share/applications", ".cache", ".local/state"):
        os.makedirs(os.path.join(home, d), exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=home,
        XDG_CONFIG_HOME=f"{home}/.config",
        XDG_DATA_HOME=f"{home}/.local/share",
        # Mesa's shader cache (and WebKit's caches) live here: see COLD_CACHE.
        XDG_CACHE_HOME=cache_home or f"{home}/.cache",
        XDG_STATE_HOME=f"{home}/.local/state",
        XDG_CURRENT_DESKTOP="X-Generic",
        # Onramp's first run, on ports no other Onramp holds (the floor ignores these).
        ONRAMP_CONFIG_DIR=f"{home}/onramp-config",
        ONRAMP_LOG_DIR=f"{home}/onramp-logs",
        ONRAMP_SANDBOX_PORT=str(free_port()),
        ONRAMP_LOOPBACK_PORT=str(free_port()),
    )
    driver = Driver(tauri_driver, env, os.path.join(run_dir, "tauri-driver.log"))
    try:
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": binary, "args": []}}}}
        script = {"script": READY_SCRIPTS[kind], "args": []}
        t0, t0_wall = time.perf_counter(), time.time()
        created = http("POST", f"{driver.url}/session", caps)
        sid = (created or {}).get("value", {}).get("sessionId")
        if not sid:
            raise RuntimeError(f"no WebDriver session: {created}")
        session_ms = (time.perf_counter() - t0) * 1000
        reached = {}
        while True:
            now = time.perf_counter()
            if now - t0 > START_TIMEOUT_S:
                raise RuntimeError(f"{kind}: the first step never became interactive")
            state = (http("POST", f"{driver.url}/session/{sid}/execute/sync", script) or {}).get("value")
            now = time.perf_counter()
            for level in range(1, state + 1 if isinstance(state, int) else 1):
                reached.setdefault(level, (now - t0) * 1000)
            if 3 in reached:
                break
            time.sleep(POLL_S)
        app = find_app(driver.proc.pid, binary)
        if app is None:
            raise RuntimeError(f"{kind}: no process runs {binary}")
        # Nothing talks to the app from here on: the session stays open and idle.
        time.sleep(SETTLE_S)
        pss = pss_by_process(app)
        mappings = pss_by_mapping(app)
        before = thread_counters(app)
        time.sleep(IDLE_S)
        after = thread_counters(app)
        threads = window(before, after)
        time.sleep(max(0.0, LATE_IDLE_AFTER_S - SETTLE_S - IDLE_S))
        late_before = thread_counters(app)
        time.sleep(IDLE_S)
        late_threads = window(late_before, thread_counters(app))
        # After the window, not during it: what was still animating (an animation keeps WebKit's
        # compositor painting every frame, the costliest kind of idle wakeup).
        animating = (http("POST", f"{driver.url}/session/{sid}/execute/sync", ANIMATIONS) or {}).get("value")
        probe = {"script": PROBE["script"], "args": [kind == "onramp"]}
        page = (http("POST", f"{driver.url}/session/{sid}/execute/async", probe) or {}).get("value")
        if isinstance(page, dict) and isinstance(page.get("timeOrigin"), (int, float)):
            # The page's navigation start on the session-request clock (both are wall-clock ms).
            page["navigationStartMs"] = page["timeOrigin"] - t0_wall * 1000
        try:
            http("DELETE", f"{driver.url}/session/{sid}", timeout=10)
        except OSError:
            pass
        return {
            "session_ms": session_ms,
            "rendered_ms": reached[1],
            "in_dom_ms": reached[2],
            "interactive_ms": reached[3],
            "pss": pss,
            "mappings": mappings,
            "threads": threads,
            "late_threads": late_threads,
            "processes": len({p for (p, _) in after}),
            "animating": animating if isinstance(animating, list) else [],
            "page": page if isinstance(page, dict) else {},
            "log": log_timeline(os.path.join(home, "onramp-logs", "onramp.log"), t0_wall),
        }
    finally:
        driver.stop()


# ---- report --------------------------------------------------------------------------------------


def spread(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def row(figure, onramp, floor, fmt, target=None):
    m_on, m_fl = statistics.median(onramp), statistics.median(floor)
    ratio = m_on / m_fl if m_fl else float("inf")
    verdict = ""
    if target is not None:
        verdict = f"≤ {target}× {'✓' if ratio <= target else '✗'}"
    return f"| {figure} | {spread(onramp, fmt)} | {spread(floor, fmt)} | {ratio:.2f} | {verdict} |"


def size_row(figure, onramp_bytes, floor_bytes, target=None):
    fmt = lambda b: f"{b / MIB:.1f} MiB"  # noqa: E731
    if onramp_bytes is None or floor_bytes is None:
        on = fmt(onramp_bytes) if onramp_bytes is not None else "n/a (run make package)"
        fl = fmt(floor_bytes) if floor_bytes is not None else "n/a (run make package)"
        return f"| {figure} | {on} | {fl} | — | {f'≤ {target}×' if target else ''} |"
    ratio = onramp_bytes / floor_bytes
    verdict = f"≤ {target}× {'✓' if ratio <= target else '✗'}" if target else ""
    return f"| {figure} | {fmt(onramp_bytes)} | {fmt(floor_bytes)} | {ratio:.2f} | {verdict} |"


def stripped_size(binary, scratch):
    out = os.path.join(scratch, os.path.basename(binary) + ".stripped")
    subprocess.run(["strip", "-o", out, binary], check=True)
    return os.path.getsize(out)


LIBRARIES_BIN = "onramp-floor-libraries"
# The size target (stripped binary ≤ 1.5× the floor), used by both size rows.
BINARY_TARGET = 1.5


def libraries_row(libraries_bin, scratch, onramp_bytes, floor_bytes):
    """The floor plus one use of each library Onramp links (bench/floor/src/libraries.rs), beside
    the floor: what the libraries take of the 1.5x budget before any Onramp code, and what is left."""
    figure = "the floor + Onramp's libraries, no Onramp code (bench/floor/src/libraries.rs), stripped"
    if not os.path.exists(libraries_bin):
        return f"| {figure} | n/a (scripts/bench.sh builds it) | | — | |"
    libraries = stripped_size(libraries_bin, scratch)
    budget = BINARY_TARGET * floor_bytes - libraries
    own = onramp_bytes - libraries
    if budget >= 0:
        note = f"leaves Onramp's own code {budget / MIB:.1f} MiB of the {BINARY_TARGET}× budget; it takes {own / MIB:.1f} MiB"
    else:
        note = f"over the {BINARY_TARGET}× budget by {-budget / MIB:.1f} MiB before any Onramp code (which takes {own / MIB:.1f} MiB)"
    return f"| {figure} | {libraries / MIB:.1f} MiB | {floor_bytes / MIB:.1f} MiB | {libraries / floor_bytes:.2f} | {note} |"


def find_deb(target_dir, names):
    deb_dir = os.path.join(target_dir, "release", "bundle", "deb")
    if not os.path.isdir(deb_dir):
        return None
    debs = [f for f in os.listdir(deb_dir) if f.endswith(".deb") and f.split("_")[0] in names]
    if not debs:
        return None
    newest = max(debs, key=lambda f: os.path.getmtime(os.path.join(deb_dir, f)))
    return os.path.getsize(os.path.join(deb_dir, newest))


def details(results):
    """Where each app's memory and idle wakeups go, averaged over the runs."""
    lines = []
    for kind in ("onramp", "floor"):
        runs = results[kind]
        n = len(runs)
        by_proc = defaultdict(int)
        for r in runs:
            for (_, pname), b in r["pss"].items():
                by_proc[pname] += b / n
        lines.append(f"\n### {kind}: PSS by process (mean of {n} runs)\n")
        lines.append("| process | PSS |")
        lines.append("|---|---|")
        for pname, b in sorted(by_proc.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {pname} | {b / MIB:.1f} MiB |")
        by_mapping = defaultdict(int)
        for r in runs:
            for key, b in r["mappings"].items():
                by_mapping[key] += b / n
        lines.append(f"\n{kind}: the largest mappings by PSS (mean of {n} runs):\n")
        for (pname, name), b in sorted(by_mapping.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"- {pname} `{name}`: {b / MIB:.1f} MiB")
        for window_key, after_s in (("threads", SETTLE_S), ("late_threads", LATE_IDLE_AFTER_S)):
            by_thread = defaultdict(lambda: [0, 0])
            for r in runs:
                for pname, tname, sw, cpu in r[window_key].values():
                    by_thread[(pname, tname)][0] += sw / n
                    by_thread[(pname, tname)][1] += cpu / n
            lines.append(
                f"\n### {kind}: idle wakeups by thread over {IDLE_S:g} s from {after_s:g} s after"
                f" interactive (mean of {n} runs)\n"
            )
            lines.append("| process | thread | context switches | CPU |")
            lines.append("|---|---|---|---|")
            ranked = sorted(by_thread.items(), key=lambda kv: -kv[1][0])
            for (pname, tname), (sw, cpu) in ranked:
                if sw < 0.5 and cpu < 50_000:
                    continue
                lines.append(f"| {pname} | {tname} | {sw:.1f} | {cpu / 1e6:.2f} ms |")
        animating = sorted({a for r in runs for a in r["animating"]})
        lines.append(f"\nStill animating after the idle window: {', '.join(animating) or 'nothing'}.")
        pages = [r["page"] for r in runs if r["page"]]
        if pages:
            nav = [p["navigationStartMs"] for p in pages if "navigationStartMs" in p]
            if nav:
                lines.append(f"The page's navigation start after the session request (median): {statistics.median(nav):.0f} ms.")
            dcl = [p["domContentLoaded"] for p in pages if p.get("domContentLoaded") is not None]
            if dcl:
                lines.append(f"DOMContentLoaded after navigation start (median): {statistics.median(dcl):.0f} ms.")
            files = defaultdict(list)
            for p in pages:
                for name, ms, size in p.get("resources", []):
                    files[name].append((ms, size))
            for name, seen in sorted(files.items()):
                ms = statistics.median(m for m, _ in seen)
                size = max(b for _, b in seen)
                lines.append(f"- loaded `{name}`: {size / 1024:.0f} KiB, {ms:.0f} ms (median)")
            marks = defaultdict(list)
            for p in pages:
                for name, ms in p.get("marks", []):
                    marks[name].append(ms)
            if marks:
                lines.append("The page's marks and paints, ms after its navigation start (median):")
                for name, seen in sorted(marks.items(), key=lambda kv: statistics.median(kv[1])):
                    lines.append(f"- {statistics.median(seen):.0f} ms: {name}")
            boot = [p["bootstrapMs"] for p in pages if "bootstrapMs" in p]
            if boot:
                size = max(p["bootstrapBytes"] for p in pages if "bootstrapBytes" in p)
                lines.append(
                    f"A warm `bootstrap` call (after the idle window): {statistics.median(boot):.1f} ms"
                    f" (median), its answer {size / 1024:.0f} KiB of JSON."
                )
            errors = {p["bootstrapError"] for p in pages if "bootstrapError" in p}
            if errors:
                lines.append(f"`bootstrap` failed: {'; '.join(sorted(errors))}")
        timeline = defaultdict(list)
        for r in runs:
            for what, ms in r["log"]:
                timeline[what].append(ms)
        if timeline:
            lines.append("\nIts log, ms after the session request (median):\n")
            for what, ms in sorted(timeline.items(), key=lambda kv: statistics.median(kv[1])):
                lines.append(f"- {statistics.median(ms):.0f} ms: {what}")
        threads_n = statistics.median(len(r["threads"]) for r in runs)
        procs_n = statistics.median(r["processes"] for r in runs)
        lines.append(f"\nThreads (median): {threads_n:g} in {procs_n:g} processes.")
    return "\n".join(lines) + "\n"


def main():
    onramp_bin, floor_bin, tauri_driver, work, target_dir = sys.argv[1:6]
    bins = {"onramp": onramp_bin, "floor": floor_bin}
    results = {"onramp": [], "floor": []}

    def cache_home(kind):
        return None if COLD_CACHE else os.path.join(work, f"cache-{kind}")

    def run_retrying(kind, run_dir, label):
        os.makedirs(run_dir, exist_ok=True)
        # WebDriver start-up occasionally drops the session request on a loaded machine: such a
        # run measured nothing, so it is started again (its time never enters the figures).
        for attempt in range(3):
            try:
                return run_once(kind, bins[kind], tauri_driver, run_dir, cache_home(kind))
            except (OSError, RuntimeError) as e:
                if attempt == 2:
                    raise
                print(f"  {label} {kind}: {e}; starting it again", file=sys.stderr)

    if not COLD_CACHE:
        for kind in ("onramp", "floor"):
            run_retrying(kind, os.path.join(work, f"{kind}-warm-up"), "warm-up")
            print(f"  warm-up {kind}: not counted (fills its shader cache)", file=sys.stderr, flush=True)
    for i in range(RUNS):
        for kind in ("onramp", "floor"):
            r = run_retrying(kind, os.path.join(work, f"{kind}-{i + 1}"), f"run {i + 1}/{RUNS}")
            results[kind].append(r)
            wake = sum(t[2] for t in r["threads"].values())
            print(
                f"  run {i + 1}/{RUNS} {kind:6}: session {r['session_ms']:.0f} ms, "
                f"rendered {r['rendered_ms']:.0f} ms, interactive {r['interactive_ms']:.0f} ms, "
                f"PSS {sum(r['pss'].values()) / MIB:.0f} MiB, {wake} wakeups",
                file=sys.stderr,
                flush=True,
            )

    def idle_rows(window_key, after_s, how=""):
        """The wakeup (targeted) and CPU rows of one idle window."""
        when = f"/ {IDLE_S:g} s, from {after_s:g} s after interactive"
        return [
            (f"idle wakeups {when}{how}", lambda r: sum(t[2] for t in r[window_key].values()), lambda v: f"{v:.0f}", 1.5),
            (f"idle CPU {when}", lambda r: sum(t[3] for t in r[window_key].values()) / 1e6, lambda v: f"{v:.1f} ms", None),
        ]

    def figure(kind, fn):
        return [fn(r) for r in results[kind]]

    ms = lambda v: f"{v:.0f} ms"  # noqa: E731
    figures = [
        ("exec → page rendered (WebDriver)", lambda r: r["rendered_ms"], ms, None),
        ("exec → first step in the DOM (WebDriver)", lambda r: r["in_dom_ms"], ms, None),
        ("exec → first step interactive (WebDriver)", lambda r: r["interactive_ms"], ms, 1.2),
        (
            f"PSS of app + WebKit processes, {SETTLE_S:g} s after interactive",
            lambda r: sum(r["pss"].values()) / MIB,
            lambda v: f"{v:.0f} MiB",
            1.1,
        ),
        *idle_rows("threads", SETTLE_S, " (context switches, all threads)"),
        *idle_rows("late_threads", LATE_IDLE_AFTER_S),
    ]
    for name, fn, fmt, target in figures:
        print(row(name, figure("onramp", fn), figure("floor", fn), fmt, target))
    onramp_size, floor_size = stripped_size(onramp_bin, work), stripped_size(floor_bin, work)
    print(size_row("release binary, stripped", onramp_size, floor_size, BINARY_TARGET))
    print(libraries_row(os.path.join(os.path.dirname(floor_bin), LIBRARIES_BIN), work, onramp_size, floor_size))
    print(
        size_row(
            ".deb package",
            find_deb(target_dir, {"Onramp", "onramp"}),
            find_deb(target_dir, {"onramp-floor"}),
        )
    )
    detail_path = os.environ.get("BENCH_DETAILS")
    text = details(results)
    if detail_path:
        with open(detail_path, "w") as f:
            f.write(text)
    else:
        sys.stderr.write(text)


if __name__ == "__main__":
    main()
