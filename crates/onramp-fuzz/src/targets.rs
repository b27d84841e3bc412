//! The targets. Each runs one input through the real parser and checks what must hold for any
//! input; a broken invariant panics, which the driver records as a crash.

use std::sync::OnceLock;

use onramp_core::catalog::Catalog;
use onramp_core::custom::{self, CustomProvider};
use onramp_core::diagnosis::{self, ResponseContext};
use onramp_core::gateway::{
    merge_sites, pagination_hint, parse_accessible_resources, parse_iso8601_utc,
    rate_limit_headers as kept_rate_limit_headers, retry_delay, site_matches_subdomain, to_result,
    RawResponse, MAX_RETRY_WAIT,
};
use onramp_core::handoff::parse_definition;
use onramp_core::loopback::{check_request, CALLBACK_PATH, DEFAULT_PORT};
use onramp_core::model::{Provider, Site};
use onramp_core::nango::errors::{map_answer, Step};
use onramp_core::oauth::{
    build_authorize_url, parse_callback, read_token_response, AuthorizeParams, CallbackParams,
};
use onramp_core::secrets::ExposeSecret;
use onramp_core::store::legacy;
use onramp_core::OnrampError;
use serde_json::Value;

use crate::{
    assert_not_leaked, custom_input, first_line, headers_and_body, is_secret_like, site,
    status_from,
};

/// A callback URL as a deep link delivers it (`onramp://callback?code=…&state=…`), UTF-8.
pub fn callback_url(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_callback(text);
    }
}

/// Raw bytes sent to the loopback listener: a request head as `loopback::check_request` sees it
/// (request line, `Host`, path), then the accepted URL through [`parse_callback`].
pub fn loopback_request(data: &[u8]) {
    // The listener's own check (`loopback::check_request`), as it runs on a received head; an
    // accepted request's URL must be a callback on this listener that the callback parser handles.
    match check_request(data, DEFAULT_PORT) {
        Ok(url) => {
            let prefix = format!("http://127.0.0.1:{DEFAULT_PORT}{CALLBACK_PATH}");
            assert!(
                url.starts_with(&prefix),
                "an accepted request names another address: {url}"
            );
            check_callback(&url);
        }
        Err(answer) => {
            // Every refusal has a page and a status code (and never echoes the request).
            let _ = format!("{answer:?}");
        }
    }
}

/// What must hold for any callback URL: a parsed callback survives being written out again with
/// its address and four parameters; a refused one never repeats the authorization code in its message.
fn check_callback(text: &str) {
    match parse_callback(text) {
        Ok(params) => {
            let again = parse_callback(&callback_with(&params))
                .unwrap_or_else(|e| panic!("a parsed callback written out again is refused: {e}"));
            assert!(
                fields(&again) == fields(&params),
                "a callback written out again parses differently"
            );
        }
        Err(e) => {
            let query = text.split_once('?').map_or("", |(_, q)| q);
            let query = query.split_once('#').map_or(query, |(q, _)| q);
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if key == "code" && is_secret_like(&value) {
                    assert_error_keeps(&e, &value);
                }
            }
        }
    }
}

/// A callback's address and parameters, the code exposed to compare it.
fn fields(p: &CallbackParams) -> [Option<&str>; 5] {
    [
        Some(p.address.as_str()),
        p.state.as_deref(),
        p.code.as_ref().map(ExposeSecret::expose_secret),
        p.error.as_deref(),
        p.error_description.as_deref(),
    ]
}

fn callback_with(params: &CallbackParams) -> String {
    // Written out on the address it came to (compared with the flow's redirect URI).
    let mut url = url::Url::parse(&params.address).expect("a parsed callback's address is a URL");
    {
        let mut query = url.query_pairs_mut();
        let [_, state, code, error, description] = fields(params);
        for (key, value) in [
            ("state", state),
            ("code", code),
            ("error", error),
            ("error_description", description),
        ] {
            if let Some(v) = value {
                query.append_pair(key, v);
            }
        }
    }
    url.into()
}

/// Neither the error's text nor what the UI receives for it repeats `secret`.
fn assert_error_keeps(e: &OnrampError, secret: &str) {
    assert_not_leaked("an error", &e.to_string(), secret);
    let ui = serde_json::to_string(&e.to_ui()).expect("a UiError serializes");
    assert_not_leaked("an error shown in the UI", &ui, secret);
}

