//! The generated snippets are run for real against the sandbox: bash + curl + jq, Node and Python.
//! Each snippet gets its own grant (a fresh consent; Onramp drops its copy of the refresh token), so
//! there is one refresher per grant, as with Atlassian's rotating refresh tokens. A missing
//! interpreter fails the test: nothing is skipped.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output};

use onramp_core::events::RecordingSink;
use onramp_core::handoff::SnippetLanguage;
use onramp_core::model::{
    CallbackKind, CallbackSettings, ClientAuth, CustomProviderInput, IntegrationPatch, KeyValue,
};
use onramp_core::oauth::CallbackChannel;
use onramp_core::secrets::ExposeSecret;
use onramp_core::vault::{SecretKind, Vault};
use onramp_core::Engine;
use onramp_sandbox::{Sandbox, SandboxConfig};

fn engine(dir: &Path, sandbox: &Sandbox) -> Engine {
    common::engine(dir, Some(sandbox), 47823)
}

/// A new sandbox integration, authorized (its own grant) with a site picked. Onramp forgets its
/// refresh token, which is returned: from now on the snippet is the grant's only refresher.
async fn connected(engine: &Engine, sandbox: &Sandbox) -> (String, String) {
    let view = engine.create_integration("sandbox").await.unwrap();
    let client_id = sandbox.config().client_id;
    engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some(client_id.clone()),
                scopes: Some(vec!["offline_access".into(), "read:jira-user".into()]),
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
            &view.id,
            &client_id,
            Some(sandbox.config().client_secret.clone().into()),
        )
        .await
        .unwrap();
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    let callback = common::consent(&started.authorize_url, "accept").await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    let sites = engine.list_sites(&view.id).await.unwrap();
    engine.select_site(&view.id, &sites[0].id).await.unwrap();
    let refresh_token = Vault
        .get(&view.id, SecretKind::RefreshToken)
        .unwrap()
        .expect("a refresh token (offline_access)")
        .expose_secret()
        .to_string();
    Vault.delete(&view.id, SecretKind::RefreshToken).unwrap();
    (view.id, refresh_token)
}

/// A custom provider (the sandbox as a strict RFC 6749 server: form bodies, HTTP Basic client
/// authentication, no sites; its test call is `/me`), authorized over the loopback callback.
async fn connected_custom(engine: &Engine, sandbox: &Sandbox) -> (String, String) {
    let base = sandbox.base_url();
    let provider = engine
        .save_custom_provider(
            None,
            CustomProviderInput {
                name: "Strict server".into(),
                authorize_url: format!("{base}/authorize"),
                token_url: format!("{base}/oauth/token"),
                scopes: vec!["offline_access".into(), "read:me".into()],
                extra_params: vec![KeyValue {
                    key: "audience".into(),
                    value: "onramp-sandbox".into(),
                }],
                client_auth: ClientAuth::Basic,
                pkce: true,
                test_call_url: Some(format!("{base}/me")),
                issuer: None,
            },
        )
        .await
        .unwrap();
    let view = engine.create_integration(&provider.id).await.unwrap();
    let client_id = sandbox.config().client_id;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let view = engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some(client_id.clone()),
                scopes: Some(vec!["offline_access".into(), "read:me".into()]),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::Loopback,
                    loopback_port: port,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(
            &view.id,
            &client_id,
            Some(sandbox.config().client_secret.clone().into()),
        )
        .await
        .unwrap();
    sandbox.set_registered_callback(Some(view.redirect_uri.clone()));
    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .unwrap();
    let location = common::consent(&started.started.authorize_url, "accept").await;
    let (status, accepted) =
        common::follow_to_loopback(engine, &mut started.loopback.unwrap(), &location).await;
    assert_eq!(status, 200);
    let accepted = accepted.unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    let refresh_token = Vault
        .get(&view.id, SecretKind::RefreshToken)
        .unwrap()
        .expect("a refresh token (offline_access)")
        .expose_secret()
        .to_string();
    Vault.delete(&view.id, SecretKind::RefreshToken).unwrap();
    (view.id, refresh_token)
}

