//! What the engine's tests against the sandbox share: an engine wired to a running sandbox the way
//! the shell wires it (its app shown, callbacks "registered" with it), on the in-memory keychain.
#![allow(dead_code)]

use std::path::Path;

use onramp_core::engine::SandboxLink;
use onramp_core::model::SandboxApp;
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::Sandbox;

/// The sandbox as the engine sees it.
pub fn sandbox_link(sandbox: &Sandbox) -> SandboxLink {
    let c = sandbox.config();
    SandboxLink {
        app: SandboxApp {
            base_url: sandbox.base_url(),
            app_name: c.app_name,
            client_id: c.client_id,
            client_secret: c.client_secret,
            service_account_client_id: c.service_account.client_id.clone(),
            service_account_client_secret: c.service_account.client_secret.clone(),
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
    let http = onramp_core::tls::client_builder()
        .no_proxy()
        .build()
        .unwrap();
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
    onramp_sandbox::consent_as_user(authorize_url, decision).await
}

/// The scopes the engine tests ask the sandbox for.
pub const SCOPES: [&str; 3] = ["offline_access", "read:jira-user", "read:jira-work"];

/// A new sandbox integration with these scopes, a deep-link callback and the sandbox app's
/// credentials saved (`client_id`, `client_secret`); not authorized yet.
pub async fn sandbox_integration(
    engine: &Engine,
    client_id: &str,
    client_secret: &str,
    scopes: &[&str],
) -> onramp_core::model::IntegrationView {
    use onramp_core::model::{CallbackKind, CallbackSettings, IntegrationPatch};
    let id = engine.create_integration("sandbox").await.unwrap().id;
    engine
        .update_integration(
            &id,
            IntegrationPatch {
                client_id: Some(client_id.to_string()),
                scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
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
        .save_credentials(&id, client_id, Some(client_secret.to_string().into()))
        .await
        .unwrap()
}

/// Starts an authorization and accepts on the sandbox's consent page; returns the callback
/// (deep link) as matched to its flow, ready for `finish_authorization`.
pub async fn consented(engine: &Engine, id: &str) -> onramp_core::engine::AcceptedCallback {
    use onramp_core::oauth::CallbackChannel;
    let started = engine
        .start_authorization(id, &onramp_core::events::RecordingSink::default())
        .await
        .unwrap()
        .started;
    let callback = consent(&started.authorize_url, "accept").await;
    engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error))
}

/// Authorizes (again) through the consent page and picks the site `cloud_id`.
pub async fn authorize_and_pick(engine: &Engine, id: &str, cloud_id: &str) {
    let accepted = consented(engine, id).await;
    engine.finish_authorization(accepted).await.unwrap();
    engine.list_sites(id).await.unwrap();
    engine.select_site(id, cloud_id).await.unwrap();
}

/// A sandbox integration authorized through the consent page, with Acme picked.
pub async fn connected(engine: &Engine, sandbox: &Sandbox) -> String {
    let c = sandbox.config();
    let id = sandbox_integration(engine, &c.client_id, &c.client_secret, &SCOPES)
        .await
        .id;
    authorize_and_pick(engine, &id, onramp_sandbox::ACME_CLOUD_ID).await;
    id
}

/// Starts an authorization and accepts on the consent page; returns the deep-link callback.
pub async fn consent_callback(engine: &Engine, id: &str) -> String {
    let started = engine
        .start_authorization(id, &onramp_core::events::RecordingSink::default())
        .await
        .unwrap()
        .started;
    consent(&started.authorize_url, "accept").await
}