/// A token endpoint's answer. Layout: one byte for the status, then `name: value` header lines, an
/// empty line, and the body. A 2xx answer that is refused must not echo its tokens.
pub fn token_response(data: &[u8]) {
    let Some((&s, rest)) = data.split_first() else {
        return;
    };
    let status = status_from(s, rest.first().copied().unwrap_or(0));
    let (headers, body) = headers_and_body(rest);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_str()))
        .collect();
    match read_token_response(status, &pairs, body) {
        Ok(tokens) => {
            if let (Some(at), Some(lifetime)) = (tokens.expires_at, tokens.lifetime) {
                assert!(lifetime >= 0, "a token's lifetime is negative: {lifetime}");
                assert!(at >= lifetime, "a token expires before it was issued");
            }
        }
        Err(e) if (200..300).contains(&status) => {
            let json: Value = serde_json::from_slice(body).unwrap_or_default();
            for field in ["access_token", "refresh_token", "id_token"] {
                // A value also sent in a header may be echoed as that header (a bad Content-Type).
                let only_in_body = |s: &&str| {
                    headers
                        .iter()
                        .all(|h| !h.key.contains(s) && !h.value.contains(s))
                };
                if let Some(secret) = json[field]
                    .as_str()
                    .filter(|s| is_secret_like(s))
                    .filter(only_in_body)
                {
                    assert_error_keeps(&e, secret);
                }
            }
        }
        Err(_) => {}
    }
}

/// `GET /oauth/token/accessible-resources`. Layout: one byte for the status, then the body.
/// The merged list has one entry per cloudId, merging again changes nothing, and it survives a
/// JSON round trip.
pub fn accessible_resources(data: &[u8]) {
    let Some((&s, body)) = data.split_first() else {
        return;
    };
    let raw = RawResponse {
        status: if s < 200 { 200 } else { status_from(s, 0) },
        headers: Vec::new(),
        body: body.to_vec(),
        elapsed_ms: 0,
    };
    let Ok(sites) = parse_accessible_resources(&raw) else {
        return;
    };
    for (i, a) in sites.iter().enumerate() {
        // A cloudId may be listed once per product; an entry (cloudId and scopes) only once.
        assert!(
            sites[i + 1..].iter().all(|b| b.key != a.key),
            "an entry is listed twice after merging"
        );
        assert_eq!(
            a.key,
            onramp_core::gateway::site_key(&a.id, &a.scopes),
            "the key is the cloudId and its scopes"
        );
        site_matches_subdomain(&a.url, &a.name);
        site_matches_subdomain(&a.url, &a.url);
        onramp_core::nango::subdomain_of(&a.url);
    }
    assert_eq!(merge_sites(sites.clone()), sites, "merging is not stable");
    let text = serde_json::to_string(&sites).expect("sites serialize");
    let again: Vec<Site> = serde_json::from_str(&text).expect("serialized sites parse");
    assert_eq!(again, sites, "sites change through JSON");
}

/// Discovery. Layout: the issuer URL on the first line, the metadata document after it. The
/// metadata URLs of an accepted issuer are URLs; endpoints that pass validation make a provider
/// whose authorize URL carries its state.
pub fn discovery(data: &[u8]) {
    let (issuer, body) = first_line(data);
    let issuer = String::from_utf8_lossy(issuer);
    if let Ok(urls) = custom::metadata_urls(&issuer) {
        for u in urls {
            assert!(
                url::Url::parse(&u).is_ok(),
                "metadata URL {u:?} is not a URL"
            );
        }
    }
    if custom::parse_metadata(body).is_err() {
        return;
    }
    let json: Value = serde_json::from_slice(body).unwrap_or_default();
    let (Some(authorize), Some(token)) = (
        json["authorization_endpoint"].as_str(),
        json["token_endpoint"].as_str(),
    ) else {
        return;
    };
    let input = custom_input(authorize, token, &issuer);
    if custom::validate(&input).is_err() {
        return;
    }
    let provider = custom::to_provider(&CustomProvider {
        id: format!("{}fuzz", custom::ID_PREFIX),
        input,
    });
    let request = build_authorize_url(&AuthorizeParams {
        provider: &provider,
        client_id: "client",
        redirect_uri: "http://127.0.0.1:47823/callback",
        scopes: &provider.suggested_scopes,
    });
    if let Ok(request) = request {
        let url = url::Url::parse(&request.url).expect("an authorize URL is a URL");
        let states: Vec<_> = url.query_pairs().filter(|(k, _)| k == "state").collect();
        assert!(
            states.len() == 1 && states[0].1 == request.state,
            "the authorize URL does not carry exactly its own state"
        );
    }
}