/// Runs `program file` with the snippet's environment, off the runtime (the sandbox runs on it).
async fn run(program: &'static str, file: &Path, env: Vec<(&'static str, String)>) -> Output {
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(program);
        cmd.arg(&file).env_clear();
        // PATH (to find curl and jq) and HOME only; no proxy may catch the loopback calls.
        for keep in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.envs(env).output().unwrap_or_else(|e| {
            panic!("`{program}` is needed to run the {program} snippet (install it as the README says): {e}")
        })
    })
    .await
    .unwrap()
}

async fn snippet_runs(
    language: SnippetLanguage,
    program: &'static str,
    file_name: &str,
    custom: bool,
) {
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), &sandbox);
    let (id, first_token) = if custom {
        connected_custom(&engine, &sandbox).await
    } else {
        connected(&engine, &sandbox).await
    };
    let code = engine.snippet(&id, language).await.unwrap();
    let secret = sandbox.config().client_secret;
    assert!(
        !code.contains(&secret) && !code.contains(&first_token),
        "no secret inlined"
    );
    let file = dir.path().join(file_name);
    std::fs::write(&file, &code).unwrap();
    let token_file = dir.path().join("refresh-token");

    // First run: the refresh token comes from ONRAMP_REFRESH_TOKEN; the rotated one lands in the file.
    let refreshes = sandbox.refresh_count();
    let out = run(
        program,
        &file,
        vec![
            ("ONRAMP_CLIENT_SECRET", secret.clone()),
            ("ONRAMP_REFRESH_TOKEN", first_token.clone()),
            (
                "ONRAMP_REFRESH_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    println!("{program} snippet printed:\n{stdout}{stderr}");
    assert!(out.status.success(), "{program} failed: {stdout}{stderr}");
    // Jira's myself answers `displayName`; the identity API's /me answers `name`.
    let name = if custom {
        "\"name\": \"Sandra Boxley\""
    } else {
        "\"displayName\": \"Sandra Boxley\""
    };
    assert!(stdout.contains(name), "{stdout}");
    assert_eq!(sandbox.refresh_count(), refreshes + 1, "one refresh");
    let stored = std::fs::read_to_string(&token_file).unwrap();
    let stored = stored.trim();
    assert!(
        !stored.is_empty() && stored != first_token,
        "the rotated token is stored"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the refresh-token file is private");
    }

    // Second run: only the file. It works because the stored token is the rotated, valid one.
    let out = run(
        program,
        &file,
        vec![
            ("ONRAMP_CLIENT_SECRET", secret),
            (
                "ONRAMP_REFRESH_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{program} second run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Sandra Boxley"));
    let again = std::fs::read_to_string(&token_file).unwrap();
    assert_ne!(again.trim(), stored, "rotated again");
    assert_eq!(sandbox.refresh_count(), refreshes + 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_curl_snippet_refreshes_stores_and_calls_the_gateway() {
    snippet_runs(SnippetLanguage::Curl, "bash", "onramp.sh", false).await;
}

#[tokio::test]
async fn the_node_snippet_refreshes_stores_and_calls_the_gateway() {
    snippet_runs(SnippetLanguage::Node, "node", "onramp.mjs", false).await;
}

#[tokio::test]
async fn the_python_snippet_refreshes_stores_and_calls_the_gateway() {
    snippet_runs(SnippetLanguage::Python, "python3", "onramp.py", false).await;
}

/// Form bodies with HTTP Basic client authentication, for a custom server, in all three languages.
#[tokio::test]
async fn the_snippets_use_basic_auth_and_form_bodies_for_a_custom_server() {
    snippet_runs(SnippetLanguage::Curl, "bash", "custom.sh", true).await;
    snippet_runs(SnippetLanguage::Node, "node", "custom.mjs", true).await;
    snippet_runs(SnippetLanguage::Python, "python3", "custom.py", true).await;
}
