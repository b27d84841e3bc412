//! Plain-language diagnosis of failures, from the reference's error table (atlassian-oauth.md §9.1,
//! nango-api-and-preflight.md §2): what happened, and what to do. Unknown failures keep their raw
//! status and body; nothing here says only "something went wrong".

use std::collections::BTreeSet;

use crate::model::{ErrorCode, KeyValue, Provider, TestCallPreset, UiError};
use crate::oauth_error::{explain, Endpoint, Server, ServerKind};

fn ui(code: ErrorCode, title: &str, detail: String, hint: &str, facts: Vec<KeyValue>) -> UiError {
    UiError {
        code,
        title: title.into(),
        detail,
        hint: Some(hint.into()),
        facts,
    }
}

fn fact(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn excerpt(body: &str) -> String {
    crate::error::truncate(body.trim(), 1500)
}

/// Jira endpoints removed by CHANGE-2046 and what replaces them (reference §6.3).
pub fn removed_endpoint_replacement(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let rest = ["/rest/api/2/", "/rest/api/3/", "/rest/api/latest/"]
        .iter()
        .find_map(|prefix| path.find(prefix).map(|i| &path[i + prefix.len()..]))?;
    match rest {
        "search" | "search/id" => Some("/rest/api/3/search/jql"),
        "expression/eval" => Some("/rest/api/3/expression/evaluate"),
        _ => None,
    }
}

/// What the token lacks for a preset: the alternative that needs the fewest extra scopes.
pub fn missing_for(call: &TestCallPreset, granted: &[String]) -> Vec<String> {
    let have: BTreeSet<&str> = granted.iter().map(String::as_str).collect();
    call.needs_scopes
        .iter()
        .map(|alt| {
            alt.iter()
                .filter(|s| !have.contains(s.as_str()))
                .cloned()
                .collect::<Vec<_>>()
        })
        .min_by_key(Vec::len)
        .unwrap_or_default()
}

/// Context of an API answer, to explain it.
pub struct ResponseContext<'a> {
    pub provider: &'a Provider,
    /// The preset that was run, if any.
    pub preset: Option<&'a TestCallPreset>,
    pub method: &'a str,
    pub url: &'a str,
    pub cloud_id: Option<&'a str>,
    pub granted_scopes: &'a [String],
    /// Whether Onramp already refreshed the token and retried.
    pub refreshed: bool,
    /// The answer's headers (the rate-limit ones explain a 429).
    pub headers: &'a [KeyValue],
}

/// What the token lacks for the exact operation called: the preset's alternatives when a preset
/// ran, else the operation Atlassian's specs publish for this method and URL (the alternative
/// that needs the fewest extra scopes). Empty when nothing is known.
pub fn missing_scopes_for_call(ctx: &ResponseContext<'_>) -> Vec<String> {
    if let Some(preset) = ctx.preset {
        return missing_for(preset, ctx.granted_scopes);
    }
    crate::endpoint_scopes::lookup(ctx.method, ctx.url)
        .and_then(|op| op.satisfied_by(ctx.granted_scopes).fewest_missing())
        .unwrap_or_default()
}

