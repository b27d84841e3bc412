//! Atlassian's 2026 rate-limit headers read into one status (reference atlassian-2026.md §3): which
//! limit a 429 hit (`RateLimit-Reason`), when to retry, the near-limit warning on a success
//! (`X-RateLimit-NearLimit`), and the beta headers. Only the names and meanings the reference gives
//! are interpreted; anything else is shown as sent.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{header, parse_iso8601_utc};
use crate::model::KeyValue;

/// One policy of `Beta-RateLimit-Policy`, e.g. `"global-app-quota";q=65000;w=3600`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BetaPolicy {
    /// The quoted name, e.g. `global-app-quota`.
    pub name: String,
    /// The other parameters as sent (`q=65000`, `w=3600`).
    pub parameters: Vec<KeyValue>,
}

/// What an answer's rate-limit headers say, in Onramp's words where the reference gives a meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitStatus {
    /// `RateLimit-Reason` as sent (on a 429), e.g. `jira-burst-based`.
    pub reason: Option<String>,
    /// Which limit that reason names, in words; None for a value the reference does not list.
    pub limit_hit: Option<String>,
    /// `X-RateLimit-NearLimit: true`: fewer than 20 % of the quota is left.
    pub near_limit: bool,
    /// `Retry-After`, in seconds.
    #[ts(type = "number | null")]
    pub retry_after_secs: Option<u64>,
    /// `X-RateLimit-Reset` as sent (ISO-8601, on a 429).
    pub reset: Option<String>,
    /// `X-RateLimit-Reset` as Unix seconds, when it parses.
    #[ts(type = "number | null")]
    pub reset_unix: Option<i64>,
    /// `X-RateLimit-Limit` and `X-RateLimit-Remaining` as sent.
    pub limit: Option<String>,
    pub remaining: Option<String>,
    /// `Beta-RateLimit-Policy` (or the legacy `X-Beta-RateLimit-Policy`), one entry per policy.
    pub beta_policies: Vec<BetaPolicy>,
    /// `Beta-RateLimit` (or `X-Beta-RateLimit`) as sent: the reference gives no format to read.
    pub beta_rate_limit: Option<String>,
    /// `Beta-Retry-After` (or `X-Beta-Retry-After`) as sent.
    pub beta_retry_after: Option<String>,
    /// A sentence for the response view; None when no header says anything worth a line.
    pub summary: Option<String>,
}

/// The `RateLimit-Reason` values the reference lists, and the limit each names.
fn limit_named_by(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "jira-quota-global-based" => "Jira's hourly points quota (the app's global pool)",
        "jira-quota-tenant-based" => "Jira's hourly points quota for this site (per-tenant pool)",
        "jira-burst-based" => "Jira's per-second burst limit (per site, endpoint and method)",
        "jira-per-issue-on-write" => "Jira's limit on writes to one issue",
        "confluence-quota-global-based" => {
            "Confluence's hourly points quota (the app's global pool)"
        }
        "confluence-quota-tenant-based" => {
            "Confluence's hourly points quota for this site (per-tenant pool)"
        }
        _ => return None,
    })
}

/// What to do about each kind of limit: quotas refill with time, bursts and per-issue writes need
/// the calls spread out.
pub fn advice_for(reason: Option<&str>) -> &'static str {
    match reason {
        Some(r) if r.ends_with("burst-based") => {
            "Spread the calls out: the burst limit counts requests per second to the same endpoint and method."
        }
        Some("jira-per-issue-on-write") => {
            "Space out writes to the same issue; writes to other issues are not held back by this limit."
        }
        Some(r) if r.contains("-quota-") => {
            "The hourly quota refills with time: wait for the reset, then make fewer or cheaper calls (cache answers, ask for fewer fields)."
        }
        _ => "Wait for the time in Retry-After / X-RateLimit-Reset and try again; retrying earlier gets the same or a longer wait.",
    }
}

/// The headers of `name` or, failing that, its legacy `X-` form.
fn beta<'a>(headers: &'a [KeyValue], name: &str) -> Option<&'a str> {
    header(headers, name).or_else(|| header(headers, &format!("x-{name}")))
}

/// `"global-app-quota";q=65000;w=3600, "other";q=1` → one entry per policy. Malformed parts are
/// kept as parameters without a value rather than dropped.
pub fn parse_beta_policies(value: &str) -> Vec<BetaPolicy> {
    value
        .split(',')
        .filter_map(|policy| {
            let mut parts = policy.split(';').map(str::trim);
            let name = parts.next()?.trim_matches('"').to_string();
            if name.is_empty() {
                return None;
            }
            let parameters = parts
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (key, value) = p.split_once('=').unwrap_or((p, ""));
                    KeyValue {
                        key: key.trim().to_string(),
                        value: value.trim().trim_matches('"').to_string(),
                    }
                })
                .collect();
            Some(BetaPolicy { name, parameters })
        })
        .collect()
}

/// Reads the rate-limit headers of one answer.
pub fn rate_limit_status(status: u16, headers: &[KeyValue]) -> RateLimitStatus {
    let text = |name: &str| header(headers, name).map(|v| v.trim().to_string());
    let reason = text("ratelimit-reason").filter(|r| !r.is_empty());
    let near_limit = header(headers, "x-ratelimit-nearlimit")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let reset = text("x-ratelimit-reset");
    let mut out = RateLimitStatus {
        limit_hit: reason
            .as_deref()
            .and_then(limit_named_by)
            .map(str::to_string),
        reason,
        near_limit,
        retry_after_secs: header(headers, "retry-after").and_then(|v| v.trim().parse().ok()),
        reset_unix: reset.as_deref().and_then(parse_iso8601_utc),
        reset,
        limit: text("x-ratelimit-limit"),
        remaining: text("x-ratelimit-remaining"),
        beta_policies: beta(headers, "beta-ratelimit-policy")
            .map(parse_beta_policies)
            .unwrap_or_default(),
        beta_rate_limit: beta(headers, "beta-ratelimit").map(|v| v.trim().to_string()),
        beta_retry_after: beta(headers, "beta-retry-after").map(|v| v.trim().to_string()),
        summary: None,
    };
    out.summary = summary(status, &out);
    out
}

