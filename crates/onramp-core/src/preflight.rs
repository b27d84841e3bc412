//! Preflight: what the provider's answers to two harmless probes say about a developer-console
//! setup before anyone logs in (reference nango-api-and-preflight.md §2). Pure: the engine sends the
//! probes (`engine/registration.rs`) and hands the answers here.
//!
//! - The **token probe** exchanges a made-up code. A refused client (`invalid_client`, RFC 6749
//!   §5.2; Atlassian: `401 access_denied "Unauthorized"`) means the client ID or secret is wrong; a
//!   refused *code* (`invalid_grant`; Atlassian: `400 invalid_request "authorization_code is
//!   invalid"` or, in 2020, `403 invalid_grant "Invalid authorization code"`) means the client got
//!   past the client check.
//! - The **authorize probe** opens the authorize URL without a browser, cookies or login. An error
//!   page on the way is a refusal with its decoded reason; a login page is "needs login".
//!
//! Every result is three-way (rejected / accepted / inconclusive) and says what it proves and what
//! it does not: a probe alone never means "it works".

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::oauth_error::{Server, ServerKind};

/// Redirects the authorize probe follows by hand before it gives up (reference §2.1: "up to about 5").
pub const MAX_AUTHORIZE_HOPS: usize = 5;

/// The three answers a probe can give. There is no "pass": a probe never shows a login working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// The provider refused the setup: fix it before authorizing.
    Rejected,
    /// The provider got past what this probe checks.
    Accepted,
    /// The answer does not tell (login needed, rate limit, network, an unknown answer).
    Inconclusive,
}

/// One probe's result in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOutcome {
    pub verdict: ProbeVerdict,
    /// What happened, in one sentence.
    pub summary: String,
    /// What this answer establishes.
    pub proves: String,
    /// What it does not establish.
    pub does_not_prove: String,
    /// What to do next, when something is to be done.
    pub hint: Option<String>,
    /// What the provider answered (status, error code, decoded description); never a secret.
    pub observed: Option<String>,
}

/// The result of "Check these credentials" (both probes) or of the check before authorizing (the
/// token probe only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CredentialCheck {
    /// The client ID that was checked (the secret is never shown).
    pub client_id: String,
    /// Unix seconds.
    #[ts(type = "number")]
    pub checked_at: i64,
    pub token_endpoint: ProbeOutcome,
    /// `None` when only the token endpoint was checked (before authorizing).
    pub authorize: Option<ProbeOutcome>,
}

/// What came back from one probe request.
#[derive(Debug, Clone)]
pub enum ProbeAnswer {
    Http {
        status: u16,
        body: String,
    },
    /// No answer within the HTTP limit.
    TimedOut,
    /// No connection (DNS, refused, TLS); the text says which.
    Unreachable(String),
}

/// The longest observed text shown: it quotes the server (an address, a page, an error), and a
/// hostile or broken server can make that arbitrarily long.
const MAX_OBSERVED_CHARS: usize = 600;

fn outcome(
    verdict: ProbeVerdict,
    summary: impl Into<String>,
    proves: impl Into<String>,
    does_not_prove: impl Into<String>,
    hint: Option<String>,
    observed: Option<String>,
) -> ProbeOutcome {
    ProbeOutcome {
        verdict,
        summary: summary.into(),
        proves: proves.into(),
        does_not_prove: does_not_prove.into(),
        hint,
        observed: observed.map(|o| match o.char_indices().nth(MAX_OBSERVED_CHARS) {
            Some((cut, _)) => format!("{}…", &o[..cut]),
            None => o,
        }),
    }
}

/// Servers whose token and authorize answers follow Atlassian's known texts (the sandbox copies them).
fn atlassian_like(server: &Server) -> bool {
    matches!(server.kind, ServerKind::Atlassian | ServerKind::Sandbox)
}

/// Answers that say nothing about the setup: no answer, a rate limit, a server failure.
fn unusable_answer(server: &Server, endpoint: &str, answer: &ProbeAnswer) -> Option<ProbeOutcome> {
    let who = server.subject();
    let nothing = "Nothing about the client ID, secret or callback URL.";
    match answer {
        ProbeAnswer::TimedOut => Some(outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s {endpoint} did not answer in time."),
            "Nothing: no answer arrived.",
            nothing,
            Some("Check the network (VPN, proxy), then check again.".into()),
            None,
        )),
        ProbeAnswer::Unreachable(why) => Some(outcome(
            ProbeVerdict::Inconclusive,
            format!("Onramp could not reach {who}'s {endpoint}."),
            "Nothing: no answer arrived.",
            nothing,
            Some(
                "Check the network (VPN, proxy) and the endpoint's address, then check again."
                    .into(),
            ),
            Some(why.clone()),
        )),
        ProbeAnswer::Http { status: 429, .. } => Some(outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s {endpoint} answered 429: too many requests."),
            "Only that the endpoint is reachable.",
            nothing,
            Some("Wait a minute, then check again.".into()),
            Some("HTTP 429".into()),
        )),
        ProbeAnswer::Http { status, .. } if *status >= 500 => Some(outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s {endpoint} failed with HTTP {status}."),
            "Only that the endpoint is reachable.",
            nothing,
            Some("The provider has a problem of its own; check again later.".into()),
            Some(format!("HTTP {status}")),
        )),
        ProbeAnswer::Http { .. } => None,
    }
}

