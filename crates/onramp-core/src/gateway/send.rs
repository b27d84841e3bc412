//! Sending one request with the bearer token, and the retry policy for its answer.

use std::time::{Duration, Instant};

use crate::error::OnrampError;
use crate::model::KeyValue;
use crate::oauth::describe_reqwest_error;
use crate::secrets::{ExposeSecret, SecretString};

/// A raw answer from the gateway.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<KeyValue>,
    pub body: Vec<u8>,
    pub elapsed_ms: u64,
}

pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Sends one request with the bearer token. HTTP error statuses are answers, not errors; only an
/// unreachable provider is an error.
pub async fn send_once(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    access_token: &SecretString,
    body: Option<&str>,
) -> Result<RawResponse, OnrampError> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| OnrampError::invalid("method", format!("{method} is not an HTTP method")))?;
    let started = Instant::now();
    let mut request = http
        .request(method, url)
        .bearer_auth(access_token.expose_secret())
        .header("accept", "application/json");
    if let Some(b) = body {
        request = request
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = request.send().await.map_err(|e| network_failure(url, &e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.as_str().to_string(),
            value: v.to_str().unwrap_or("<binary>").to_string(),
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| network_failure(url, &e))?
        .to_vec();
    Ok(RawResponse {
        status,
        headers,
        body,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// A request to `url` that got no usable answer: a timeout names the server it waited for (the
/// origin only: paths and queries stay out of messages); anything else is a network error.
pub fn network_failure(url: &str, e: &reqwest::Error) -> OnrampError {
    if e.is_timeout() {
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "the server".into());
        return OnrampError::Timeout(origin);
    }
    if crate::oauth::connection_lost(e) {
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "the server".into());
        return OnrampError::ConnectionLost(origin, describe_reqwest_error(e));
    }
    OnrampError::Network(describe_reqwest_error(e))
}

pub fn header<'a>(headers: &'a [KeyValue], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.key.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Retries allowed for 429/503 (rate limits) and for other 5xx answers.
pub const RATE_LIMIT_RETRIES: u32 = 3;
pub const SERVER_ERROR_RETRIES: u32 = 2;
/// Never wait longer than this for one retry; longer waits are reported instead.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How long to wait before retrying an answer, or `None` if it must not be retried.
/// `retries_so_far` counts earlier retries for the same kind of failure.
pub fn retry_delay(
    status: u16,
    headers: &[KeyValue],
    retries_so_far: u32,
    now_unix_ms: i64,
) -> Option<Duration> {
    let rate_limited = status == 429 || status == 503;
    let server_error = matches!(status, 500 | 502 | 504);
    if rate_limited && retries_so_far >= RATE_LIMIT_RETRIES
        || server_error && retries_so_far >= SERVER_ERROR_RETRIES
        || !(rate_limited || server_error)
    {
        return None;
    }
    let told = if rate_limited {
        header(headers, "retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.max(1)))
            .or_else(|| {
                let reset = parse_iso8601_utc(header(headers, "x-ratelimit-reset")?)?;
                Some(Duration::from_millis(
                    (reset * 1000 - now_unix_ms).max(1000) as u64,
                ))
            })
    } else {
        None
    };
    // Without advice: exponential backoff (1 s, 2 s, 4 s for rate limits; 0.5 s, 1 s for 5xx) with jitter.
    let delay = told.unwrap_or_else(|| {
        let base_ms: u64 = if rate_limited { 1000 } else { 500 };
        let backoff = base_ms << retries_so_far;
        let jitter = (now_unix_ms.unsigned_abs() % 250) * backoff / 1000;
        Duration::from_millis(backoff + jitter)
    });
    (delay <= MAX_RETRY_WAIT).then_some(delay)
}

/// `yyyy-MM-ddTHH:mm[:ss][.fff]Z` (the X-RateLimit-Reset form) → Unix seconds.
pub fn parse_iso8601_utc(s: &str) -> Option<i64> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let h = t.next()?.parse::<i64>().ok()?;
    let min = t.next()?.parse::<i64>().ok()?;
    let sec = t
        .next()
        .map(|x| x.split('.').next().unwrap_or("0").parse::<i64>())
        .transpose()
        .ok()?
        .unwrap_or(0);
    // Each part is range-checked both ways: a header holding `T-9223372036854775808:00Z` must
    // not overflow the arithmetic below.
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&min)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + min * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::to_result;

    /// A server that takes the request and closes the connection without answering (it crashed or
    /// restarted mid-request) is named as such, not as "could not reach".
    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_connection_lost() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/rest/api/3/myself",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 1024];
            let _ = socket.read(&mut head).await;
            // Dropped: closed without a byte of answer.
        });
        let Err(e) = send_once(&crate::tls::client(), "GET", &url, &"tok".into(), None).await
        else {
            panic!("a closed connection is not an answer");
        };
        assert!(matches!(e, OnrampError::ConnectionLost(..)), "{e:?}");
        let ui = e.to_ui();
        assert!(
            ui.title.contains("closed before it answered"),
            "{}",
            ui.title
        );
    }

    #[tokio::test]
    async fn send_once_reports_status_headers_and_body() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/ex/jira/c1/rest/api/3/myself")
            .match_header("authorization", "Bearer tok")
            .with_status(401)
            .with_header("content-type", "application/json")
            .with_header("X-RateLimit-Remaining", "10")
            .with_body(r#"{"code":401,"message":"Unauthorized; scope does not match"}"#)
            .create_async()
            .await;
        let url = format!("{}/ex/jira/c1/rest/api/3/myself", server.url());
        let raw = send_once(&crate::tls::client(), "GET", &url, &"tok".into(), None)
            .await
            .unwrap();
        let r = to_result("jira-myself", "GET", &url, raw, 1, false, None);
        assert_eq!(r.status, 401);
        assert!(!r.ok);
        assert!(r.body.contains("scope does not match"));
        assert!(r.body.contains('\n'), "body is pretty-printed");
        assert_eq!(
            r.rate_limit_headers,
            vec![KeyValue {
                key: "x-ratelimit-remaining".into(),
                value: "10".into()
            }]
        );
        assert!(r.size_bytes > 10);
    }

    #[test]
    fn retry_policy_honours_retry_after_and_bounds() {
        let h = |k: &str, v: &str| {
            vec![KeyValue {
                key: k.into(),
                value: v.into(),
            }]
        };
        assert_eq!(
            retry_delay(429, &h("Retry-After", "7"), 0, 0),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_delay(429, &h("Retry-After", "7"), RATE_LIMIT_RETRIES, 0),
            None,
            "bounded"
        );
        assert_eq!(
            retry_delay(429, &h("Retry-After", "600"), 0, 0),
            None,
            "too long a wait is reported, not slept"
        );
        let reset_at = parse_iso8601_utc("2026-03-02T10:05Z").unwrap();
        let wait = retry_delay(
            429,
            &h("X-RateLimit-Reset", "2026-03-02T10:05Z"),
            0,
            (reset_at - 30) * 1000,
        )
        .unwrap();
        assert_eq!(wait, Duration::from_secs(30));
        let backoff = retry_delay(429, &[], 1, 0).unwrap();
        assert!(backoff >= Duration::from_secs(2) && backoff < Duration::from_secs(3));
        assert!(retry_delay(500, &[], 0, 0).is_some());
        assert_eq!(retry_delay(500, &[], SERVER_ERROR_RETRIES, 0), None);
        assert_eq!(retry_delay(404, &[], 0, 0), None);
        assert_eq!(retry_delay(401, &[], 0, 0), None);
    }

    #[test]
    fn negative_time_parts_are_refused() {
        for s in [
            "2026-01-01T-1:00Z",
            "2026-01-01T00:-5Z",
            "2026-01-01T00:00:-1Z",
            "2026-01-01T-9223372036854775808:00Z",
            "2026-01-01T00:-9223372036854775808Z",
        ] {
            assert_eq!(parse_iso8601_utc(s), None, "{s}");
        }
    }

    #[test]
    fn iso_timestamps_parse() {
        assert_eq!(parse_iso8601_utc("1970-01-01T00:00Z"), Some(0));
        assert_eq!(parse_iso8601_utc("2026-03-02T10:05:30Z"), Some(1772445930));
        assert_eq!(parse_iso8601_utc("2026-13-02T10:05Z"), None);
        assert_eq!(parse_iso8601_utc("tomorrow"), None);
        assert_eq!(
            parse_iso8601_utc("99999999999999-01-01T00:00Z"),
            None,
            "an absurd year is refused, not overflowed"
        );
    }
}