/// A test call's answer: `name: value` header lines (`Link`, …), an empty line, the body. The
/// pagination hint is the same whether read alone or as part of the whole result.
pub fn link_header(data: &[u8]) {
    let (headers, body) = headers_and_body(data);
    // Read as `to_result` reads a body: invalid UTF-8 replaced, not refused.
    let json: Value = serde_json::from_str(&String::from_utf8_lossy(body)).unwrap_or(Value::Null);
    let hint = pagination_hint(&headers, &json);
    let raw = RawResponse {
        status: 200,
        headers,
        body: body.to_vec(),
        elapsed_ms: 1,
    };
    let result = to_result("fuzz", "GET", "https://api.example/", raw, 1, false, None);
    assert_eq!(
        result.pagination, hint,
        "the pagination hint depends on the path"
    );
    assert_eq!(result.size_bytes, body.len() as u64);
}

/// Rate-limit headers. Layout: a byte for the status, one for the retries so far, four for the
/// clock, then `name: value` lines (`Retry-After`, `X-RateLimit-Reset`, …). A wait is never longer
/// than the bound and never zero; a parsed reset time is a real date; the limit named, the near-limit
/// warning and the beta policies come from headers that say so.
pub fn rate_limit_headers(data: &[u8]) {
    let [s, retries, c0, c1, c2, c3, rest @ ..] = data else {
        return;
    };
    let status = status_from(*s, *retries);
    // Milliseconds since 1970 within a few weeks of 2026: the clock is Onramp's, not the input's.
    let now = 1_780_000_000_000 + i64::from(u32::from_le_bytes([*c0, *c1, *c2, *c3]));
    let (headers, _) = headers_and_body(rest);
    if let Some(wait) = retry_delay(status, &headers, u32::from(*retries % 8), now) {
        assert!(
            wait <= MAX_RETRY_WAIT,
            "a wait of {wait:?} is over the bound"
        );
        assert!(!wait.is_zero(), "a retry without a wait");
    }
    let kept = kept_rate_limit_headers(&headers);
    assert!(
        kept.iter().all(|k| headers.contains(k)),
        "a rate-limit header was invented"
    );
    // What the headers say: nothing that no header said.
    let said = onramp_core::gateway::rate_limit_status(status, &headers);
    if let Some(reason) = &said.reason {
        assert!(
            headers.iter().any(|h| h.key.eq_ignore_ascii_case("ratelimit-reason")
                && h.value.trim() == reason),
            "a RateLimit-Reason was invented: {reason:?}"
        );
    }
    assert!(
        !said.near_limit
            || headers
                .iter()
                .any(|h| h.key.eq_ignore_ascii_case("x-ratelimit-nearlimit")),
        "near the limit without the header"
    );
    assert!(
        said.beta_policies.iter().all(|p| !p.name.is_empty()),
        "a beta policy without a name"
    );
    assert_eq!(said.summary.is_some(), status == 429 || said.near_limit);
    for h in &headers {
        if let Some(t) = parse_iso8601_utc(&h.value) {
            // 1970-01-01 to 9999-12-31, with a day of slack for 31 February and leap seconds.
            assert!(
                (0..=253_402_387_200).contains(&t),
                "{:?} read as {t}, not a date Onramp accepts",
                h.value
            );
        }
    }
}

/// An error page pasted by the user (any text): recognised or not, it is explained.
pub fn error_page(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let servers = [
        Some(onramp_core::oauth_error::Server::of(atlassian())),
        Some(onramp_core::oauth_error::Server {
            name: "Acme SSO".into(),
            kind: onramp_core::oauth_error::ServerKind::OpenId,
        }),
        None,
    ];
    for sent in [Some("http://127.0.0.1:47823/callback"), None] {
        for server in &servers {
            let ui = diagnosis::for_browser_text(&text, sent, server.as_ref());
            serde_json::to_string(&ui).expect("a UiError serializes");
        }
    }
}

/// A gateway's error answer. Layout: a byte for the status, then the body.
pub fn gateway_error(data: &[u8]) {
    let Some((&s, body)) = data.split_first() else {
        return;
    };
    let provider = atlassian();
    let body = String::from_utf8_lossy(body);
    let url = "https://api.atlassian.com/ex/confluence/c1/wiki/api/v2/spaces";
    let granted = vec!["read:confluence-space.summary".to_string()];
    let ctx = ResponseContext {
        provider,
        preset: provider.test_calls.first(),
        method: "GET",
        url,
        cloud_id: Some("c1"),
        granted_scopes: &granted,
        refreshed: s & 1 == 1,
        headers: &[],
    };
    let ui = diagnosis::for_response(&ctx, status_from(s, 0), &body);
    serde_json::to_string(&ui).expect("a UiError serializes");
}

fn atlassian() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        Catalog::load()
            .and_then(|c| c.provider("atlassian", None))
            .expect("the catalog has Atlassian")
    })
}

