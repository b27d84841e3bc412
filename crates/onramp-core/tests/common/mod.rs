//! What the engine's tests against the sandbox share: an engine wired to a running sandbox the way
//! the shell wires it (its app shown, callbacks "registered" with it), on the in-memory keychain.
#![allow(dead_code)]

use std::path::Path;

use onramp_core::engine::SandboxLink;
use onramp_core::events::RecordingSink;
use onramp_core::model::{CallbackKind, CallbackSettings, IntegrationPatch, SandboxApp};
use onramp_core::oauth::CallbackChannel;
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::{Sandbox, ACME_CLOUD_ID};

/// The sandbox as the engine sees it.
pub fn sandbox_link(sandbox: &Sandbox) -> SandboxLink {
    let c = sandbox.config();
    SandboxLink {
        app: SandboxApp {
            base_url: sandbox.base_url(),
            app_name: c.app_name,
            client_id: c.client_id,
            client_secret: c.client_secret,
        },
        instance_id: sandbox.instance_id(),
        register_callback: Box::new(sandbox.callback_registrar()),
    }
}

/// An engine keeping its data in `dir`, with or without the sandbox, on the mock keychain.
pub fn engine(dir: &Path, sandbox: Option<&Sandbox>, default_loopback_port: u16) -> Engine {
    onramp_core::vault::use_mock_keychain();
    Engine::new(EngineConfig {
        config_dir: dir.to_path_buf(),
        sandbox: sandbox.map(sandbox_link),
        default_loopback_port,
    })
    .unwrap()
}

/// The browser follows the redirect to the loopback listener while the engine matches the request
/// it hands over (as the shell does): returns the page's status and the engine's decision.
pub async fn follow_to_loopback(
    engine: &Engine,
    listener: &mut onramp_core::loopback::LoopbackListener,
    location: &str,
) -> (
    u16,
    Result<onramp_core::engine::AcceptedCallback, onramp_core::engine::RefusedCallback>,
) {
    use onramp_core::loopback::CallbackVerdict;
    use onramp_core::oauth::CallbackChannel;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let port = listener.port();
    let (page, decided) = tokio::join!(http.get(location).send(), async {
        let callback = listener.next_callback().await.expect("handed over");
        let decided = engine.accept_callback(&callback.url, CallbackChannel::Loopback { port });
        callback.answer(if decided.is_ok() {
            CallbackVerdict::Accepted
        } else {
            CallbackVerdict::NotAccepted
        });
        decided
    });
    (
        page.expect("the listener answers").status().as_u16(),
        decided,
    )
}

/// Plays the user in the browser: loads the sandbox's consent page and answers it (`"accept"` or
/// `"deny"`); returns where the sandbox redirects (the callback URL).
pub async fn consent(authorize_url: &str, decision: &str) -> String {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "consent page");
    let html = page.text().await.unwrap();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).expect("request id") + marker.len();
    let request = &html[start..start + html[start..].find('"').unwrap()];
    let base = url::Url::parse(authorize_url).unwrap();
    let answer = client
        .post(base.join("/authorize/decision").unwrap())
        .form(&[("request", request), ("decision", decision)])
        .send()
        .await
        .unwrap();
    answer.headers()["location"].to_str().unwrap().to_string()
}

/// The scopes of [`connected`]: a refresh token, Jira's user and work.
pub const SCOPES: [&str; 3] = ["offline_access", "read:jira-user", "read:jira-work"];

/// A sandbox integration authorized through the consent page, with Acme picked.
pub async fn connected(engine: &Engine, sandbox: &Sandbox) -> String {
    let id = engine.create_integration("sandbox").await.unwrap().id;
    engine
        .update_integration(
            &id,
            IntegrationPatch {
                client_id: Some(sandbox.config().client_id),
                scopes: Some(SCOPES.iter().map(|s| s.to_string()).collect()),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::DeepLink,
                    loopback_port: 47823,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(
            &id,
            &sandbox.config().client_id,
            Some(sandbox.config().client_secret.clone().into()),
        )
        .await
        .unwrap();
    let callback = consent_callback(engine, &id).await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    engine.list_sites(&id).await.unwrap();
    engine.select_site(&id, ACME_CLOUD_ID).await.unwrap();
    id
}

/// Starts an authorization and accepts on the consent page; returns the deep-link callback.
pub async fn consent_callback(engine: &Engine, id: &str) -> String {
    let started = engine
        .start_authorization(id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    consent(&started.authorize_url, "accept").await
}
