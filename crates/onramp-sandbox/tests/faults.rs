//! Fault injection and the test-control endpoints, over real HTTP on a random loopback port.

mod common;

use std::time::Duration;

use common::*;
use onramp_sandbox::{Faults, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

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
    assert_eq!(stats["refresh_count"], 1);
    // The code exchange and the refresh, counted on arrival.
    assert_eq!(stats["token_requests"], 2);
    assert!(stats["instance_id"]
        .as_str()
        .unwrap()
        .starts_with("sbx_run_"));

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

#[tokio::test]
async fn rate_limit_reason_and_near_limit_headers_are_sent_when_asked() {
    let fx = start().await;
    let at = fx.access("read:me").await;
    fx.sb.set_faults(Faults {
        rate_limit_next: 1,
        rate_limit_reason: "jira-quota-tenant-based".into(),
        near_limit_next: 1,
        ..Faults::default()
    });
    let limited = fx.api(&at, "/me").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.headers()["ratelimit-reason"],
        "jira-quota-tenant-based"
    );
    let near = fx.api(&at, "/me").await;
    assert_eq!(near.status(), StatusCode::OK);
    assert_eq!(near.headers()["x-ratelimit-nearlimit"], "true");
    let calm = fx.api(&at, "/me").await;
    assert!(calm.headers().get("x-ratelimit-nearlimit").is_none());
    // Without a reason, a 429 carries none (as some of Atlassian's do).
    fx.sb.set_faults(Faults {
        rate_limit_next: 1,
        ..Faults::default()
    });
    assert!(fx
        .api(&at, "/me")
        .await
        .headers()
        .get("ratelimit-reason")
        .is_none());
}
