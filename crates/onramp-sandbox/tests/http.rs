//! End-to-end tests of the sandbox over real HTTP on a random loopback port.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use onramp_sandbox::{
    Faults, Sandbox, SandboxConfig, ACME_CLOUD_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    GLOBEX_CLOUD_ID,
};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CALLBACK: &str = "http://127.0.0.1:8765/callback";
const JIRA: &str = "read:jira-work read:jira-user offline_access";

struct Fx {
    sb: Sandbox,
    http: reqwest::Client,
}

async fn start() -> Fx {
    start_with(|_| {}).await
}

async fn start_with(edit: impl FnOnce(&mut SandboxConfig)) -> Fx {
    let mut config = SandboxConfig {
        registered_callback_url: Some(CALLBACK.to_string()),
        ..SandboxConfig::default()
    };
    edit(&mut config);
    let sb = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts");
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Fx { sb, http }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string()
}

fn request_id(html: &str) -> String {
    let marker = r#"<input type="hidden" name="request" value=""#;
    let start = html.find(marker).expect("request id in consent form") + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_string()
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Fx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    fn authorize_url(&self, scope: &str, redirect_uri: &str, state: &str) -> String {
        format!(
            "{}/authorize?audience=onramp-sandbox&client_id={DEFAULT_CLIENT_ID}&scope={}&redirect_uri={}&state={}&response_type=code&prompt=consent",
            self.sb.base_url(),
            enc(scope),
            enc(redirect_uri),
            enc(state)
        )
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// GET /authorize and return the consent page's request id.
    async fn consent(&self, authorize_url: &str) -> String {
        let resp = self.get(authorize_url).await;
        assert_eq!(resp.status(), StatusCode::OK);
        request_id(&resp.text().await.unwrap())
    }

    async fn decide(&self, request: &str, decision: &str) -> reqwest::Response {
        self.http
            .post(self.url("/authorize/decision"))
            .form(&[("request", request), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    /// Full browser leg: authorize, accept, return the code from the callback.
    async fn code_for(&self, scope: &str) -> String {
        let id = self
            .consent(&self.authorize_url(scope, CALLBACK, "st"))
            .await;
        let resp = self.decide(&id, "accept").await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        query_param(&location(&resp), "code").unwrap()
    }

    async fn token_json(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn exchange(&self, code: &str) -> reqwest::Response {
        self.token_json(json!({
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": code,
            "redirect_uri": CALLBACK,
        }))
        .await
    }

    /// Authorize + accept + exchange; returns the token response body.
    async fn tokens(&self, scope: &str) -> Value {
        let code = self.code_for(scope).await;
        let resp = self.exchange(&code).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    async fn access(&self, scope: &str) -> String {
        self.tokens(scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_json(json!({
            "grant_type": "refresh_token",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "refresh_token": refresh_token,
        }))
        .await
    }

    async fn api(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

async fn body_json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

fn scope_mismatch() -> Value {
    json!({"code": 401, "message": "Unauthorized; scope does not match"})
}

// ---------------------------------------------------------------------------------------------
// /authorize and consent

#[tokio::test]
async fn authorize_shows_consent_page_with_form_contract_and_scopes() {
    let fx = start().await;
    let resp = fx
        .get(&fx.authorize_url("read:me read:jira-work offline_access", CALLBACK, "s1"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<form id="consent" method="post" action="/authorize/decision">"#));
    assert!(html.contains(
        r#"<button type="submit" name="decision" value="accept" id="accept">Accept</button>"#
    ));
    assert!(html.contains(
        r#"<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>"#
    ));
    assert!(request_id(&html).len() >= 43);
    for scope in ["read:me", "read:jira-work", "offline_access"] {
        assert!(html.contains(&format!("<code>{scope}</code>")), "{scope}");
    }
    assert!(html.contains("My Onramp sandbox app"));
    assert!(html.contains("Sandra Boxley"));
    for external in ["<link", "<script", "src=", "url("] {
        assert!(
            !html.contains(external),
            "no external resources: {external}"
        );
    }
}

#[tokio::test]
async fn wrong_redirect_uri_redirects_to_error_page_like_atlassian() {
    let fx = start().await;
    let wrong = "http://localhost:8765/callback";
    let resp = fx.get(&fx.authorize_url("read:me", wrong, "s")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert_eq!(
        loc,
        fx.url("/error?error=unauthorized_client&error_description=redirect_uri%20is%20not%20registered%20for%20client:%20http://localhost:8765/callback")
    );
    assert_eq!(query_param(&loc, "error").unwrap(), "unauthorized_client");
    let page = fx.get(&loc).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("unauthorized_client"));
    assert!(
        html.contains("redirect_uri is not registered for client: http://localhost:8765/callback")
    );

    // A trailing slash is a mismatch too; so is "nothing registered".
    let resp = fx
        .get(&fx.authorize_url("read:me", &format!("{CALLBACK}/"), "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    fx.sb.set_registered_callback(None);
    let resp = fx.get(&fx.authorize_url("read:me", CALLBACK, "s")).await;
    assert!(location(&resp).contains("unauthorized_client"));
}

#[tokio::test]
async fn unknown_scope_shows_error_page_naming_it() {
    let fx = start().await;
    let resp = fx
        .get(&fx.authorize_url("read:jira-work manage:jira-configuration", CALLBACK, "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(header::LOCATION).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Something went wrong"));
    assert!(html.contains("manage:jira-configuration"));
    assert!(!html.contains(r#"id="consent""#));

    let resp = fx.get(&fx.authorize_url("", CALLBACK, "s")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn offline_access_is_always_allowed() {
    let fx = start_with(|c| c.allowed_scopes = vec!["read:me".into()]).await;
    let resp = fx
        .get(&fx.authorize_url("read:me offline_access", CALLBACK, "s"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_client_audience_response_type_or_state_are_html_400_never_redirects() {
    let fx = start().await;
    let good = fx.authorize_url("read:me", CALLBACK, "s");
    let cases = [
        good.replace(DEFAULT_CLIENT_ID, "someone-else"),
        good.replace("audience=onramp-sandbox", "audience=api.atlassian.com"),
        good.replace("response_type=code", "response_type=token"),
        good.replace("state=s&", "state=&"),
    ];
    for url in cases {
        let resp = fx.get(&url).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(resp.headers().get(header::LOCATION).is_none(), "{url}");
        assert!(resp.text().await.unwrap().contains("<html"));
    }
}

#[tokio::test]
async fn accept_redirects_with_code_and_state() {
    let fx = start().await;
    let id = fx
        .consent(&fx.authorize_url("read:me", CALLBACK, "state with spaces&more"))
        .await;
    let resp = fx.decide(&id, "accept").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = location(&resp);
    assert!(
        loc.starts_with(&format!("{CALLBACK}?code=sbx_code_")),
        "{loc}"
    );
    assert_eq!(
        query_param(&loc, "state").unwrap(),
        "state with spaces&more"
    );
    // The consent request is single-use.
    assert_eq!(
        fx.decide(&id, "accept").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn accept_works_for_custom_scheme_and_existing_query() {
    for registered in ["onramp://callback", "http://127.0.0.1:9999/cb?app=onramp"] {
        let fx = start_with(|c| c.registered_callback_url = Some(registered.into())).await;
        let id = fx
            .consent(&fx.authorize_url("read:me", registered, "xyz"))
            .await;
        let loc = location(&fx.decide(&id, "accept").await);
        let sep = if registered.contains('?') { '&' } else { '?' };
        assert!(
            loc.starts_with(&format!("{registered}{sep}code=sbx_code_")),
            "{loc}"
        );
        assert_eq!(query_param(&loc, "state").unwrap(), "xyz");
        assert!(query_param(&loc, "code").is_some());
    }
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_state() {
    let fx = start().await;
    let id = fx
        .consent(&fx.authorize_url("read:me", CALLBACK, "st-9"))
        .await;
    let resp = fx.decide(&id, "cancel").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        location(&resp),
        format!("{CALLBACK}?error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state=st-9")
    );
}

#[tokio::test]
async fn unknown_consent_request_is_html_400() {
    let fx = start().await;
    let resp = fx.decide("no-such-request", "accept").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("<html"));
}

// ---------------------------------------------------------------------------------------------
// /oauth/token: authorization_code

#[tokio::test]
async fn code_exchange_with_json_body() {
    let fx = start().await;
    let code = fx.code_for("read:me offline_access").await;
    let resp = fx.exchange(&code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let body = body_json(resp).await;
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_at_"));
    assert!(body["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_rt_"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:me offline_access");
}

#[tokio::test]
async fn code_exchange_with_form_body_and_with_basic_auth() {
    let fx = start().await;
    let code = fx.code_for("read:me").await;
    let resp = fx
        .http
        .post(fx.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await["scope"], "read:me");

    let code = fx.code_for("read:me").await;
    let resp = fx
        .http
        .post(fx.url("/oauth/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn code_reuse_is_invalid_request() {
    let fx = start().await;
    let code = fx.code_for("read:me").await;
    assert_eq!(fx.exchange(&code).await.status(), StatusCode::OK);
    let resp = fx.exchange(&code).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(resp).await,
        json!({"error": "invalid_request", "error_description": "authorization_code is invalid"})
    );
    let resp = fx.exchange("sbx_code_made-up").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_client_credentials_are_401_access_denied() {
    let fx = start().await;
    let code = fx.code_for("read:me").await;
    let unauthorized = json!({"error": "access_denied", "error_description": "Unauthorized"});
    for (id, secret) in [
        (DEFAULT_CLIENT_ID, Some("wrong")),
        (DEFAULT_CLIENT_ID, None),
        ("someone-else", Some(DEFAULT_CLIENT_SECRET)),
    ] {
        let mut body = json!({
            "grant_type": "authorization_code", "client_id": id,
            "code": code, "redirect_uri": CALLBACK,
        });
        if let Some(secret) = secret {
            body["client_secret"] = json!(secret);
        }
        let resp = fx.token_json(body).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(resp).await, unauthorized);
    }
    let resp = fx
        .http
        .post(fx.url("/oauth/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Client authentication comes first: the code is still good afterwards.
    assert_eq!(fx.exchange(&code).await.status(), StatusCode::OK);

    // Missing client_id: Atlassian's own body.
    let resp = fx
        .token_json(json!({"grant_type": "refresh_token", "refresh_token": "x"}))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(resp).await["error_description"],
        "client_id may not be blank"
    );
}

#[tokio::test]
async fn redirect_uri_mismatch_at_token_is_403_invalid_grant() {
    let fx = start().await;
    let code = fx.code_for("read:me").await;
    let resp = fx
        .token_json(json!({
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": code,
            "redirect_uri": "http://127.0.0.1:8765/other",
        }))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(resp).await,
        json!({"error": "invalid_grant", "error_description": "Invalid authorization code"})
    );
}

#[tokio::test]
async fn unsupported_grant_type_is_400() {
    let fx = start().await;
    let resp = fx
        .token_json(json!({
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        }))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(resp).await["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let fx = start().await;
    let body = fx.tokens("read:me read:jira-work").await;
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn withheld_scopes_reduce_granted_scope() {
    let fx = start().await;
    fx.sb.set_withheld_scopes(vec!["read:jira-user".into()]);
    let body = fx.tokens(JIRA).await;
    assert_eq!(body["scope"], "read:jira-work offline_access");
    let token = body["access_token"].as_str().unwrap();
    let resp = fx
        .api(
            token,
            &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// PKCE

#[tokio::test]
async fn pkce_is_ignored_unless_enforced() {
    let fx = start().await;
    let url = format!(
        "{}&code_challenge={}&code_challenge_method=S256",
        fx.authorize_url("read:me", CALLBACK, "s"),
        s256("the-right-verifier")
    );
    let id = fx.consent(&url).await;
    let code = query_param(&location(&fx.decide(&id, "accept").await), "code").unwrap();
    let resp = fx
        .token_json(json!({
            "grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "code": code, "redirect_uri": CALLBACK,
            "code_verifier": "a-wrong-verifier",
        }))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn pkce_enforced_requires_matching_verifier() {
    let fx = start_with(|c| c.enforce_pkce = true).await;
    // No challenge at /authorize: rejected there.
    let resp = fx.get(&fx.authorize_url("read:me", CALLBACK, "s")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjWgIkM";
    let url = format!(
        "{}&code_challenge={}&code_challenge_method=S256",
        fx.authorize_url("read:me", CALLBACK, "s"),
        s256(verifier)
    );
    for (sent, expected) in [
        (None, StatusCode::BAD_REQUEST),
        (Some("wrong-verifier"), StatusCode::BAD_REQUEST),
        (Some(verifier), StatusCode::OK),
    ] {
        let id = fx.consent(&url).await;
        let code = query_param(&location(&fx.decide(&id, "accept").await), "code").unwrap();
        let mut body = json!({
            "grant_type": "authorization_code", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "code": code, "redirect_uri": CALLBACK,
        });
        if let Some(v) = sent {
            body["code_verifier"] = json!(v);
        }
        let resp = fx.token_json(body).await;
        assert_eq!(resp.status(), expected, "{sent:?}");
        if expected != StatusCode::OK {
            assert_eq!(body_json(resp).await["error"], "invalid_grant");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

#[tokio::test]
async fn refresh_rotates_and_reuse_after_leeway_revokes_the_family() {
    let fx = start_with(|c| c.refresh_reuse_leeway = Duration::ZERO).await;
    let first = fx.tokens(JIRA).await;
    let rt1 = first["refresh_token"].as_str().unwrap();

    let resp = fx.refresh(rt1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second = body_json(resp).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    let at2 = second["access_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], first["scope"]);
    assert_eq!(
        fx.api(at2, "/oauth/token/accessible-resources")
            .await
            .status(),
        StatusCode::OK
    );

    // Reusing the rotated token outside the leeway fails and revokes the whole family.
    let invalid =
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."});
    let resp = fx.refresh(rt1).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(resp).await, invalid);
    let resp = fx.refresh(rt2).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(resp).await, invalid);
    assert_eq!(
        fx.api(at2, "/oauth/token/accessible-resources")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fx.sb.refresh_count(), 3);
}

#[tokio::test]
async fn refresh_reuse_within_leeway_returns_a_new_pair() {
    let fx = start().await;
    let rt1 = fx.tokens(JIRA).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let a = body_json(fx.refresh(&rt1).await).await;
    let resp = fx.refresh(&rt1).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let b = body_json(resp).await;
    assert_ne!(a["refresh_token"], b["refresh_token"]);
    // Both new refresh tokens work.
    for rt in [&a["refresh_token"], &b["refresh_token"]] {
        assert_eq!(
            fx.refresh(rt.as_str().unwrap()).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn unknown_refresh_token_is_403() {
    let fx = start().await;
    let resp = fx.refresh("sbx_rt_made-up").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(resp).await["error"], "invalid_grant");
    assert_eq!(fx.sb.refresh_count(), 1);
}

#[tokio::test]
async fn revoke_all_invalidates_access_and_refresh_tokens() {
    let fx = start().await;
    let body = fx.tokens(JIRA).await;
    let at = body["access_token"].as_str().unwrap();
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/serverInfo");
    assert_eq!(fx.api(at, &path).await.status(), StatusCode::OK);
    fx.sb.revoke_all();
    let resp = fx.api(at, &path).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(resp).await,
        json!({"code": 401, "message": "Unauthorized"})
    );
    let resp = fx.refresh(body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expiring_access_tokens_keeps_refresh_tokens() {
    let fx = start().await;
    let body = fx.tokens(JIRA).await;
    let at = body["access_token"].as_str().unwrap();
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/serverInfo");
    fx.sb.expire_access_tokens();
    assert_eq!(fx.api(at, &path).await.status(), StatusCode::UNAUTHORIZED);
    let resp = fx.refresh(body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_access_token_is_401() {
    let fx = start().await;
    fx.sb.set_access_token_ttl(Duration::from_secs(1));
    let body = fx.tokens("read:me").await;
    assert_eq!(body["expires_in"], 1);
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(fx.api(at, "/me").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = fx.api(at, "/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await["message"], "Unauthorized");
}

// ---------------------------------------------------------------------------------------------
// API

#[tokio::test]
async fn api_without_or_with_unknown_token_is_401() {
    let fx = start().await;
    let resp = fx.get(&fx.url("/me")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(resp).await,
        json!({"code": 401, "message": "Unauthorized"})
    );
    let resp = fx
        .api("sbx_at_made-up", "/oauth/token/accessible-resources")
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn accessible_resources_lists_sites_with_product_scopes() {
    let fx = start().await;
    let at = fx
        .access("read:me read:jira-work read:space:confluence offline_access")
        .await;
    let resp = fx.api(&at, "/oauth/token/accessible-resources").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let sites = body_json(resp).await;
    let sites = sites.as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["id"], ACME_CLOUD_ID);
    assert_eq!(sites[0]["name"], "Acme Sandbox");
    assert_eq!(sites[0]["url"], "https://acme.sandbox.example");
    assert_eq!(sites[1]["id"], GLOBEX_CLOUD_ID);
    assert_eq!(sites[1]["url"], "https://globex.sandbox.example");
    assert_eq!(
        sites[0]["scopes"],
        json!(["read:jira-work", "read:space:confluence"])
    );
    let avatar = sites[0]["avatarUrl"].as_str().unwrap();
    assert_eq!(avatar, fx.url("/avatars/acme.svg"));
    let svg = fx.get(avatar).await;
    assert_eq!(svg.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    assert_eq!(
        fx.get(&fx.url("/avatars/nobody.svg")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn accessible_resources_is_empty_without_product_scopes() {
    let fx = start().await;
    let at = fx.access("read:me offline_access").await;
    let resp = fx.api(&at, "/oauth/token/accessible-resources").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_json(resp).await, json!([]));
}

#[tokio::test]
async fn me_returns_the_user_and_needs_read_me() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    let me = body_json(fx.api(&at, "/me").await).await;
    assert_eq!(me["account_type"], "atlassian");
    assert_eq!(me["account_id"], "557058:sandbox-0001");
    assert_eq!(me["email"], "sandra@sandbox.example");
    assert_eq!(me["name"], "Sandra Boxley");
    assert_eq!(me["nickname"], "sboxley");
    assert_eq!(me["account_status"], "active");
    assert_eq!(me["zoneinfo"], "Europe/London");
    assert_eq!(me["locale"], "en-GB");
    assert!(me["picture"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));

    let at = fx.access("read:jira-work").await;
    let resp = fx.api(&at, "/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await, scope_mismatch());
}

#[tokio::test]
async fn jira_myself_accepts_classic_or_granular_scopes() {
    let fx = start().await;
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    for scope in [
        "read:jira-user",
        "read:application-role:jira read:group:jira read:user:jira read:avatar:jira",
    ] {
        let at = fx.access(scope).await;
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{scope}");
        let me = body_json(resp).await;
        assert_eq!(me["accountId"], "557058:sandbox-0001");
        assert_eq!(me["displayName"], "Sandra Boxley");
        assert_eq!(me["emailAddress"], "sandra@sandbox.example");
        assert_eq!(me["accountType"], "atlassian");
        assert_eq!(me["active"], true);
        assert!(me["avatarUrls"]["48x48"].is_string());
    }
    // Incomplete granular set, or an unrelated classic scope.
    for scope in ["read:user:jira read:group:jira", "read:jira-work"] {
        let at = fx.access(scope).await;
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{scope}");
        assert_eq!(body_json(resp).await, scope_mismatch());
    }
}

#[tokio::test]
async fn jira_server_info_needs_only_a_token() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    let resp = fx
        .api(
            &at,
            &format!("/ex/jira/{GLOBEX_CLOUD_ID}/rest/api/3/serverInfo"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let info = body_json(resp).await;
    assert_eq!(info["baseUrl"], "https://globex.sandbox.example");
    assert_eq!(info["deploymentType"], "Cloud");
    assert_eq!(info["versionNumbers"], json!([1001, 0, 0]));
    assert_eq!(info["serverTitle"], "Globex Sandbox Jira");
    assert!(info["serverTime"].as_str().unwrap().ends_with("+0000"));
}

#[tokio::test]
async fn jira_project_search_paginates() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let base = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/project/search");
    let page = body_json(fx.api(&at, &format!("{base}?maxResults=2")).await).await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["maxResults"], 2);
    assert_eq!(page["isLast"], false);
    assert_eq!(page["values"].as_array().unwrap().len(), 2);
    let next = page["nextPage"].as_str().unwrap();
    assert!(next.contains("startAt=2"));
    let rest = body_json(fx.api(&at, &next.replace(&fx.sb.base_url(), "")).await).await;
    assert_eq!(rest["isLast"], true);
    assert!(rest.get("nextPage").is_none());
    assert_eq!(rest["values"][0]["key"], "HELP");
    assert!(rest["values"][0]["projectTypeKey"].is_string());
    let all = body_json(fx.api(&at, &base).await).await;
    assert_eq!(all["maxResults"], 50);
    assert_eq!(all["values"].as_array().unwrap().len(), 3);

    let at = fx.access("read:jira-user").await;
    assert_eq!(fx.api(&at, &base).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jira_search_jql_is_bounded_paginated_and_id_only_by_default() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let base = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql");

    for jql in ["", "ORDER BY updated DESC", "  order by key"] {
        let resp = fx.api(&at, &format!("{base}?jql={}", enc(jql))).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{jql:?}");
        assert!(body_json(resp).await["errorMessages"][0].is_string());
    }
    assert_eq!(fx.api(&at, &base).await.status(), StatusCode::BAD_REQUEST);

    let jql = enc("updated >= -30d ORDER BY updated DESC");
    let first = body_json(fx.api(&at, &format!("{base}?jql={jql}&maxResults=2")).await).await;
    let issues = first["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2);
    assert!(issues[0]["id"].is_string());
    assert!(issues[0].get("fields").is_none());
    assert_eq!(first["isLast"], false);

    // Walk the pages with the opaque token.
    let mut seen = 2;
    let mut token = first["nextPageToken"].as_str().unwrap().to_string();
    loop {
        let page = body_json(
            fx.api(
                &at,
                &format!(
                    "{base}?jql={jql}&maxResults=2&nextPageToken={}",
                    enc(&token)
                ),
            )
            .await,
        )
        .await;
        seen += page["issues"].as_array().unwrap().len();
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(seen, 5);

    let with_summary = body_json(
        fx.api(&at, &format!("{base}?jql={jql}&fields=summary"))
            .await,
    )
    .await;
    assert_eq!(with_summary["issues"].as_array().unwrap().len(), 5);
    assert_eq!(with_summary["isLast"], true);
    assert!(with_summary.get("nextPageToken").is_none());
    assert!(with_summary["issues"][0]["fields"]["summary"].is_string());

    // POST form of the same API.
    let resp = fx
        .http
        .post(fx.url(&base))
        .bearer_auth(&at)
        .json(&json!({"jql": "project = ONR", "maxResults": 1, "fields": ["summary"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["issues"].as_array().unwrap().len(), 1);
    assert!(body["nextPageToken"].is_string());
}

#[tokio::test]
async fn removed_search_endpoints_answer_410_with_atlassians_body() {
    let fx = start().await;
    let at = fx.access("read:jira-work").await;
    let expected = r#"{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"]}"#;
    for version in ["3", "2"] {
        let url = fx.url(&format!(
            "/ex/jira/{ACME_CLOUD_ID}/rest/api/{version}/search?jql=project%3DONR"
        ));
        let get = fx.http.get(&url).bearer_auth(&at).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::GONE);
        assert_eq!(get.text().await.unwrap(), expected);
        let post = fx
            .http
            .post(&url)
            .bearer_auth(&at)
            .json(&json!({"jql": "project = ONR"}))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), StatusCode::GONE);
        assert_eq!(post.text().await.unwrap(), expected);
    }
}

#[tokio::test]
async fn unknown_cloud_id_or_path_is_404() {
    let fx = start().await;
    let at = fx.access("read:jira-work read:jira-user").await;
    let not_found = json!({"code": 404, "message": "Not Found"});
    for path in [
        "/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself".to_string(),
        format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/ONR-1"),
        format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/rest/api/space"),
    ] {
        let resp = fx.api(&at, &path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body_json(resp).await, not_found);
    }
    // The token is checked before anything else.
    let resp = fx
        .api(
            "sbx_at_nope",
            &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/ONR-1"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn confluence_v2_spaces_rejects_classic_only_tokens() {
    let fx = start().await;
    let path = format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/api/v2/spaces?limit=1");
    let classic = fx
        .access("read:confluence-space.summary read:confluence-content.all")
        .await;
    let resp = fx.api(&classic, &path).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(resp).await, scope_mismatch());

    let granular = fx.access("read:space:confluence").await;
    let resp = fx.api(&granular, &path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let link = resp.headers()[header::LINK].to_str().unwrap().to_string();
    let body = body_json(resp).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["key"], "ENG");
    let next = body["_links"]["next"].as_str().unwrap();
    assert!(next.starts_with("/wiki/api/v2/spaces?cursor="), "{next}");
    assert!(next.ends_with("&limit=1"));
    assert!(
        link.starts_with(&format!("<{next}>; rel=\"next\"")),
        "{link}"
    );

    // The next link is relative to the product's gateway base.
    let resp = fx
        .api(&granular, &format!("/ex/confluence/{ACME_CLOUD_ID}{next}"))
        .await;
    assert!(resp.headers().get(header::LINK).is_none());
    let last = body_json(resp).await;
    assert_eq!(last["results"][0]["key"], "~sboxley");
    assert!(last["_links"].get("next").is_none());
}

#[tokio::test]
async fn confluence_v2_pages_need_read_page_confluence() {
    let fx = start().await;
    let path = format!("/ex/confluence/{GLOBEX_CLOUD_ID}/wiki/api/v2/pages");
    let at = fx.access("read:page:confluence").await;
    let resp = fx.api(&at, &path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert!(body["_links"].get("next").is_none());
    assert!(body["results"][0]["title"].is_string());

    let at = fx.access("read:space:confluence").await;
    assert_eq!(fx.api(&at, &path).await.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// Faults and test control

#[tokio::test]
async fn rate_limit_fault_answers_429_with_retry_after_then_recovers() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    fx.sb.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 7,
        ..Faults::default()
    });
    let resp = fx.api(&at, "/me").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
    let reset = resp.headers()["x-ratelimit-reset"].to_str().unwrap();
    assert!(
        reset.ends_with('Z') && reset.len() == "2025-01-01T00:00Z".len(),
        "{reset}"
    );
    assert_eq!(fx.api(&at, "/me").await.status(), StatusCode::OK);

    fx.sb.set_faults(Faults {
        rate_limit_next: 1,
        server_error_next: 1,
        ..Faults::default()
    });
    let first = fx.api(&at, "/me").await;
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(first.headers()[header::RETRY_AFTER], "2");
    assert_eq!(
        fx.api(&at, "/me").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(fx.api(&at, "/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn faults_do_not_touch_the_token_endpoint_but_slow_does() {
    let fx = start().await;
    fx.sb.set_faults(Faults {
        rate_limit_next: 5,
        slow_ms: 300,
        ..Faults::default()
    });
    let code = fx.code_for("read:me").await;
    let started = std::time::Instant::now();
    assert_eq!(fx.exchange(&code).await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn invalid_grant_fault_fails_one_refresh() {
    let fx = start().await;
    let rt = fx.tokens(JIRA).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    fx.sb.set_faults(Faults {
        invalid_grant_next_refresh: true,
        ..Faults::default()
    });
    let resp = fx.refresh(&rt).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(resp).await["error_description"],
        "Unknown or invalid refresh token."
    );
    assert_eq!(fx.refresh(&rt).await.status(), StatusCode::OK);
    assert_eq!(fx.sb.refresh_count(), 2);
}

#[tokio::test]
async fn control_endpoints_steer_the_sandbox() {
    let fx = start().await;
    let post = |path: &str, body: Value| fx.http.post(fx.url(path)).json(&body).send();

    let resp = post("/__sandbox/withheld-scopes", json!(["read:jira-user"]))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(fx.sb.config().withheld_scopes, vec!["read:jira-user"]);

    post("/__sandbox/access-token-ttl", json!({"seconds": 42}))
        .await
        .unwrap();
    let body = fx.tokens(JIRA).await;
    assert_eq!(body["expires_in"], 42);
    assert_eq!(body["scope"], "read:jira-work offline_access");
    let at = body["access_token"].as_str().unwrap().to_string();

    post("/__sandbox/faults", json!({"server_error_next": 1}))
        .await
        .unwrap();
    assert_eq!(
        fx.api(&at, "/oauth/token/accessible-resources")
            .await
            .status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    fx.refresh(body["refresh_token"].as_str().unwrap()).await;
    let stats = body_json(fx.get(&fx.url("/__sandbox/stats")).await).await;
    assert_eq!(stats, json!({"refresh_count": 1}));

    let resp = fx
        .http
        .post(fx.url("/__sandbox/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        fx.api(&at, "/oauth/token/accessible-resources")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn config_snapshot_and_shutdown() {
    let fx = start().await;
    let config = fx.sb.config();
    assert_eq!(config.client_id, DEFAULT_CLIENT_ID);
    assert_eq!(config.client_secret, DEFAULT_CLIENT_SECRET);
    assert_eq!(config.audience, "onramp-sandbox");
    assert_eq!(config.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(config.refresh_reuse_leeway, Duration::from_secs(600));
    assert!(!config.enforce_pkce);
    assert!(config
        .allowed_scopes
        .iter()
        .any(|s| s == "read:project.component:jira"));
    fx.sb.set_enforce_pkce(true);
    assert!(fx.sb.config().enforce_pkce);

    let base = fx.sb.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    let Fx { sb, http } = fx;
    sb.shutdown().await;
    assert!(http.get(format!("{base}/me")).send().await.is_err());
}