/// Explains a non-2xx answer from the gateway.
pub fn for_response(ctx: &ResponseContext<'_>, status: u16, body: &str) -> UiError {
    let mut facts = vec![
        fact("Request", format!("{} {}", ctx.method, ctx.url)),
        fact("Status", status.to_string()),
    ];
    let server = Server::of(ctx.provider);
    let who = server.subject();
    let atlassian_like = matches!(server.kind, ServerKind::Atlassian | ServerKind::Sandbox);
    match status {
        401 if body.contains("scope does not match") => {
            let missing = missing_scopes_for_call(ctx);
            let v2 = ctx.url.contains("/wiki/api/v2/");
            let classic_confluence = ctx.granted_scopes.iter().any(|s| {
                ctx.provider.scopes.iter().any(|i| i.name == *s && i.product == "confluence" && i.kind == crate::model::ScopeKind::Classic)
            });
            let mut detail = format!("The token does not hold the scopes this operation needs; {who} answered 401 \"scope does not match\".");
            if !missing.is_empty() {
                detail.push_str(&format!(" Missing: {}.", missing.join(", ")));
                facts.push(fact("Missing scopes", missing.join(" ")));
            }
            if v2 && classic_confluence {
                detail.push_str(" Confluence's v2 API rejects classic Confluence scopes: it needs granular ones such as read:space:confluence.");
            }
            let hint = if ctx.provider.grant == crate::model::Grant::ClientCredentials {
                // A service account's scopes are the credential's, fixed when it was created.
                "The service account's credential was not created with this scope: in admin.atlassian.com (Directory → Service accounts) create a new OAuth 2.0 credential that includes it, then save its client ID and secret in step 2."
            } else {
                "Add the missing scope to the app in the developer console (Permissions) and in step 3, then authorize again: scopes only change with a new consent."
            };
            ui(ErrorCode::ScopeMismatch, "The token lacks a scope for this call", detail, hint, facts)
        }
        401 => ui(ErrorCode::Unauthorized, if atlassian_like { "The gateway did not accept the token" } else { "The API did not accept the token" },
            format!("HTTP 401{}. The access token expired or was revoked, or the request went to the wrong host{}{}",
                if body.trim().is_empty() { String::new() } else { format!(": {}", excerpt(body)) },
                if atlassian_like { ": 3LO tokens only work on the API gateway, not on <site>.atlassian.net." } else { " or needs a scope the token lacks." },
                if ctx.refreshed { " Onramp already refreshed the token once and retried." } else { "" }),
            "Refresh the connection; if it still fails, authorize again in step 4.", facts),
        403 => ui(ErrorCode::Forbidden, "Permission denied on the site",
            format!("HTTP 403: {}. The user who authorized lacks a product permission, or an admin restriction (such as an app access rule) blocks the app. Authorizing again does not change this.", excerpt(body)),
            "Ask a site admin for the permission this operation needs, or authorize as a user who has it.", facts),
        404 => {
            if let Some(c) = ctx.cloud_id {
                facts.push(fact("cloudId", c));
            }
            ui(ErrorCode::NotFound, "Not found",
                format!("HTTP 404: {}. The cloudId may be wrong, the site may not have this product (a Jira path on a Confluence-only site), or the path is mistyped. Jira also answers 404 when you lack permission to see an item.", excerpt(body)),
                "Check the site picked in step 5 and the path; product paths are /ex/jira/{cloudId}/rest/api/3/… and /ex/confluence/{cloudId}/wiki/….", facts)
        }
        410 => {
            let replacement = removed_endpoint_replacement(ctx.url);
            if let Some(r) = replacement {
                facts.push(fact("Use instead", r));
            }
            ui(ErrorCode::EndpointRemoved, "This endpoint was removed",
                format!("HTTP 410 Gone: {}.{}", excerpt(body),
                    replacement.map(|r| format!(" Atlassian replaced it with {r} (CHANGE-2046).")).unwrap_or_default()),
                replacement.map_or("Find the endpoint's replacement in Atlassian's changelog.", |_| "Switch to the replacement endpoint; note that /search/jql pages with nextPageToken and returns only issue ids unless you ask for fields."),
                facts)
        }
        429 => {
            let limits = crate::gateway::rate_limit_status(status, ctx.headers);
            for h in crate::gateway::rate_limit_headers(ctx.headers) {
                facts.push(fact(&h.key, h.value));
            }
            let which = match (&limits.limit_hit, &limits.reason) {
                (Some(limit), _) => format!("{limit} was hit"),
                (None, Some(reason)) => format!("the limit named \"{reason}\" (RateLimit-Reason) was hit"),
                (None, None) => format!("{}'s rate limit was hit", server.name),
            };
            ui(ErrorCode::RateLimited, "Rate limited",
                format!("HTTP 429: {which} and Onramp's retries ran out. {} {}", crate::gateway::when_to_retry(&limits), excerpt(body)),
                crate::gateway::advice_for(limits.reason.as_deref()), facts)
        }
        500..=599 => ui(ErrorCode::ServerError, &format!("{who} had a problem"),
            format!("HTTP {status}: {}. Onramp retried with backoff and gave up.", excerpt(body)),
            &format!("Try again later. If it persists, check {}'s status page.", server.name), facts),
        _ => ui(ErrorCode::HttpError, &format!("Unexpected response (HTTP {status})"), excerpt(body), "Read the body above for the provider's own explanation.", facts),
    }
}

/// The standard OAuth and OpenID error codes (RFC 6749 §4.1.2.1, §5.2; OpenID Connect Core 1.0
/// §3.1.2.6) a pasted error page may carry.
const STANDARD_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "consent_required",
    "interaction_required",
];

