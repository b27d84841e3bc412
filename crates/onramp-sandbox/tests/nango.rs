//! The Nango look-alike under `/nango`: authentication, validation, status codes and error bodies
//! of `shared/reference/nango-api-and-preflight.md` §1.1–1.5 and §4, and the record of what it got.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn errors_at(body: &Value) -> Vec<(String, String, Value)> {
    body["error"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
                e["path"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn nango_authentication_answers_like_nango() {
    let fx = start().await;
    let (s, b) = fx.nango(Method::GET, "/providers/jira", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        b,
        json!({"error": {"message": "Authentication failed. The request is missing the Authorization header.", "payload": {}, "code": "missing_auth_header"}})
    );
    let (s, b) = fx
        .nango(Method::GET, "/providers/jira", Some("not-a-uuid"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        b,
        json!({"error": {"message": "Authentication failed. The provided secret key is not a UUID v4.", "code": "invalid_secret_key_format"}})
    );
    let (s, b) = fx
        .nango(
            Method::GET,
            "/providers/jira",
            Some("11111111-2222-4333-8444-555555555555"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "unknown_account");
    let malformed = fx
        .http
        .get(fx.url("/nango/providers/jira"))
        .header("authorization", "Token abc")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(malformed).await["error"]["code"],
        "malformed_auth_header"
    );
    let (s, b) = fx.nango_ok(Method::GET, "/providers/jira", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["data"]["authorization_params"]["audience"],
        "api.atlassian.com"
    );
    let (s, _) = fx.nango_ok(Method::GET, "/providers/jiraa", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nango_create_integration_validates_like_nango() {
    let fx = start().await;
    let (s, b) = fx
        .nango_ok(
            Method::POST,
            "/integrations",
            Some(nango_integration("jira-a")),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["unique_key"], "jira-a");
    assert_eq!(b["data"]["forward_webhooks"], true);
    assert!(
        b["data"].get("credentials").is_none(),
        "no credentials echoed"
    );

    let (s, b) = fx
        .nango_ok(
            Method::POST,
            "/integrations",
            Some(nango_integration("jira-a")),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        json!({"error":{"code":"invalid_body","errors":[{"code":"invalid_string","message":"Unique key already exists","path":["uniqueKey"]}]}})
    );

    let mut unknown = nango_integration("jira-b");
    unknown["provider"] = json!("jiraa");
    let (s, b) = fx
        .nango_ok(Method::POST, "/integrations", Some(unknown))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors_at(&b),
        vec![(
            "invalid_string".into(),
            "Invalid provider".into(),
            json!(["provider"])
        )]
    );

    let mut bare = nango_integration("jira-b");
    bare.as_object_mut().unwrap().remove("credentials");
    let (s, b) = fx.nango_ok(Method::POST, "/integrations", Some(bare)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        json!({"error":{"code":"invalid_body","message":"Missing credentials"}})
    );

    let mut array = nango_integration("jira-b");
    array["credentials"]["scopes"] = json!(["offline_access", "read:jira-work"]);
    let (s, b) = fx
        .nango_ok(Method::POST, "/integrations", Some(array))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(errors_at(&b)[0].0, "invalid_union");
    assert_eq!(errors_at(&b)[0].2, json!(["credentials", "scopes"]));

    let mut extra = nango_integration("jira-b");
    extra["oauth_scopes"] = json!("x");
    let (s, b) = fx
        .nango_ok(Method::POST, "/integrations", Some(extra))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(errors_at(&b)[0].0, "unrecognized_keys");

    let mut bad_key = nango_integration("jira/b");
    bad_key["credentials"]["type"] = json!("OAUTH3");
    let (s, b) = fx
        .nango_ok(Method::POST, "/integrations", Some(bad_key))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let errors = errors_at(&b);
    assert!(errors.contains(&(
        "invalid_format".into(),
        "Invalid string: must match pattern /^[a-zA-Z0-9~:.@ _-]+$/".into(),
        json!(["unique_key"])
    )));
    assert!(errors.contains(&(
        "invalid_union".into(),
        "invalid credentials object".into(),
        json!(["credentials", "type"])
    )));

    let wrong_type = fx
        .http
        .post(fx.url("/nango/integrations"))
        .bearer_auth(fx.sb.nango_secret_key())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body_json(wrong_type).await,
        json!({"error":{"code":"invalid_content_type","message":"Content-Type header must be application/json"}})
    );
}

#[tokio::test]
async fn nango_patch_needs_whole_credentials_and_keeps_omitted_scopes() {
    let fx = start().await;
    let (s, b) = fx
        .nango_ok(Method::PATCH, "/integrations/nope", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        b,
        json!({"error":{"code":"not_found","message":"Integration \"nope\" does not exist"}})
    );
    fx.nango_ok(Method::POST, "/integrations", Some(nango_integration("k")))
        .await;
    let (s, b) = fx
        .nango_ok(
            Method::PATCH,
            "/integrations/k",
            Some(json!({"credentials": {"type": "OAUTH2", "client_secret": "new"}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(errors_at(&b)[0].0, "invalid_type");
    assert_eq!(errors_at(&b)[0].2, json!(["credentials", "client_id"]));
    let (s, b) = fx
        .nango_ok(
            Method::PATCH,
            "/integrations/k",
            Some(json!({"credentials": {"client_id": "cid", "client_secret": "new"}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(errors_at(&b)[0].2, json!(["credentials", "type"]));
    let (s, _) = fx
        .nango_ok(
            Method::PATCH,
            "/integrations/k",
            Some(json!({"credentials": {"type": "OAUTH2", "client_id": "cid2", "client_secret": "new"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = fx
        .nango_ok(Method::GET, "/integrations/k?include=credentials", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"]["credentials"]["client_id"], "cid2");
    assert_eq!(b["data"]["credentials"]["client_secret"], "new");
    assert_eq!(
        b["data"]["credentials"]["scopes"], "offline_access,read:jira-work",
        "omitted scopes are kept"
    );
}

fn import(key: &str, expires_at: Value) -> Value {
    json!({
        "provider_config_key": key,
        "connection_id": "conn-1",
        "credentials": {"type": "OAUTH2", "access_token": "at", "refresh_token": "rt", "expires_at": expires_at},
        "connection_config": {"cloudId": "c1", "subdomain": "acme", "baseUrl": "https://acme.atlassian.net"},
        "metadata": {"granted_scopes": "read:jira-work"}
    })
}

#[tokio::test]
async fn nango_import_is_a_strict_upsert_answering_201() {
    let fx = start().await;
    let (s, b) = fx
        .nango_ok(
            Method::POST,
            "/connections",
            Some(import("k", json!("2026-09-01T12:00:00Z"))),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        b,
        json!({"error":{"code":"not_found","message":"Integration does not exist"}})
    );
    fx.nango_ok(Method::POST, "/integrations", Some(nango_integration("k")))
        .await;
    let (s, b) = fx
        .nango_ok(
            Method::POST,
            "/connections",
            Some(import("k", json!("2026-09-01T12:00:00Z"))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(b["connection_id"], "conn-1");
    assert_eq!(b["credentials"]["expires_at"], "2026-09-01T12:00:00Z");
    assert_eq!(b["credentials"]["raw"]["access_token"], "at");

    let mut with_expires_in = import("k", json!("2026-09-01T12:00:00Z"));
    with_expires_in["credentials"]["expires_in"] = json!(3600);
    let (s, b) = fx
        .nango_ok(Method::POST, "/connections", Some(with_expires_in))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(errors_at(&b)[0].0, "unrecognized_keys");
    assert_eq!(errors_at(&b)[0].2, json!(["credentials"]));

    let mut no_token = import("k", json!("2026-09-01T12:00:00Z"));
    no_token["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("access_token");
    let (s, b) = fx
        .nango_ok(Method::POST, "/connections", Some(no_token))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        json!({"error":{"code":"invalid_body","errors":[{"code":"invalid_type","message":"Invalid input: expected string, received undefined","path":["credentials","access_token"]}]}})
    );

    let (s, _) = fx
        .nango_ok(
            Method::POST,
            "/connections",
            Some(import("k", json!("1790000000"))),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a numeric string is not a date");
    // Seconds are read as milliseconds: silently 1970 (§4).
    let (s, b) = fx
        .nango_ok(
            Method::POST,
            "/connections",
            Some(import("k", json!(1_790_000_000))),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(b["credentials"]["expires_at"]
        .as_str()
        .unwrap()
        .starts_with("1970-"));

    // Upsert: same id, connection_config replaced; refresh token only on request.
    let mut again = import("k", json!("2026-09-01T12:00:00Z"));
    again["connection_config"] = json!({"subdomain": "globex"});
    let (s, b2) = fx.nango_ok(Method::POST, "/connections", Some(again)).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(b2["id"], b["id"]);
    let (s, read) = fx
        .nango_ok(
            Method::GET,
            "/connections/conn-1?provider_config_key=k",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read["connection_config"], json!({"subdomain": "globex"}));
    assert!(read["credentials"].get("refresh_token").is_none());
    let (_, read) = fx
        .nango_ok(
            Method::GET,
            "/connections/conn-1?provider_config_key=k&refresh_token=true",
            None,
        )
        .await;
    assert_eq!(read["credentials"]["refresh_token"], "rt");
}

#[tokio::test]
async fn nango_scoped_key_without_permission_gets_403_and_everything_is_recorded() {
    let fx = start().await;
    fx.sb
        .set_nango_key_scopes(Some(vec!["environment:integrations:read".into()]));
    let (s, b) = fx
        .nango_ok(Method::POST, "/integrations", Some(nango_integration("k")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        b,
        json!({"error":{"code":"forbidden","message":"Insufficient scope. Required: environment:integrations:create"}})
    );
    let (s, _) = fx.nango_ok(Method::GET, "/integrations/k", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "reading is allowed");

    // The same scopes through the test-control route.
    let resp = fx
        .http
        .post(fx.url("/__sandbox/nango/key-scopes"))
        .json(&Value::Null)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (s, _) = fx
        .nango_ok(Method::POST, "/integrations", Some(nango_integration("k")))
        .await;
    assert_eq!(s, StatusCode::OK);

    let received = fx.sb.nango_received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/integrations");
    assert_eq!(received[0].body["unique_key"], "k");
    assert!(received[0].authorized);
    let over_http: Value = fx
        .get(&fx.url("/__sandbox/nango/received"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.as_array().unwrap().len(), 3);
    assert_eq!(over_http[1]["path"], "/integrations/k");
    assert!(
        !over_http.to_string().contains(&fx.sb.nango_secret_key()),
        "the key is never recorded"
    );
}
