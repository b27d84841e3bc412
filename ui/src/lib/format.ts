/** "4:05" for 245 seconds; "0:00" when past. */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

/** Local date-time for unix seconds. */
export function dateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString();
}

/** "in 59 min", "3 min ago", "just now" relative to `nowSeconds`. */
export function relative(unixSeconds: number, nowSeconds: number): string {
  const d = Math.round(unixSeconds - nowSeconds);
  const abs = Math.abs(d);
  // A moment just past (a refresh a second ago) is not "in 0 s".
  if (abs < 2) return "just now";
  const text =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : `${(abs / 3600).toFixed(1)} h`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** Pretty-print a JSON body; anything else is returned unchanged. */
export function prettyBody(body: string, contentType: string | null): string {
  const looksJson = (contentType ?? "").includes("json") || /^\s*[[{]/.test(body);
  if (!looksJson) return body;
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** "58:12" for 3492 seconds, "1:02:03" from an hour on; "0:00" when past. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** "512 B", "1.4 KB", "2.0 MB" (1 KB = 1024 bytes). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "<1 ms" for 0, "85 ms", "1.24 s". */
export function millis(ms: number): string {
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "about 1 h", "15 min", "45 s" for a duration in seconds. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const h = s / 3600;
  return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
}

/** Time of day for today's unix seconds, otherwise date and time. */
export function when(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
