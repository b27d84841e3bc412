//! Issue 10's fault matrix: the provider killed (SIGKILL) during the code exchange. With processes:
//! the provider is the sandbox running in a child process (this test binary, started again on
//! `child_process_serving_the_sandbox`); Onramp's engine runs in this one. The token request reaches
//! the provider, which holds its answer (`Faults.slow_ms`), and the provider process is killed.
//!
//! Onramp names what happened (the token endpoint closed the connection), keeps the integration,
//! its client secret and its settings, stores no token, and authorizing again works once the
//! provider is back on the same address.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use onramp_core::engine::SandboxLink;
use onramp_core::events::RecordingSink;
use onramp_core::model::{ApiRequest, ErrorCode, SandboxApp};
use onramp_core::vault::{SecretKind, Vault};
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::{Sandbox, SandboxConfig, ACME_CLOUD_ID};

const CHILD_ENV: &str = "ONRAMP_PROVIDER_CHILD";
const REDIRECT_URI: &str = "onramp://callback";

/// Not a test of its own: the body of the provider process started by the test below (it returns
/// at once without `ONRAMP_PROVIDER_CHILD`). Serves the sandbox on the given port and writes its
/// address to the given file, then waits to be killed.
#[tokio::test]
async fn child_process_serving_the_sandbox() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (address_file, port) = spec.split_once('\n').expect("file and port");
    let config = SandboxConfig {
        registered_callback_url: Some(REDIRECT_URI.to_string()),
        ..SandboxConfig::default()
    };
    let port: u16 = port.parse().unwrap();
    let sandbox = Sandbox::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .unwrap();
    std::fs::write(address_file, sandbox.base_url()).unwrap();
    tokio::time::sleep(Duration::from_secs(300)).await;
}

/// Starts the provider process on `port` (0: any) and returns it with its base URL; the caller
/// kills and waits for it.
#[allow(clippy::zombie_processes)] // The child is returned to the caller, which waits for it.
fn start_provider(dir: &Path, port: u16) -> (Child, String) {
    let address_file = dir.join(format!("provider-{port}.url"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_serving_the_sandbox",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{}\n{port}", address_file.display()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(url) = std::fs::read_to_string(&address_file) {
            if !url.is_empty() {
                return (child, url);
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the provider never started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn engine(config_dir: &Path, provider_url: &str) -> Engine {
    onramp_core::vault::use_mock_keychain();
    let c = SandboxConfig::default();
    Engine::new(EngineConfig {
        config_dir: config_dir.to_path_buf(),
        sandbox: Some(SandboxLink {
            app: SandboxApp {
                base_url: provider_url.to_string(),
                app_name: c.app_name,
                client_id: c.client_id,
                client_secret: c.client_secret,
                service_account_client_id: c.service_account.client_id.clone(),
                service_account_client_secret: c.service_account.client_secret.clone(),
            },
            // The provider process has the callback registered from its start.
            register_callback: Box::new(|_| {}),
            instance_id: "the-provider-process-of-this-test".to_string(),
        }),
        default_loopback_port: 47823,
    })
    .unwrap()
}

async fn control(url: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let http = onramp_core::tls::client_builder()
        .no_proxy()
        .build()
        .unwrap();
    let request = match body {
        Some(b) => http.post(format!("{url}/__sandbox/{path}")).json(&b),
        None => http.get(format!("{url}/__sandbox/{path}")),
    };
    request
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn the_provider_killed_during_the_code_exchange_is_named_and_loses_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut provider, url) = start_provider(dir.path(), 0);
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let engine = engine(dir.path(), &url);
    let c = SandboxConfig::default();
    let id = common::sandbox_integration(&engine, &c.client_id, &c.client_secret, &common::SCOPES)
        .await
        .id;

    // Consent, then the exchange: the provider holds the token answer and is killed meanwhile.
    let accepted = common::consented(&engine, &id).await;
    control(&url, "faults", Some(serde_json::json!({"slow_ms": 60_000}))).await;
    // Token requests so far (the credential check before the browser made one).
    let token_requests = |stats: serde_json::Value| stats["token_requests"].as_u64().unwrap_or(0);
    let before = token_requests(control(&url, "stats", None).await);
    let (exchange, ()) = tokio::join!(engine.finish_authorization(accepted), async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while token_requests(control(&url, "stats", None).await) <= before {
            assert!(Instant::now() < deadline, "the token request never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        provider.kill().unwrap(); // SIGKILL
        provider.wait().unwrap();
    });
    let ui = exchange.expect_err("the provider died").to_ui();
    assert_eq!(ui.code, ErrorCode::ConnectionLost, "{ui:?}");
    assert_eq!(
        ui.title,
        "The connection to the token endpoint closed before it answered"
    );
    assert!(ui.detail.contains("Nothing was saved"), "{ui:?}");
    assert!(ui.hint.as_deref().unwrap_or("").contains("authorize again"));
    assert!(!ui.detail.contains(&c.client_secret), "{ui:?}");

    // Nothing was lost or half-saved: the integration, its client secret, no tokens.
    let view = engine.integration(&id).await.unwrap();
    assert!(view.connection.is_none());
    assert!(view.has_client_secret);
    assert!(Vault.get(&id, SecretKind::ClientSecret).unwrap().is_some());
    assert!(Vault.get(&id, SecretKind::RefreshToken).unwrap().is_none());
    assert!(Vault.get(&id, SecretKind::AccessToken).unwrap().is_none());

    // The provider is back on the same address: authorizing again connects, and a call works.
    let (mut provider, again) = start_provider(dir.path(), port);
    assert_eq!(again, url);
    common::authorize_and_pick(&engine, &id, ACME_CLOUD_ID).await;
    let call = engine
        .run_request(
            &id,
            &ApiRequest::preset("jira-myself"),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    assert_eq!(call.status, 200);
    provider.kill().unwrap();
    provider.wait().unwrap();
}
