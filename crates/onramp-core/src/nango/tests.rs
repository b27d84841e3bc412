//! Request bodies and error mappings, against mockito (bodies from nango-api-and-preflight.md).

use super::*;
use crate::model::ErrorCode;
use mockito::Matcher;

const KEY: &str = "5e0b7a52-3c1d-4f6e-9a8b-0c1d2e3f4a5b";

fn site() -> Site {
    Site {
        id: "cloud-1".into(),
        name: "Acme".into(),
        url: "https://acme.atlassian.net".into(),
        scopes: vec![],
        avatar_url: None,
        key: String::new(),
        products: Vec::new(),
    }
}

fn scopes() -> Vec<String> {
    vec![
        "offline_access".into(),
        "read:jira-work".into(),
        "read:me".into(),
    ]
}

fn with_input<T>(f: impl FnOnce(&PushInput) -> T) -> T {
    let site = site();
    let scopes = scopes();
    let granted = vec!["read:jira-work".to_string(), "offline_access".into()];
    f(&PushInput {
        provider: NangoProvider::Jira,
        integration_key: "jira-acme",
        display_name: "Acme Jira",
        client_id: "cid",
        client_secret: &"csecret".into(),
        scopes: &scopes,
        connection_id: "user-42",
        access_token: &"at-1".into(),
        refresh_token: &"rt-1".into(),
        expires_at: 1_788_264_000, // 2026-09-01T12:00:00Z
        site: &site,
        granted_scopes: &granted,
    })
}

fn credentials() -> Value {
    json!({"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret", "scopes": "offline_access,read:jira-work,read:me"})
}

fn import_body() -> Value {
    json!({
        "provider_config_key": "jira-acme",
        "connection_id": "user-42",
        "credentials": {"type": "OAUTH2", "access_token": "at-1", "refresh_token": "rt-1", "expires_at": "2026-09-01T12:00:00Z"},
        "connection_config": {"cloudId": "cloud-1", "subdomain": "acme", "baseUrl": "https://acme.atlassian.net"},
        "metadata": {"granted_scopes": "read:jira-work offline_access", "onramp_version": env!("CARGO_PKG_VERSION")},
    })
}

#[test]
fn bodies_follow_the_reference() {
    with_input(|input| {
        assert_eq!(
            create_integration_body(input),
            json!({"unique_key": "jira-acme", "provider": "jira", "display_name": "Acme Jira", "credentials": credentials()})
        );
        assert_eq!(
            update_integration_body(input),
            json!({"credentials": credentials()})
        );
        assert_eq!(import_connection_body(input).unwrap(), import_body());
    });
    assert_eq!(
        subdomain_of("https://acme.atlassian.net").as_deref(),
        Some("acme")
    );
    assert_eq!(
        subdomain_of("https://globex.sandbox.example/").as_deref(),
        Some("globex")
    );
    assert_eq!(iso8601(0).unwrap(), "1970-01-01T00:00:00Z");
}

#[test]
fn targets_are_checked_before_anything_is_sent() {
    let ok = NangoTarget {
        base_url: "http://localhost:3003".into(),
        provider: NangoProvider::Jira,
        integration_key: "jira acme:1".into(),
        connection_id: "c".into(),
    };
    assert!(validate_target(&ok).is_ok());
    for bad in [
        NangoTarget {
            base_url: "localhost:3003".into(),
            ..ok.clone()
        },
        NangoTarget {
            base_url: "ftp://x".into(),
            ..ok.clone()
        },
        NangoTarget {
            integration_key: "jira/acme".into(),
            ..ok.clone()
        },
        NangoTarget {
            integration_key: "".into(),
            ..ok.clone()
        },
        NangoTarget {
            connection_id: " ".into(),
            ..ok.clone()
        },
    ] {
        assert_eq!(
            validate_target(&bad).unwrap_err().to_ui().code,
            ErrorCode::InvalidInput
        );
    }
}

