//! `/oauth/token`: code exchange, PKCE and refresh tokens, over real HTTP on a random loopback
//! port.

mod common;

use std::time::Duration;

use common::*;
use onramp_sandbox::{ACME_CLOUD_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use reqwest::{header, StatusCode};
use serde_json::json;

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
// /oauth/token: client_credentials (a service account's OAuth 2.0 credential)

async fn client_credentials(fx: &Fx, secret: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", onramp_sandbox::SERVICE_ACCOUNT_CLIENT_ID),
        ("client_secret", secret),
    ];
    form.extend_from_slice(extra);
    fx.http
        .post(fx.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_account_gets_a_token_with_its_own_scopes_and_no_refresh_token() {
    let fx = start().await;
    let resp = client_credentials(&fx, onramp_sandbox::SERVICE_ACCOUNT_CLIENT_SECRET, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_at_"));
    assert!(
        body.get("refresh_token").is_none_or(|v| v.is_null()),
        "{body}"
    );
    assert_eq!(body["scope"], "read:jira-work read:jira-user");
    let token = body["access_token"].as_str().unwrap();
    let sites = fx
        .http
        .get(fx.url("/oauth/token/accessible-resources"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(sites.status(), StatusCode::OK);
    // Its own sites: the service account was given Acme only.
    let sites = body_json(sites).await;
    assert_eq!(sites.as_array().unwrap().len(), 1, "{sites}");
    assert_eq!(sites[0]["id"], ACME_CLOUD_ID);
    let elsewhere = fx
        .http
        .get(fx.url(&format!(
            "/ex/jira/{}/rest/api/3/myself",
            onramp_sandbox::GLOBEX_CLOUD_ID
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    // The app's own credentials are not a service account's; a wrong secret, a scope parameter
    // and a revoked credential are refused.
    let wrong = client_credentials(&fx, "not-the-secret", &[]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scoped = client_credentials(
        &fx,
        onramp_sandbox::SERVICE_ACCOUNT_CLIENT_SECRET,
        &[("scope", "read:jira-work")],
    )
    .await;
    assert_eq!(scoped.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(scoped).await["error"], "invalid_scope");
    fx.sb.set_service_account_revoked(true);
    let revoked = client_credentials(&fx, onramp_sandbox::SERVICE_ACCOUNT_CLIENT_SECRET, &[]).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

/// Onramp's preflight exchanges a made-up code (reference nango-api-and-preflight.md §2.2): the
/// client is checked before the code, so a wrong secret or an unknown client gets 401
/// access_denied and only a right client gets Atlassian's "authorization_code is invalid".
#[tokio::test]
async fn a_made_up_code_tells_a_wrong_client_from_a_right_one() {
    let fx = start().await;
    let exchange = |id: &str, secret: &str| {
        json!({
            "grant_type": "authorization_code", "client_id": id, "client_secret": secret,
            "code": "onramp-preflight-made-up", "redirect_uri": CALLBACK,
        })
    };
    let resp = fx
        .token_json(exchange(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(resp).await,
        json!({"error": "invalid_request", "error_description": "authorization_code is invalid"})
    );
    for (id, secret) in [
        (DEFAULT_CLIENT_ID, "wrong"),
        ("someone-else", DEFAULT_CLIENT_SECRET),
    ] {
        let resp = fx.token_json(exchange(id, secret)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body_json(resp).await,
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        );
    }
}