/// Whether `code` occurs in `lower` as a whole word (`invalid_redirect_uri` does not contain the
/// word `redirect_uri`, nor `error=invalid_scope_x` the code `invalid_scope`).
fn has_word(lower: &str, code: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    lower.match_indices(code).any(|(i, _)| {
        !lower[..i].chars().next_back().is_some_and(word)
            && !lower[i + code.len()..].chars().next().is_some_and(word)
    })
}

/// The value of `name=` in a pasted URL or query (`error`, `error_description`).
fn param(decoded: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=");
    decoded.match_indices(&needle).find_map(|(i, _)| {
        let starts_param =
            i == 0 || matches!(decoded.as_bytes()[i - 1], b'?' | b'&' | b' ' | b'\n');
        starts_param.then(|| {
            let rest = &decoded[i + needle.len()..];
            rest.split('&')
                .next()
                .unwrap_or(rest)
                .replace('+', " ")
                .trim()
                .to_string()
        })
    })
}

/// Explains an error a user copies from the browser (a provider shows these on its own pages,
/// where Onramp cannot see them). `sent_redirect_uri` is what Onramp sent; `server` is the provider
/// of the integration, when known. Codes are matched as whole words, an explicit `error=` first;
/// Atlassian's own texts (reference §9.1) are read only for Atlassian, the sandbox (which shows
/// them) or an unknown provider.
pub fn for_browser_text(
    text: &str,
    sent_redirect_uri: Option<&str>,
    server: Option<&Server>,
) -> UiError {
    let decoded = url_decode(text);
    let lower = decoded.to_ascii_lowercase();
    let atlassian_texts =
        server.is_none_or(|s| matches!(s.kind, ServerKind::Atlassian | ServerKind::Sandbox));
    let server = server.cloned().unwrap_or_else(Server::unknown);
    let who = server.subject();
    let mut facts = Vec::new();
    if let Some(sent) = sent_redirect_uri {
        facts.push(fact("Onramp sent", sent));
    }
    let error = param(&decoded, "error").map(|e| e.to_ascii_lowercase());
    let description = param(&decoded, "error_description");

    // The callback URL: Atlassian's texts, or the standard `invalid_redirect_uri`.
    let atlassian_redirect = atlassian_texts
        && (lower.contains("redirect_uri is not registered")
            || lower.contains("callback url is invalid"));
    if atlassian_redirect || has_word(&lower, "invalid_redirect_uri") {
        if let Some(refused) = decoded
            .split("client:")
            .nth(1)
            .map(|s| s.trim().trim_end_matches(['.', '"']).to_string())
            .filter(|s| !s.is_empty())
        {
            facts.push(fact(&format!("{who} refused"), refused));
        }
        let hint = if server.is_atlassian()
            || (atlassian_redirect && server.kind != ServerKind::Sandbox)
        {
            "In the developer console open Authorization → OAuth 2.0 (3LO), paste the URL Onramp sent exactly, save, wait a minute, and authorize again.".to_string()
        } else {
            format!(
                "Register the URL Onramp sent, exactly, in {}, then authorize again.",
                server.client_settings()
            )
        };
        return ui(ErrorCode::RedirectUriNotRegistered, "The callback URL is not registered for this app",
            format!("{who} compared the callback URL Onramp sent with the one registered for the client and they differ. They must match character for character: scheme, 127.0.0.1 vs localhost, port, path and trailing slash."),
            &hint, facts);
    }
    if atlassian_texts && lower.contains("must authorize this app") {
        return ui(ErrorCode::AdminApprovalRequired, "A site admin must allow this app",
            "The organisation blocks apps installed by users; an admin has to authorize the app for the site first.".into(),
            "Ask an admin to allow it in Atlassian Administration → Apps → Connected apps, then authorize again.", facts);
    }
    if atlassian_texts
        && (lower.contains("requires access to a")
            || (lower.contains("access denied") && lower.contains("site")))
    {
        return ui(ErrorCode::ProductAccessMissing, "The user lacks access to a product the scopes need",
            "The requested scopes need a Jira or Confluence site that this user cannot access.".into(),
            "Remove the other product's scopes in step 3, or sign in as a user with access to that product.", facts);
    }
    if atlassian_texts
        && (lower.contains("not been added to the app")
            || lower.contains("not requested any supported"))
    {
        return scopes_not_added(&who, facts);
    }
    // A standard code: the explicit `error=` first, else one named in the page's text.
    let standard = error
        .filter(|e| STANDARD_ERRORS.contains(&e.as_str()))
        .or_else(|| {
            STANDARD_ERRORS
                .iter()
                .find(|c| has_word(&lower, c))
                .map(|c| c.to_string())
        });
    if let Some(code) = standard {
        let endpoint = if code == "invalid_grant"
            || code == "unsupported_grant_type"
            || code == "invalid_client"
        {
            Endpoint::Token
        } else {
            Endpoint::Authorize
        };
        let (code, title, detail, hint) =
            explain(&server, endpoint, &code, description.as_deref(), None);
        return UiError {
            code,
            title,
            detail,
            hint,
            facts,
        };
    }
    // Atlassian's bare heading for scopes the app lacks (reference §9.1), only when nothing more
    // precise was found above.
    if atlassian_texts && lower.contains("something went wrong") {
        return scopes_not_added(&who, facts);
    }
    ui(ErrorCode::Unknown, "Onramp does not recognise this error",
        format!("The text was: {}", excerpt(&decoded)),
        &format!("Check the client ID, callback URL and scopes against {}; Onramp knows no match for this message.", server.client_settings()), facts)
}