/// The OAuth error object of a token endpoint answer (RFC 6749 §5.2): `error`, `error_description`.
fn oauth_error(body: &str) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?.as_str()?.to_string();
    let description = value
        .get("error_description")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Some((error, description))
}

/// Classifies the token endpoint's answer to a code exchange with a made-up code.
pub fn classify_token_probe(server: &Server, answer: &ProbeAnswer) -> ProbeOutcome {
    let who = server.subject();
    if let Some(o) = unusable_answer(server, "token endpoint", answer) {
        return o;
    }
    let ProbeAnswer::Http { status, body } = answer else {
        unreachable!("unusable_answer handles the other kinds")
    };
    let status = *status;
    if (200..300).contains(&status) {
        return outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s token endpoint answered HTTP {status} to a made-up code."),
            "Nothing: a token endpoint should refuse a made-up code.",
            "Anything about the credentials; this may not be a token endpoint at all.",
            Some("Check the token URL.".into()),
            Some(format!("HTTP {status}")),
        );
    }
    // RFC 6749 §5.2: a refusal is a 4xx (400, or 401 for client authentication). A redirect or
    // any other status is not the token endpoint refusing: found by the fuzz target
    // `preflight_answer` (a 301 carrying Atlassian's "authorization_code is invalid" body was read as
    // an acceptance).
    if !(400..500).contains(&status) {
        return outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s token endpoint answered HTTP {status}, which is not a refusal."),
            "Nothing: a token endpoint refuses a made-up code with a 4xx error; a redirect or another status means something else answered (a proxy, a login page, a wrong token URL).",
            "Anything about the client ID or secret.",
            Some("Check the token URL and the network (proxy, VPN), then check again.".into()),
            Some(format!("HTTP {status}")),
        );
    }
    let Some((error, description)) = oauth_error(body) else {
        return outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s token endpoint answered HTTP {status} without an OAuth error."),
            "Nothing: the answer is not the JSON error a token endpoint sends (a proxy, a portal or a wrong token URL may have answered).",
            "Anything about the client ID or secret.",
            Some("Check the token URL and the network (proxy, VPN), then check again.".into()),
            Some(format!("HTTP {status}, not an OAuth error")),
        );
    };
    let observed = Some(if description.is_empty() {
        format!("HTTP {status}, {error}")
    } else {
        format!("HTTP {status}, {error}: {description}")
    });
    let lower = description.to_ascii_lowercase();
    let names_the_code =
        lower.contains("authorization_code") || lower.contains("authorization code");
    let settings = server.client_settings();
    let rejected = |why: &str| {
        outcome(
            ProbeVerdict::Rejected,
            format!("{who} rejected the client ID and secret."),
            format!("The token endpoint refused the client itself {why}, so the code exchange after login would fail the same way."),
            if atlassian_like(server) {
                "Which of the two is wrong: Atlassian gives the same answer for a wrong secret and (as far as is known) for a client ID it does not know.".to_string()
            } else {
                "Which of the two is wrong, or whether the server wants another client authentication (HTTP Basic or the request body).".to_string()
            },
            Some(format!("Copy the client ID and the secret again from {settings}, each from its own field (a regenerated secret replaces the old one), save them in step 2, then check again or authorize.")),
            observed.clone(),
        )
    };
    if error == "invalid_client" {
        return rejected("(invalid_client, RFC 6749 §5.2)");
    }
    if atlassian_like(server) && error == "access_denied" && status == 401 {
        return rejected(
            "(401 access_denied: Atlassian's answer to a wrong or missing client secret)",
        );
    }
    let code_refused = if atlassian_like(server) {
        (error == "invalid_request" || error == "invalid_grant") && names_the_code
    } else {
        error == "invalid_grant"
    };
    if code_refused {
        let order = if server.kind == ServerKind::Sandbox {
            " The sandbox checks the client before the code; that Atlassian does too is not confirmed, so there the same answer is weaker evidence."
        } else if atlassian_like(server) {
            " That Atlassian checks the client before the code is not confirmed: if it checked the code first, a wrong secret would get this same answer."
        } else {
            " RFC 6749 does not fix the order of the checks: a server that checks the code first answers this way to a wrong secret too."
        };
        return outcome(
            ProbeVerdict::Accepted,
            format!("{who} accepted the client ID and secret and refused only the made-up code, as expected."),
            "The token endpoint got past the client check: the client ID and secret are most likely right.",
            format!("That the callback URL is registered, that the scopes are added to the app, or that the user may authorize: those are checked at login and consent.{order} The first real code exchange confirms it."),
            None,
            observed,
        );
    }
    outcome(
        ProbeVerdict::Inconclusive,
        format!("{who}'s token endpoint answered with an error this check cannot read ({error})."),
        "Only that the token endpoint answers.",
        "Whether the client ID and secret are right.",
        None,
        observed,
    )
}