async fn provider_ok(server: &mut mockito::Server) -> mockito::Mock {
    server
        .mock("GET", "/providers/jira")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_status(200)
        .with_body(r#"{"data":{"name":"jira"}}"#)
        .create_async()
        .await
}

async fn read_back(server: &mut mockito::Server, cloud_id: &str) -> mockito::Mock {
    server
        .mock("GET", "/connections/user-42")
        .match_query(Matcher::UrlEncoded(
            "provider_config_key".into(),
            "jira-acme".into(),
        ))
        .with_status(200)
        .with_body(
            json!({"connection_id": "user-42", "connection_config": {"cloudId": cloud_id}})
                .to_string(),
        )
        .create_async()
        .await
}

async fn run(server: &mockito::Server) -> Result<PushReport, OnrampError> {
    run_at(&format!("{}/", server.url())).await
}

async fn run_at(base: &str) -> Result<PushReport, OnrampError> {
    let http = crate::tls::client();
    let site = site();
    let scopes = scopes();
    let granted = vec!["read:jira-work".to_string(), "offline_access".into()];
    let input = PushInput {
        provider: NangoProvider::Jira,
        integration_key: "jira-acme",
        display_name: "Acme Jira",
        client_id: "cid",
        client_secret: &"csecret".into(),
        scopes: &scopes,
        connection_id: "user-42",
        access_token: &"at-1".into(),
        refresh_token: &"rt-1".into(),
        expires_at: 1_788_264_000,
        site: &site,
        granted_scopes: &granted,
    };
    push(&http, base, &KEY.into(), &input, Duration::ZERO).await
}

#[tokio::test]
async fn a_missing_integration_is_created_then_the_connection_imported_and_read_back() {
    let mut server = mockito::Server::new_async().await;
    let p = provider_ok(&mut server).await;
    let get = server
        .mock("GET", "/integrations/jira-acme")
        .with_status(404)
        .with_body(r#"{"error":{"code":"not_found","message":"Integration \"jira-acme\" does not exist"}}"#)
        .create_async()
        .await;
    let create = server
        .mock("POST", "/integrations")
        .match_body(Matcher::Json(json!({"unique_key": "jira-acme", "provider": "jira", "display_name": "Acme Jira", "credentials": credentials()})))
        .with_status(200)
        .with_body(r#"{"data":{"unique_key":"jira-acme","provider":"jira"}}"#)
        .create_async()
        .await;
    let import = server
        .mock("POST", "/connections")
        .match_body(Matcher::Json(import_body()))
        .with_status(201)
        .with_body("{}")
        .create_async()
        .await;
    let back = read_back(&mut server, "cloud-1").await;
    let report = run(&server).await.unwrap();
    assert!(report.created_integration);
    for m in [p, get, create, import, back] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn an_existing_integration_is_updated_with_the_whole_credentials() {
    let mut server = mockito::Server::new_async().await;
    provider_ok(&mut server).await;
    server
        .mock("GET", "/integrations/jira-acme")
        .with_status(200)
        .with_body(r#"{"data":{"unique_key":"jira-acme","provider":"jira"}}"#)
        .create_async()
        .await;
    let patch = server
        .mock("PATCH", "/integrations/jira-acme")
        .match_body(Matcher::Json(json!({"credentials": credentials()})))
        .with_status(200)
        .with_body("{}")
        .create_async()
        .await;
    server
        .mock("POST", "/connections")
        .with_status(201)
        .with_body("{}")
        .create_async()
        .await;
    read_back(&mut server, "cloud-1").await;
    assert!(!run(&server).await.unwrap().created_integration);
    patch.assert_async().await;
}

#[tokio::test]
async fn a_key_of_another_provider_is_never_overwritten() {
    let mut server = mockito::Server::new_async().await;
    provider_ok(&mut server).await;
    server
        .mock("GET", "/integrations/jira-acme")
        .with_status(200)
        .with_body(r#"{"data":{"unique_key":"jira-acme","provider":"github"}}"#)
        .create_async()
        .await;
    let patch = server
        .mock("PATCH", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let ui = run(&server).await.unwrap_err().to_ui();
    assert_eq!(ui.code, ErrorCode::NangoProviderMismatch);
    assert!(
        ui.detail.contains("\"github\"") && ui.detail.contains("jira-acme"),
        "{}",
        ui.detail
    );
    patch.assert_async().await;
}

#[tokio::test]
async fn a_read_back_with_another_cloud_id_is_an_error() {
    let mut server = mockito::Server::new_async().await;
    provider_ok(&mut server).await;
    server
        .mock("GET", "/integrations/jira-acme")
        .with_status(200)
        .with_body(r#"{"data":{"provider":"jira"}}"#)
        .create_async()
        .await;
    server
        .mock("PATCH", "/integrations/jira-acme")
        .with_status(200)
        .with_body("{}")
        .create_async()
        .await;
    server
        .mock("POST", "/connections")
        .with_status(201)
        .with_body("{}")
        .create_async()
        .await;
    read_back(&mut server, "cloud-other").await;
    let ui = run(&server).await.unwrap_err().to_ui();
    assert_eq!(ui.code, ErrorCode::NangoCloudIdMismatch);
    assert!(ui.detail.contains("cloud-other") && ui.detail.contains("acme.atlassian.net"));
}

#[tokio::test]
async fn a_wrong_key_stops_at_the_first_call_and_nothing_is_unreachable_by_accident() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/providers/jira")
        .with_status(401)
        .with_body(r#"{"error":{"message":"Authentication failed. The provided authorization header does not match any account.","code":"unknown_account"}}"#)
        .create_async()
        .await;
    let rest = server
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let ui = run(&server).await.unwrap_err().to_ui();
    assert_eq!(ui.code, ErrorCode::NangoKeyRejected);
    assert!(ui.detail.contains("unknown_account") && ui.detail.contains("another environment"));
    assert!(!ui.detail.contains(KEY), "never the key");
    rest.assert_async().await;
    drop(server);

    let e = run_at("http://127.0.0.1:9").await.unwrap_err().to_ui();
    assert_eq!(e.code, ErrorCode::NangoUnreachable);
    assert!(e.detail.contains("http://127.0.0.1:9"));
}
