//! Shared by the engine's tests: an engine seeded with a connected integration against a mock server.
#![allow(dead_code)]

use super::*;
pub use crate::events::{EngineEvent, RecordingSink};
use crate::model::{ClientAuth, CustomProviderInput};
pub use crate::secrets::RevealedForTests;
use std::sync::Arc;

pub struct Seeded {
    pub engine: Arc<Engine>,
    pub id: String,
    pub _dir: tempfile::TempDir,
}

impl Seeded {
    /// Another Onramp on the same folder (as the command line is): its own engine and store.
    pub fn another_process(&self) -> Engine {
        Engine::new(EngineConfig {
            config_dir: self._dir.path().into(),
            sandbox: None,
            default_loopback_port: 47823,
        })
        .unwrap()
    }
}

/// A connected integration whose access token `at-1` expires in `remaining` seconds of a
/// `lifetime`-second life, with refresh token `rt-1`.
pub fn seeded(server: &str, remaining: i64, lifetime: i64) -> Seeded {
    crate::vault::use_mock_keychain();
    let dir = tempfile::tempdir().unwrap();
    let id = new_id();
    let now = now_unix();
    let provider = custom::CustomProvider {
        id: format!("custom-{id}"),
        input: CustomProviderInput {
            name: "Mock".into(),
            authorize_url: format!("{server}/authorize"),
            token_url: format!("{server}/oauth/token"),
            scopes: vec!["offline_access".into()],
            extra_params: vec![],
            client_auth: ClientAuth::RequestBody,
            pkce: false,
            test_call_url: Some(format!("{server}/api")),
            issuer: None,
        },
    };
    let integration = Integration {
        id: id.clone(),
        name: "Seeded".into(),
        provider_id: provider.id.clone(),
        client_id: "client-1".into(),
        callback: CallbackSettings {
            kind: CallbackKind::DeepLink,
            loopback_port: 47823,
        },
        scopes: vec!["offline_access".into()],
        console_done: vec![],
        site: None,
        connection: Some(Connection {
            state: ConnectionState::Connected,
            connected_at: now - 100,
            expires_at: Some(now + remaining),
            granted_scopes: vec!["offline_access".into()],
            has_refresh_token: true,
            reason: None,
            token_lifetime: Some(lifetime),
            last_refresh_at: None,
        }),
        handed_off: None,
        has_client_secret: true,
        client_secret_revision: 0,
        scopes_reviewed: false,
        sandbox_instance: None,
        history: vec![],
        created_at: now,
        updated_at: now,
    };
    // Seeded the way a user's data from an older Onramp arrives: a settings.json the store imports.
    let settings = crate::store::legacy::Settings {
        version: 1,
        integrations: vec![integration],
        last_integration_id: None,
        custom_providers: vec![provider],
    };
    std::fs::write(
        crate::store::legacy::path_in(dir.path()),
        serde_json::to_string(&settings).unwrap(),
    )
    .unwrap();
    let vault = Vault;
    vault
        .set(&id, SecretKind::ClientSecret, &"secret-1".into())
        .unwrap();
    vault
        .set(&id, SecretKind::AccessToken, &"at-1".into())
        .unwrap();
    vault
        .set(&id, SecretKind::RefreshToken, &"rt-1".into())
        .unwrap();
    let engine = Engine::new(EngineConfig {
        config_dir: dir.path().into(),
        sandbox: None,
        default_loopback_port: 47823,
    })
    .unwrap();
    Seeded {
        engine: Arc::new(engine),
        id,
        _dir: dir,
    }
}

pub async fn refresh_mock(server: &mut mockito::ServerGuard, hits: usize) -> mockito::Mock {
    server
        .mock("POST", "/oauth/token")
        .match_body(mockito::Matcher::UrlEncoded("refresh_token".into(), "rt-1".into()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#)
        .expect(hits)
        .create_async()
        .await
}

/// A preset test call as a request.
pub fn preset(preset_id: &str) -> ApiRequest {
    ApiRequest::preset(preset_id)
}