/// When to retry, in words: Retry-After first, else the reset time.
pub fn when_to_retry(s: &RateLimitStatus) -> String {
    match (s.retry_after_secs, &s.reset) {
        (Some(secs), _) => format!("Retry after {secs} s (Retry-After)."),
        (None, Some(reset)) => format!("Retry after {reset} (X-RateLimit-Reset)."),
        (None, None) => "The answer names no time to retry (no Retry-After or X-RateLimit-Reset): back off, doubling the wait each time.".into(),
    }
}

fn summary(status: u16, s: &RateLimitStatus) -> Option<String> {
    if status == 429 {
        let which = match (&s.limit_hit, &s.reason) {
            (Some(limit), _) => format!("{limit} was hit."),
            (None, Some(reason)) => format!("RateLimit-Reason: {reason}."),
            (None, None) => {
                "The answer does not say which limit was hit (no RateLimit-Reason).".into()
            }
        };
        return Some(format!("{which} {}", when_to_retry(s)));
    }
    if s.near_limit {
        let left = s
            .remaining
            .as_ref()
            .map(|r| format!(" ({r} left)"))
            .unwrap_or_default();
        return Some(format!("Near the rate limit: fewer than 20 % of the quota is left{left}. Slow down before calls start getting 429."));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_429_names_the_limit_and_when_to_retry() {
        let s = rate_limit_status(
            429,
            &headers(&[
                ("RateLimit-Reason", "jira-burst-based"),
                ("Retry-After", "5"),
                ("X-RateLimit-Reset", "2026-03-02T10:05Z"),
            ]),
        );
        assert_eq!(s.reason.as_deref(), Some("jira-burst-based"));
        assert!(s.limit_hit.as_deref().unwrap().contains("burst"));
        assert_eq!(s.retry_after_secs, Some(5));
        assert_eq!(s.reset_unix, parse_iso8601_utc("2026-03-02T10:05Z"));
        let summary = s.summary.unwrap();
        assert!(
            summary.contains("burst limit") && summary.contains("5 s"),
            "{summary}"
        );
    }

    #[test]
    fn every_documented_reason_has_words_and_an_unknown_one_is_shown_as_sent() {
        for reason in [
            "jira-quota-global-based",
            "jira-quota-tenant-based",
            "jira-burst-based",
            "jira-per-issue-on-write",
            "confluence-quota-global-based",
            "confluence-quota-tenant-based",
        ] {
            let s = rate_limit_status(429, &headers(&[("ratelimit-reason", reason)]));
            assert!(s.limit_hit.is_some(), "{reason}");
            assert_ne!(advice_for(Some(reason)), advice_for(None), "{reason}");
        }
        let s = rate_limit_status(429, &headers(&[("RateLimit-Reason", "new-kind")]));
        assert_eq!(s.limit_hit, None);
        assert!(s.summary.unwrap().contains("RateLimit-Reason: new-kind"));
    }

    #[test]
    fn a_429_without_retry_after_says_so() {
        let s = rate_limit_status(429, &[]);
        let summary = s.summary.unwrap();
        assert!(summary.contains("does not say which limit"), "{summary}");
        assert!(summary.contains("names no time to retry"), "{summary}");
    }

    #[test]
    fn near_limit_warns_on_a_success_only_when_true() {
        let s = rate_limit_status(
            200,
            &headers(&[
                ("X-RateLimit-NearLimit", "true"),
                ("X-RateLimit-Remaining", "12"),
            ]),
        );
        assert!(s.near_limit);
        assert!(s.summary.unwrap().contains("12 left"));
        let calm = rate_limit_status(200, &headers(&[("X-RateLimit-NearLimit", "false")]));
        assert!(!calm.near_limit);
        assert_eq!(calm.summary, None);
        assert_eq!(rate_limit_status(200, &[]), RateLimitStatus::default());
    }

    #[test]
    fn beta_headers_are_read_with_their_legacy_names() {
        let s = rate_limit_status(
            200,
            &headers(&[
                (
                    "Beta-RateLimit-Policy",
                    "\"global-app-quota\";q=65000;w=3600",
                ),
                ("X-Beta-RateLimit", "\"global-app-quota\";r=64000;t=1200"),
                ("X-Beta-Retry-After", "30"),
            ]),
        );
        assert_eq!(
            s.beta_policies,
            vec![BetaPolicy {
                name: "global-app-quota".into(),
                parameters: headers(&[("q", "65000"), ("w", "3600")]),
            }]
        );
        assert_eq!(
            s.beta_rate_limit.as_deref(),
            Some("\"global-app-quota\";r=64000;t=1200")
        );
        assert_eq!(s.beta_retry_after.as_deref(), Some("30"));
    }

    #[test]
    fn malformed_policies_do_not_panic() {
        for value in ["", ",,", ";;q", "\"\";q=1", "\"a\";=;q==", "\u{0}"] {
            let _ = parse_beta_policies(value);
        }
        assert_eq!(parse_beta_policies("\"a\";q")[0].parameters[0].key, "q");
    }
}