/// One answer on the way through the authorize URL.
#[derive(Debug, Clone)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// The `Location` of a redirect, as sent.
    pub location: Option<String>,
}

/// Where a redirect leads, as far as the probe is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Follow it: it may still lead to an error or a login page.
    Follow(String),
    /// Stop here: the hops so far tell the result (callback, error page, login page, not http).
    Stop,
}

/// Whether to follow a hop's redirect. Never into the callback URL (the answer is in its query),
/// an error page or a login page (the answer is in the address), or out of http(s).
pub fn next_hop(hop: &Hop, redirect_uri: &str) -> Next {
    let Some(target) = hop.location.as_deref().and_then(|l| absolute(&hop.url, l)) else {
        return Next::Stop;
    };
    let stop = to_callback(&target, redirect_uri)
        || error_page(&target).is_some()
        || is_login_page(&target)
        || !matches!(target.scheme(), "http" | "https");
    if stop {
        Next::Stop
    } else {
        Next::Follow(target.to_string())
    }
}

fn absolute(base: &str, location: &str) -> Option<url::Url> {
    url::Url::parse(base)
        .ok()
        .and_then(|b| b.join(location).ok())
        .or_else(|| url::Url::parse(location).ok())
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn to_callback(target: &url::Url, redirect_uri: &str) -> bool {
    without_query(target.as_str()) == without_query(redirect_uri)
        || url::Url::parse(redirect_uri).is_ok_and(|r| {
            r.scheme() == target.scheme()
                && r.host_str() == target.host_str()
                && r.port_or_known_default() == target.port_or_known_default()
                && r.path() == target.path()
        })
}

fn query(target: &url::Url, name: &str) -> Option<String> {
    target
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An error page's `error` and `error_description` (Atlassian: `id.atlassian.com/error?error=…`;
/// the sandbox: `/error?error=…`).
fn error_page(target: &url::Url) -> Option<(String, String)> {
    if !target.path().trim_end_matches('/').ends_with("/error") {
        return None;
    }
    let error = query(target, "error")?;
    Some((
        error,
        query(target, "error_description").unwrap_or_default(),
    ))
}

/// A login page (Atlassian: `id.atlassian.com/login?continue=<the authorize URL>`).
fn is_login_page(target: &url::Url) -> bool {
    let path = target.path().to_ascii_lowercase();
    path.split('/')
        .any(|segment| segment == "login" || segment == "signin" || segment == "sign-in")
}

/// The visible text of an HTML page, shortened: what an error page says.
pub fn page_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    let mut skipping = false;
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let rest = &lower[i..];
            if rest.starts_with("<script") || rest.starts_with("<style") {
                skipping = true;
            } else if rest.starts_with("</script") || rest.starts_with("</style") {
                skipping = false;
            }
            in_tag = true;
            text.push(' ');
        } else if bytes[i] == b'>' && in_tag {
            in_tag = false;
        } else if !in_tag && !skipping {
            let ch = html[i..].chars().next().unwrap_or(' ');
            text.push(ch);
            i += ch.len_utf8();
            continue;
        }
        i += 1;
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let decoded = collapsed
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    decoded.chars().take(400).collect()
}

/// What the authorize probe proves when it ends in a refusal.
fn refused(server: &Server, redirect_uri: &str, text: &str, observed: String) -> ProbeOutcome {
    let explained = crate::diagnosis::for_browser_text(text, Some(redirect_uri), Some(server));
    outcome(
        ProbeVerdict::Rejected,
        format!(
            "{} refused the authorize request before login: {}.",
            server.subject(),
            explained.title
        ),
        format!(
            "{} The browser would show this error instead of a consent page.",
            explained.detail
        ),
        "Anything about the client secret: the authorize endpoint does not see it.",
        explained.hint,
        // A server's text, in an address or a page: kept short by `outcome`.
        Some(observed),
    )
}

