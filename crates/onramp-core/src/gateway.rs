//! Calls through the provider's API gateway: site discovery and test calls.
//!
//! Atlassian's 3LO tokens work only against the gateway (`https://api.atlassian.com`), with product
//! calls under `/ex/{jira|confluence}/{cloudId}`; never against `<site>.atlassian.net`.

use std::time::{Duration, Instant};

use crate::error::OnrampError;
use crate::model::{KeyValue, Provider, Site, TestCallPreset, TestCallResult, UiError};
use crate::oauth::describe_reqwest_error;

pub const ACCESSIBLE_RESOURCES_PATH: &str = "/oauth/token/accessible-resources";

/// The full URL of a test call: gateway + product path (with the cloudId) + the call's path.
pub fn test_call_url(
    provider: &Provider,
    preset: &TestCallPreset,
    cloud_id: Option<&str>,
) -> Result<String, OnrampError> {
    let base = provider.gateway_url.trim_end_matches('/');
    match preset.product {
        // Custom providers name a full URL.
        None if preset.path.starts_with("https://") || preset.path.starts_with("http://") => {
            Ok(preset.path.clone())
        }
        None => Ok(format!("{base}{}", preset.path)),
        Some(product) => {
            let cloud_id = cloud_id.ok_or(OnrampError::NoSiteSelected)?;
            if cloud_id.is_empty()
                || !cloud_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(OnrampError::invalid(
                    "cloudId",
                    format!("\"{cloud_id}\" is not a cloudId"),
                ));
            }
            Ok(format!(
                "{base}/ex/{}/{cloud_id}{}",
                product.gateway_segment(),
                preset.path
            ))
        }
    }
}

pub fn accessible_resources_url(provider: &Provider) -> String {
    format!(
        "{}{ACCESSIBLE_RESOURCES_PATH}",
        provider.gateway_url.trim_end_matches('/')
    )
}

/// The answer to `GET /oauth/token/accessible-resources`. Sites come in no particular order; one
/// site may appear once per product, so entries are merged by id with the union of their scopes.
pub fn parse_accessible_resources(raw: &RawResponse) -> Result<Vec<Site>, OnrampError> {
    let body = String::from_utf8_lossy(&raw.body).into_owned();
    if raw.status != 200 {
        return Err(OnrampError::UnexpectedResponse {
            status: raw.status,
            body,
        });
    }
    let sites: Vec<Site> =
        serde_json::from_str(&body).map_err(|e| OnrampError::UnexpectedResponse {
            status: raw.status,
            body: format!("accessible-resources is not the expected list of sites ({e}): {body}"),
        })?;
    Ok(merge_sites(sites))
}

