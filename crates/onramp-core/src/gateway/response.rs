//! A raw answer shaped for the UI (pretty body, rate-limit headers, pagination hint), and the
//! `curl` equivalent of a request.

use super::{header, RawResponse};
use crate::model::{KeyValue, TestCallResult, UiError};

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
        rate_limit: super::rate_limit_status(raw.status, &raw.headers),
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