fn scopes_not_added(who: &str, facts: Vec<KeyValue>) -> UiError {
    ui(ErrorCode::ScopesNotAdded, "A requested scope is not added to the app",
        format!("{who} rejects an authorization that asks for scopes the app does not have under Permissions in the developer console (or a misspelled scope)."),
        "In the console open Permissions → Configure → Edit Scopes and add every scope chosen in step 3 (offline_access excepted), or remove the extra ones in step 3.", facts)
}

fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn provider() -> Provider {
        Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap()
    }

    fn ctx<'a>(
        p: &'a Provider,
        preset: Option<&'a TestCallPreset>,
        url: &'a str,
        granted: &'a [String],
    ) -> ResponseContext<'a> {
        ResponseContext {
            provider: p,
            preset,
            method: "GET",
            url,
            cloud_id: Some("c1"),
            granted_scopes: granted,
            refreshed: false,
            headers: &[],
        }
    }

    #[test]
    fn scope_mismatch_names_the_missing_scope() {
        let p = provider();
        let preset = p.test_calls.iter().find(|t| t.id == "jira-myself").unwrap();
        let granted = vec!["read:jira-work".to_string()];
        let e = for_response(
            &ctx(
                &p,
                Some(preset),
                "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself",
                &granted,
            ),
            401,
            r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
        );
        assert_eq!(e.code, ErrorCode::ScopeMismatch);
        assert!(e.detail.contains("Missing: read:jira-user"), "{}", e.detail);
    }

    /// A service account cannot add a scope by consenting again: the hint says to create a new
    /// credential with it.
    #[test]
    fn a_service_account_missing_a_scope_is_told_to_make_a_new_credential() {
        let mut p = provider();
        p.grant = crate::model::Grant::ClientCredentials;
        let preset = p.test_calls.iter().find(|t| t.id == "jira-myself").unwrap();
        let granted = vec!["read:jira-work".to_string()];
        let e = for_response(
            &ctx(
                &p,
                Some(preset),
                "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself",
                &granted,
            ),
            401,
            r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
        );
        assert_eq!(e.code, ErrorCode::ScopeMismatch);
        let hint = e.hint.unwrap();
        assert!(hint.contains("new OAuth 2.0 credential"), "{hint}");
        assert!(!hint.contains("authorize again"), "{hint}");
    }

    #[test]
    fn confluence_v2_with_classic_scopes_is_explained() {
        let p = provider();
        let preset = p
            .test_calls
            .iter()
            .find(|t| t.id == "confluence-spaces")
            .unwrap();
        let granted = vec!["read:confluence-space.summary".to_string()];
        let e = for_response(
            &ctx(
                &p,
                Some(preset),
                "https://api.atlassian.com/ex/confluence/c1/wiki/api/v2/spaces?limit=1",
                &granted,
            ),
            401,
            "Unauthorized; scope does not match",
        );
        assert!(
            e.detail.contains("read:space:confluence") && e.detail.contains("classic"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn each_status_has_its_own_explanation() {
        let p = provider();
        let url = "https://api.atlassian.com/ex/jira/c1/rest/api/3/myself";
        let cases = [
            (401, "Unauthorized", ErrorCode::Unauthorized),
            (403, "{\"errorMessages\":[\"nope\"]}", ErrorCode::Forbidden),
            (404, "{}", ErrorCode::NotFound),
            (429, "", ErrorCode::RateLimited),
            (503, "down", ErrorCode::ServerError),
            (418, "teapot", ErrorCode::HttpError),
        ];
        for (status, body, code) in cases {
            let e = for_response(&ctx(&p, None, url, &[]), status, body);
            assert_eq!(e.code, code, "{status}");
            assert!(e.hint.is_some());
            assert!(e
                .facts
                .iter()
                .any(|f| f.key == "Status" && f.value == status.to_string()));
        }
        let e = for_response(&ctx(&p, None, url, &[]), 418, "teapot");
        assert!(
            e.title.contains("418") && e.detail.contains("teapot"),
            "unknown errors keep status and body"
        );
        let e = for_response(&ctx(&p, None, url, &[]), 404, "{}");
        assert!(e
            .facts
            .iter()
            .any(|f| f.key == "cloudId" && f.value == "c1"));
    }

    #[test]
    fn a_custom_providers_answers_name_it_not_atlassian() {
        let p = crate::custom::to_provider(&crate::custom::CustomProvider {
            id: "custom-1".into(),
            input: crate::model::CustomProviderInput {
                name: "Gitea".into(),
                authorize_url: "https://git.example.com/login/oauth/authorize".into(),
                token_url: "https://git.example.com/login/oauth/access_token".into(),
                scopes: vec![],
                extra_params: vec![],
                client_auth: crate::model::ClientAuth::Basic,
                pkce: true,
                test_call_url: Some("https://git.example.com/api/v1/user".into()),
                issuer: None,
            },
        });
        let url = "https://git.example.com/api/v1/user";
        for status in [401, 429, 503] {
            let e = for_response(&ctx(&p, None, url, &[]), status, "nope");
            let all = format!("{} {} {}", e.title, e.detail, e.hint.unwrap_or_default());
            assert!(
                !all.contains("Atlassian") && !all.contains("atlassian.net"),
                "{status}: {all}"
            );
        }
        let e = for_response(&ctx(&p, None, url, &[]), 503, "down");
        assert!(e.title.contains("Gitea"), "{}", e.title);
    }

    #[test]
    fn removed_search_names_its_replacement() {
        let p = provider();
        let body = r#"{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."]}"#;
        let e = for_response(
            &ctx(
                &p,
                None,
                "https://api.atlassian.com/ex/jira/c1/rest/api/3/search?jql=x",
                &[],
            ),
            410,
            body,
        );
        assert_eq!(e.code, ErrorCode::EndpointRemoved);
        assert!(e.facts.iter().any(|f| f.value == "/rest/api/3/search/jql"));
        assert_eq!(
            removed_endpoint_replacement("/ex/jira/c/rest/api/2/search"),
            Some("/rest/api/3/search/jql")
        );
        assert_eq!(
            removed_endpoint_replacement("/rest/api/3/expression/eval"),
            Some("/rest/api/3/expression/evaluate")
        );
        assert_eq!(removed_endpoint_replacement("/rest/api/3/search/jql"), None);
    }

    #[test]
    fn browser_errors_are_recognised() {
        let text = "https://id.atlassian.com/error?error=unauthorized_client&error_description=redirect_uri%20is%20not%20registered%20for%20client:%20http://localhost:47823/callback";
        let e = for_browser_text(text, Some("http://127.0.0.1:47823/callback"), None);
        assert_eq!(e.code, ErrorCode::RedirectUriNotRegistered);
        assert_eq!(e.facts[0].value, "http://127.0.0.1:47823/callback");
        assert_eq!(e.facts[1].value, "http://localhost:47823/callback");
        let cases = [
            ("The app's callback URL is invalid. Contact the app developer to fix the redirect URL in the app's settings.", ErrorCode::RedirectUriNotRegistered),
            ("Your site admin must authorize this app for the site acme.atlassian.net before the app can access your account.", ErrorCode::AdminApprovalRequired),
            ("Access denied. This app requires access to a Jira & Confluence site which you don't have", ErrorCode::ProductAccessMissing),
            ("Something went wrong", ErrorCode::ScopesNotAdded),
            ("error=unauthorized_client", ErrorCode::UnauthorizedClient),
            ("error=access_denied&state=x", ErrorCode::AccessDenied),
            ("completely new error", ErrorCode::Unknown),
        ];
        for (text, code) in cases {
            assert_eq!(for_browser_text(text, None, None).code, code, "{text}");
        }
        assert!(for_browser_text("completely new error", None, None)
            .detail
            .contains("completely new error"));
    }

    fn keycloak() -> Server {
        Server {
            name: "Keycloak".into(),
            kind: ServerKind::OpenId,
        }
    }

    /// The page panva's oidc-provider shows for an unregistered callback: about the callback URL,
    /// never about scopes, and it names the provider, not Atlassian.
    #[test]
    fn an_invalid_redirect_uri_page_is_about_the_callback_url() {
        let page = "oops! something went wrong\nerror: invalid_redirect_uri\nerror_description: redirect_uri did not match any of the client's registered redirect_uris";
        let e = for_browser_text(
            page,
            Some("http://127.0.0.1:47823/callback"),
            Some(&keycloak()),
        );
        assert_eq!(e.code, ErrorCode::RedirectUriNotRegistered);
        let all = format!(
            "{} {} {}",
            e.title,
            e.detail,
            e.hint.clone().unwrap_or_default()
        );
        assert!(
            all.contains("Keycloak")
                && !all.contains("Atlassian")
                && !all.contains("developer console"),
            "{all}"
        );
        // Unknown provider: still the callback URL.
        assert_eq!(
            for_browser_text(page, None, None).code,
            ErrorCode::RedirectUriNotRegistered
        );
    }

    #[test]
    fn standard_codes_in_a_pasted_page_are_recognised_as_whole_words() {
        let k = keycloak();
        let cases = [
            ("https://id.example.com/cb?error=invalid_scope&error_description=Invalid+scopes%3A+foo&state=x", ErrorCode::AuthorizationRefused, "scope"),
            ("error=unsupported_response_type", ErrorCode::AuthorizationRefused, "authorization-code flow"),
            ("error=temporarily_unavailable", ErrorCode::ServerError, "temporarily unavailable"),
            ("error=server_error", ErrorCode::ServerError, "internal error"),
            ("{\"error\":\"invalid_client\"}", ErrorCode::TokenUnauthorized, "client credentials"),
            ("error=login_required", ErrorCode::AuthorizationRefused, "Sign-in"),
            ("error=consent_required", ErrorCode::AuthorizationRefused, "Consent"),
            ("error=interaction_required", ErrorCode::AuthorizationRefused, "act"),
            ("error=unauthorized_client", ErrorCode::UnauthorizedClient, "does not allow"),
            ("error=access_denied&state=x", ErrorCode::AccessDenied, "consent screen"),
        ];
        for (text, code, title) in cases {
            let e = for_browser_text(text, None, Some(&k));
            assert_eq!(e.code, code, "{text}");
            assert!(e.title.contains(title), "{text}: {}", e.title);
            assert!(!e.detail.contains("Atlassian"), "{text}: {}", e.detail);
        }
        let described = for_browser_text(
            "?error=invalid_scope&error_description=Invalid+scopes%3A+foo",
            None,
            Some(&k),
        );
        assert!(
            described.detail.contains("Invalid scopes: foo"),
            "{}",
            described.detail
        );
        // Not a whole word: no match.
        assert_eq!(
            for_browser_text("error=invalid_scopes_here", None, Some(&k)).code,
            ErrorCode::Unknown
        );
        // Atlassian's texts are not read into another provider's page.
        assert_eq!(
            for_browser_text("Something went wrong", None, Some(&k)).code,
            ErrorCode::Unknown
        );
        assert_eq!(
            for_browser_text(
                "This app has requested scopes that have not been added to the app.",
                None,
                Some(&k)
            )
            .code,
            ErrorCode::Unknown
        );
        let sandbox = Server {
            name: "the sandbox".into(),
            kind: ServerKind::Sandbox,
        };
        let e = for_browser_text("Something went wrong", None, Some(&sandbox));
        assert_eq!(e.code, ErrorCode::ScopesNotAdded);
        assert!(e.detail.starts_with("The sandbox rejects"), "{}", e.detail);
    }

    #[test]
    fn url_decoding_is_forgiving() {
        assert_eq!(url_decode("a%20b%2Fc%"), "a b/c%");
        assert_eq!(url_decode("100%zz"), "100%zz");
    }
}

#[cfg(test)]
#[path = "diagnosis_call_tests.rs"]
mod call_tests;