/// Classifies the hops of an unauthenticated `GET` of the authorize URL. `final_page` is the text
/// of the last answer when it was not a redirect.
pub fn classify_authorize_probe(
    server: &Server,
    redirect_uri: &str,
    answer: Result<(&[Hop], &str), &ProbeAnswer>,
) -> ProbeOutcome {
    let who = server.subject();
    let (hops, final_page) = match answer {
        Err(failure) => {
            return unusable_answer(server, "authorize endpoint", failure).unwrap_or_else(|| {
                outcome(
                    ProbeVerdict::Inconclusive,
                    format!("{who}'s authorize endpoint gave no usable answer."),
                    "Nothing.",
                    "Anything about the setup.",
                    None,
                    None,
                )
            })
        }
        Ok(found) => found,
    };
    let Some(last) = hops.last() else {
        return outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s authorize endpoint was not reached."),
            "Nothing.",
            "Anything about the setup.",
            None,
            None,
        );
    };
    for hop in hops {
        let Some(target) = hop.location.as_deref().and_then(|l| absolute(&hop.url, l)) else {
            continue;
        };
        if to_callback(&target, redirect_uri) {
            if let Some(error) = query(&target, "error") {
                let description = query(&target, "error_description").unwrap_or_default();
                let text = format!("error={error}&error_description={description}");
                return refused(
                    server,
                    redirect_uri,
                    &text,
                    format!("redirected to the callback with error={error} {description}")
                        .trim()
                        .to_string(),
                );
            }
            return outcome(
                ProbeVerdict::Inconclusive,
                format!("{who} sent the browser straight back to the callback URL without asking anyone."),
                "That the callback URL is accepted.",
                "Anything about the secret or the scopes; no code from this probe is used.",
                None,
                Some("redirected to the callback URL".into()),
            );
        }
        if let Some((error, description)) = error_page(&target) {
            let text = format!("error={error}&error_description={description}");
            let observed = format!(
                "error page: {error}{}",
                if description.is_empty() {
                    String::new()
                } else {
                    format!(": {description}")
                }
            );
            return refused(server, redirect_uri, &text, observed);
        }
        if is_login_page(&target) {
            return needs_login(
                server,
                format!(
                    "redirected to the login page ({})",
                    target.host_str().unwrap_or_default()
                ),
            );
        }
    }
    if last.location.is_some() {
        return outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s authorize URL redirected more than {MAX_AUTHORIZE_HOPS} times without reaching a login or error page."),
            "Only that the authorize URL answers.",
            "Anything about the setup.",
            None,
            Some(format!("{} redirects", hops.len())),
        );
    }
    if let Some(o) = unusable_answer(
        server,
        "authorize endpoint",
        &ProbeAnswer::Http {
            status: last.status,
            body: String::new(),
        },
    ) {
        return o;
    }
    let text = page_text(final_page);
    match last.status {
        200..=299 => needs_login(server, format!("HTTP {} with a page", last.status)),
        400 | 404 => {
            let observed = format!("HTTP {}: {text}", last.status);
            let mut o = refused(
                server,
                redirect_uri,
                &format!("{text} HTTP {}", last.status),
                observed,
            );
            if last.status == 404 {
                o.hint = Some("Check the authorize URL: nothing answers at that address.".into());
            }
            o
        }
        status => outcome(
            ProbeVerdict::Inconclusive,
            format!("{who}'s authorize endpoint answered HTTP {status}."),
            "Only that the authorize URL answers.",
            "Anything about the setup: a firewall or a bot check may have answered.",
            None,
            Some(format!("HTTP {status}: {text}")),
        ),
    }
}

/// The login (or, for the sandbox, consent) page: the request was not refused before login, and
/// that is all it shows.
fn needs_login(server: &Server, observed: String) -> ProbeOutcome {
    let (summary, does_not_prove) = match server.kind {
        ServerKind::Sandbox => (
            "The sandbox showed its consent page (it has no login): it found nothing wrong with the client ID, callback URL or scopes.".to_string(),
            "That the code exchange works: the sandbox checks the secret only then.".to_string(),
        ),
        ServerKind::Atlassian => (
            "Needs login: Atlassian sent the probe to its login page.".to_string(),
            "That the client ID, callback URL and scopes are right: as far as is known, Atlassian checks them only after login (a callback URL that is not registered was reported after login). Whether it rejects some of them earlier is not established.".to_string(),
        ),
        _ => (
            format!("Needs login: {} showed a page (its login or consent page) instead of an error.", server.subject()),
            "That the client ID, callback URL and scopes are right: many servers check them only after login.".to_string(),
        ),
    };
    outcome(
        ProbeVerdict::Inconclusive,
        summary,
        "The authorize URL answers and did not refuse the request before login.",
        does_not_prove,
        Some("Authorize in step 4: the real login and consent are the test.".into()),
        Some(observed),
    )
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
