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

/** "in 59 min", "3 min ago" relative to `nowSeconds`. */
export function relative(unixSeconds: number, nowSeconds: number): string {
  const d = Math.round(unixSeconds - nowSeconds);
  const abs = Math.abs(d);
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