/// A team definition file being imported. An accepted one survives export → import unchanged,
/// and the custom provider it describes is either refused or usable.
pub fn team_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(definition) = parse_definition(text) else {
        return;
    };
    let exported = serde_json::to_string_pretty(&definition).expect("a definition serializes");
    let again = parse_definition(&exported)
        .unwrap_or_else(|e| panic!("an imported definition, exported again, is refused: {e}"));
    assert_eq!(again, definition, "a definition changes through export");
    if let Some(input) = definition.custom_provider {
        if custom::validate(&input).is_ok() {
            custom::to_provider(&CustomProvider {
                id: definition.provider_id,
                input,
            });
        }
    }
}

/// A `settings.json` (version 1) found on first start. An accepted one survives a JSON round trip.
pub fn legacy_settings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(settings) = legacy::parse(text) else {
        return;
    };
    let written = serde_json::to_string(&settings).expect("settings serialize");
    let again = legacy::parse(&written)
        .unwrap_or_else(|e| panic!("imported settings, written again, are refused: {e}"));
    assert_eq!(again, settings, "settings change through JSON");
}

/// A Nango answer. Layout: a byte for the push step, one for the status, the `Retry-After` value on
/// the first line, then the body. Every answer maps to a problem with words for the UI; a body
/// read back as a connection is checked against the picked site.
pub fn nango_answer(data: &[u8]) {
    let [step, s, rest @ ..] = data else {
        return;
    };
    const STEPS: [Step; 6] = [
        Step::Provider,
        Step::ReadIntegration,
        Step::CreateIntegration,
        Step::UpdateIntegration,
        Step::ImportConnection,
        Step::ReadConnection,
    ];
    let (retry_after, body) = first_line(rest);
    let retry_after = String::from_utf8_lossy(retry_after)
        .trim()
        .parse::<u64>()
        .ok();
    let body = String::from_utf8_lossy(body);
    let status = status_from(*s, *step);
    let e = map_answer(
        STEPS[usize::from(*step) % STEPS.len()],
        status,
        &body,
        retry_after,
    );
    let _ = e.to_string();
    serde_json::to_string(&e.to_ui()).expect("a UiError serializes");
    if let Ok(connection) = serde_json::from_str::<Value>(&body) {
        let picked = site("c1", "https://acme.atlassian.net");
        let _ = onramp_core::nango::check_read_back(&connection, &picked);
    }
}

/// The preflight's two probes (`onramp_core::preflight`). Layout: a byte for the status, a first
/// line read as the authorize endpoint's `Location`, then the body (the token endpoint's answer, or
/// the authorize endpoint's page). Every outcome says what it shows and does not, its observed text
/// stays short, and "accepted" only ever comes from a 4xx refusal of the code.
pub fn preflight_answer(data: &[u8]) {
    use onramp_core::oauth_error::{Server, ServerKind};
    use onramp_core::preflight::{
        classify_authorize_probe, classify_token_probe, next_hop, Hop, ProbeAnswer, ProbeVerdict,
    };
    let Some((&s, rest)) = data.split_first() else {
        return;
    };
    let status = status_from(s, 0);
    let (location, body) = first_line(rest);
    let location = String::from_utf8_lossy(location).into_owned();
    let body = String::from_utf8_lossy(body).into_owned();
    let callback = "http://127.0.0.1:47823/callback";
    for kind in [
        ServerKind::Atlassian,
        ServerKind::Sandbox,
        ServerKind::OpenId,
        ServerKind::OAuth,
    ] {
        let server = Server {
            name: "the provider".into(),
            kind,
        };
        let token = classify_token_probe(
            &server,
            &ProbeAnswer::Http {
                status,
                body: body.clone(),
            },
        );
        let hop = Hop {
            url: "https://auth.example/authorize?client_id=c".into(),
            status,
            location: (!location.is_empty()).then(|| location.clone()),
        };
        let _ = next_hop(&hop, callback);
        let authorize = classify_authorize_probe(&server, callback, Ok((&[hop], &body)));
        for o in [&token, &authorize] {
            assert!(!o.summary.is_empty() && !o.proves.is_empty() && !o.does_not_prove.is_empty());
            assert!(
                o.observed
                    .as_ref()
                    .is_none_or(|t| t.chars().count() <= 1200),
                "observed text stays short"
            );
        }
        if token.verdict == ProbeVerdict::Accepted {
            assert!((400..500).contains(&status) && status != 429, "{status}");
        }
        assert_ne!(
            authorize.verdict,
            ProbeVerdict::Accepted,
            "the authorize probe never accepts"
        );
    }
}