/// Nango's rule (reference nango-atlassian.md §0.6, fixed in Nango #4883): the site's host must
/// start with exactly that label, case-insensitively, so `acme` matches `acme.atlassian.net` but not
/// `acme-1.atlassian.net`. Accepts `acme`, `acme.atlassian.net` or `https://acme.atlassian.net/`.
pub fn site_matches_subdomain(site_url: &str, subdomain: &str) -> bool {
    let wanted = subdomain.trim();
    if wanted.is_empty() {
        return true;
    }
    let wanted = wanted
        .split("://")
        .last()
        .unwrap_or(wanted)
        .split(['/', '.'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = url::Url::parse(site_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    host.split('.').next() == Some(wanted.as_str())
}

pub fn merge_sites(raw: Vec<Site>) -> Vec<Site> {
    let mut merged: Vec<Site> = Vec::new();
    for site in raw {
        match merged.iter_mut().find(|s| s.id == site.id) {
            Some(existing) => {
                for scope in site.scopes {
                    if !existing.scopes.contains(&scope) {
                        existing.scopes.push(scope);
                    }
                }
            }
            None => merged.push(site),
        }
    }
    merged
}

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
    access_token: &str,
    body: Option<&str>,
) -> Result<RawResponse, OnrampError> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| OnrampError::invalid("method", format!("{method} is not an HTTP method")))?;
    let started = Instant::now();
    let mut request = http
        .request(method, url)
        .bearer_auth(access_token)
        .header("accept", "application/json");
    if let Some(b) = body {
        request = request
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = request
        .send()
        .await
        .map_err(|e| OnrampError::Network(describe_reqwest_error(&e)))?;
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
        .map_err(|e| OnrampError::Network(describe_reqwest_error(&e)))?
        .to_vec();
    Ok(RawResponse {
        status,
        headers,
        body,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

pub fn header<'a>(headers: &'a [KeyValue], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.key.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Retry-After, X-RateLimit-*, RateLimit-*, Beta-RateLimit-* and X-Beta-RateLimit-* (reference §9.2).
pub fn rate_limit_headers(headers: &[KeyValue]) -> Vec<KeyValue> {
    headers
        .iter()
        .filter(|h| {
            let k = h.key.to_ascii_lowercase();
            k == "retry-after"
                || k.starts_with("x-ratelimit")
                || k.starts_with("ratelimit")
                || k.starts_with("beta-ratelimit")
                || k.starts_with("x-beta-ratelimit")
        })
        .cloned()
        .collect()
}

/// How to fetch the next page, if the answer says there is one.
pub fn pagination_hint(headers: &[KeyValue], body: &serde_json::Value) -> Option<String> {
    if let Some(token) = body.get("nextPageToken").and_then(|v| v.as_str()) {
        return Some(format!(
            "More results: repeat the request with nextPageToken={token}"
        ));
    }
    if let Some(next) = body.pointer("/_links/next").and_then(|v| v.as_str()) {
        return Some(format!("More results: GET {next}"));
    }
    if let Some(next) = body.get("nextPage").and_then(|v| v.as_str()) {
        return Some(format!("More results: GET {next}"));
    }
    let link = header(headers, "link")?;
    link.split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| {
            // The header comes from the network: `>` before `<` must not panic.
            let start = l.find('<')? + 1;
            let end = start + l[start..].find('>')?;
            Some(format!("More results: GET {}", &l[start..end]))
        })
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
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || min > 59
        || sec > 60
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

/// Turns a raw answer into what the UI shows. `error` is the diagnosis for a non-2xx answer.
pub fn to_result(
    preset_id: &str,
    method: &str,
    url: &str,
    raw: RawResponse,
    attempts: u32,
    refreshed: bool,
    error: Option<UiError>,
) -> TestCallResult {
    let text = String::from_utf8_lossy(&raw.body).into_owned();
    let json = serde_json::from_str::<serde_json::Value>(&text).ok();
    let body = json
        .as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .unwrap_or(text);
    let pagination = pagination_hint(
        &raw.headers,
        json.as_ref().unwrap_or(&serde_json::Value::Null),
    );
    TestCallResult {
        preset_id: preset_id.to_string(),
        method: method.to_string(),
        url: url.to_string(),
        status: raw.status,
        elapsed_ms: raw.elapsed_ms,
        ok: (200..300).contains(&raw.status),
        content_type: header(&raw.headers, "content-type").map(str::to_string),
        body,
        error,
        size_bytes: raw.body.len() as u64,
        rate_limit_headers: rate_limit_headers(&raw.headers),
        headers: raw.headers,
        pagination,
        attempts,
        refreshed,
    }
}

/// `curl` for a request; the token is `$ACCESS_TOKEN` unless the caller passes the real one.
pub fn curl_command(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let auth = match token {
        Some(t) => format!("Authorization: Bearer {t}"),
        None => "Authorization: Bearer $ACCESS_TOKEN".to_string(),
    };
    let auth = if token.is_some() {
        quote(&auth)
    } else {
        format!("\"{auth}\"")
    };
    let mut cmd = format!(
        "curl -sS -X {method} {} \\\n  -H {auth} \\\n  -H 'Accept: application/json'",
        quote(url)
    );
    if let Some(b) = body {
        cmd.push_str(&format!(
            " \\\n  -H 'Content-Type: application/json' \\\n  --data-raw {}",
            quote(b)
        ));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn preset(p: &Provider, id: &str) -> TestCallPreset {
        p.test_calls.iter().find(|t| t.id == id).unwrap().clone()
    }

    #[test]
    fn gateway_urls_per_product() {
        let c = Catalog::load().unwrap();
        let a = c.provider("atlassian", None).unwrap();
        assert_eq!(
            test_call_url(&a, &preset(&a, "jira-myself"), Some("1324a887-45db")).unwrap(),
            "https://api.atlassian.com/ex/jira/1324a887-45db/rest/api/3/myself"
        );
        assert_eq!(
            test_call_url(&a, &preset(&a, "confluence-spaces"), Some("abc")).unwrap(),
            "https://api.atlassian.com/ex/confluence/abc/wiki/api/v2/spaces?limit=1"
        );
        assert_eq!(
            test_call_url(&a, &preset(&a, "accessible-resources"), None).unwrap(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        let gov = c.provider("atlassian-government-cloud", None).unwrap();
        assert_eq!(
            test_call_url(&gov, &preset(&gov, "jira-server-info"), Some("c1")).unwrap(),
            "https://api.atlassian-us-gov-mod.com/ex/jira/c1/rest/api/3/serverInfo"
        );
    }

    #[test]
    fn product_calls_need_a_valid_cloud_id() {
        let c = Catalog::load().unwrap();
        let a = c.provider("atlassian", None).unwrap();
        let p = preset(&a, "jira-myself");
        assert!(matches!(
            test_call_url(&a, &p, None),
            Err(OnrampError::NoSiteSelected)
        ));
        assert!(test_call_url(&a, &p, Some("../admin")).is_err());
    }

    #[test]
    fn subdomain_filter_matches_the_host_label_exactly() {
        let url = "https://acme.atlassian.net";
        for ok in [
            "acme",
            "ACME",
            "acme.atlassian.net",
            "https://acme.atlassian.net/",
            " acme ",
            "",
        ] {
            assert!(site_matches_subdomain(url, ok), "{ok:?}");
        }
        for no in ["acm", "acme-1", "atlassian", "globex"] {
            assert!(!site_matches_subdomain(url, no), "{no:?}");
        }
        assert!(!site_matches_subdomain(
            "https://acme-1.atlassian.net",
            "acme"
        ));
    }

    #[test]
    fn sites_are_merged_by_id() {
        let site = |id: &str, scopes: &[&str]| Site {
            id: id.into(),
            name: id.into(),
            url: format!("https://{id}.example"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
        };
        let merged = merge_sites(vec![
            site("a", &["read:jira-work"]),
            site("b", &["read:page:confluence"]),
            site("a", &["read:space:confluence", "read:jira-work"]),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0].scopes,
            vec!["read:jira-work", "read:space:confluence"]
        );
    }

    #[tokio::test]
    async fn accessible_resources_parses_the_documented_shape() {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("GET", ACCESSIBLE_RESOURCES_PATH)
            .match_header("authorization", "Bearer tok")
            .with_status(200)
            .with_body(r#"[{"id":"1324a887","name":"Site name","url":"https://your-domain.atlassian.net","scopes":["write:jira-work"],"avatarUrl":"https://x/flag.png"}]"#)
            .create_async()
            .await;
        let mut p = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        p.gateway_url = server.url();
        let raw = send_once(
            &reqwest::Client::new(),
            "GET",
            &accessible_resources_url(&p),
            "tok",
            None,
        )
        .await
        .unwrap();
        let sites = parse_accessible_resources(&raw).unwrap();
        mock.assert_async().await;
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].id, "1324a887");
        assert_eq!(sites[0].avatar_url.as_deref(), Some("https://x/flag.png"));
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
        let raw = send_once(&reqwest::Client::new(), "GET", &url, "tok", None)
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

    #[test]
    fn pagination_hints() {
        let none: Vec<KeyValue> = vec![];
        let jql = serde_json::json!({"issues": [], "nextPageToken": "abc"});
        assert!(pagination_hint(&none, &jql)
            .unwrap()
            .contains("nextPageToken=abc"));
        let v2 =
            serde_json::json!({"results": [], "_links": {"next": "/wiki/api/v2/spaces?cursor=x"}});
        assert!(pagination_hint(&none, &v2).unwrap().contains("cursor=x"));
        let link = vec![KeyValue {
            key: "Link".into(),
            value: "</wiki/api/v2/pages?cursor=y>; rel=\"next\"".into(),
        }];
        assert!(pagination_hint(&link, &serde_json::Value::Null)
            .unwrap()
            .contains("cursor=y"));
        assert!(pagination_hint(&none, &serde_json::json!({"isLast": true})).is_none());
        let broken = vec![KeyValue {
            key: "Link".into(),
            value: "> junk <; rel=\"next\"".into(),
        }];
        assert!(
            pagination_hint(&broken, &serde_json::Value::Null).is_none(),
            "a malformed Link header gives no hint and no panic"
        );
    }

    #[test]
    fn curl_uses_a_placeholder_unless_asked() {
        let c = curl_command(
            "POST",
            "https://api.atlassian.com/ex/jira/c/rest/api/3/issue",
            Some(r#"{"a":"it's"}"#),
            None,
        );
        assert!(c.contains("$ACCESS_TOKEN"));
        assert!(c.contains(r#"--data-raw '{"a":"it'\''s"}'"#), "{c}");
        let real = curl_command("GET", "https://x/y", None, Some("tok123"));
        assert!(real.contains("Bearer tok123") && !real.contains("$ACCESS_TOKEN"));
    }
}
