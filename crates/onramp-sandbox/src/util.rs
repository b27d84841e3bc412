//! Small helpers: random tokens, percent-encoding, redirect building, UTC timestamps.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Query or form parameters; the first occurrence of a name wins.
pub(crate) fn parse_form(input: &[u8]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(input) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// `prefix` + URL-safe base64 (no padding) of 32 bytes from the OS CSPRNG.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// PKCE S256: base64url-no-pad(sha256(verifier)) (RFC 7636 §4.2).
pub(crate) fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Percent-encodes everything except RFC 3986 unreserved characters and `keep`.
/// Spaces become `%20` (not `+`), which is what Atlassian's error redirects show.
pub(crate) fn pct_encode(value: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends query parameters to a redirect URI, keeping the registered string byte-for-byte
/// (re-serialising through `url::Url` could normalise it, e.g. drop a default port).
/// Works for custom schemes such as `onramp://callback` too.
pub(crate) fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match uri.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (uri, None),
    };
    let mut out = base.to_string();
    if !out.contains('?') {
        out.push('?');
    } else if !(out.ends_with('?') || out.ends_with('&')) {
        out.push('&');
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct_encode(k, b""), pct_encode(v, b"")))
        .collect();
    out.push_str(&query.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// UTC calendar fields of `time`: (year, month, day, hour, minute, second, millisecond).
fn utc_fields(time: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
        since.subsec_millis(),
    )
}

/// Jira's timestamp style, e.g. `2025-01-31T09:05:07.123+0000`.
pub(crate) fn jira_time(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = utc_fields(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+0000")
}

/// `X-RateLimit-Reset` style, `yyyy-MM-ddTHH:mmZ` (reference §9.2).
pub(crate) fn rate_limit_reset(after: Duration) -> String {
    let (y, mo, d, h, mi, _, _) = utc_fields(SystemTime::now() + after);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}Z")
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Opaque pagination cursor for an offset (sandbox format; clients must not parse it).
pub(crate) fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sbx-offset:{offset}"))
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sbx-offset:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_long() {
        let a = random_token("sbx_at_");
        let b = random_token("sbx_at_");
        assert!(a.starts_with("sbx_at_"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "sbx_at_".len() + 43);
    }

    #[test]
    fn pkce_s256_matches_an_independent_computation() {
        // Expected value from Python: urlsafe_b64encode(sha256(verifier)).rstrip("=").
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjWgIkM"),
            "y2-Dl9PiDjTiscPE06Pr6M9dYg5KBZKCtsiCqoPp6L8"
        );
    }

    #[test]
    fn appends_to_plain_query_and_custom_scheme_uris() {
        assert_eq!(
            append_query("onramp://callback", &[("code", "a b"), ("state", "x&y")]),
            "onramp://callback?code=a%20b&state=x%26y"
        );
        assert_eq!(
            append_query("http://127.0.0.1:80/cb?app=1#frag", &[("code", "c")]),
            "http://127.0.0.1:80/cb?app=1&code=c#frag"
        );
    }

    #[test]
    fn formats_utc_times() {
        let t = UNIX_EPOCH + Duration::from_millis(1_738_314_307_123);
        assert_eq!(jira_time(t), "2025-01-31T09:05:07.123+0000");
        assert_eq!(jira_time(UNIX_EPOCH), "1970-01-01T00:00:00.000+0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert!(jira_time(leap).starts_with("2000-02-29T00:00"));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(7)), Some(7));
        assert_eq!(decode_cursor("not a cursor"), None);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
