//! Interop check against a real third-party OpenID provider: panva's `oidc-provider` (npm), started
//! from `tests/interop/oidc-provider/server.mjs`. The engine discovers it from its issuer, authorizes
//! through the custom provider (the browser's sign-in and consent are played over HTTP), and must get
//! a refresh token on the first try, call UserInfo (the default test call) and refresh.
//!
//! Not part of `make test` (it needs Node and `npm ci` in that folder); run it with
//! `make interop-oidc`. Exits non-zero on any failure.

use std::collections::BTreeMap;
use std::process::Stdio;

use onramp_core::events::RecordingSink;
use onramp_core::model::{ApiRequest, CallbackKind, CallbackSettings, IntegrationPatch};
use onramp_core::{Engine, EngineConfig};
use std::io::{BufRead, BufReader};

/// The Node process, killed when dropped (also on an early return).
struct NodeServer(std::process::Child);

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Jar = BTreeMap<String, String>;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Keeps every cookie the provider sets (name → value); paths are ignored, which is enough here.
fn keep_cookies(jar: &mut Jar, response: &reqwest::Response) {
    for value in response.headers().get_all("set-cookie") {
        let Ok(text) = value.to_str() else { continue };
        if let Some((name, rest)) = text.split(';').next().and_then(|p| p.split_once('=')) {
            jar.insert(name.trim().to_string(), rest.trim().to_string());
        }
    }
}

fn cookie_header(jar: &Jar) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Plays the user in the browser: follows redirects, signs in and consents on the development
/// pages, and returns the final redirect to the app's callback URL.
async fn play_browser(authorize_url: &str, base: &str) -> Result<String, String> {
    let http = onramp_core::tls::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut jar = Jar::new();
    let mut url = authorize_url.to_string();
    let mut form: Option<Vec<(&str, &str)>> = None;
    for _ in 0..20 {
        let request = match form.take() {
            Some(fields) => http.post(&url).form(&fields),
            None => http.get(&url),
        };
        let response = request
            .header("cookie", cookie_header(&jar))
            .send()
            .await
            .map_err(|e| format!("{url}: {}", onramp_core::oauth::describe_reqwest_error(&e)))?;
        keep_cookies(&mut jar, &response);
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .ok_or("a redirect without Location")?
                .to_string();
            if location.starts_with("onramp://") {
                return Ok(location);
            }
            url = url::Url::parse(base)
                .and_then(|b| b.join(&location))
                .map_err(|e| e.to_string())?
                .to_string();
            continue;
        }
        let page = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}: {page}"));
        }
        // The development interactions: a sign-in form, then a consent form, both posted back
        // to the same interaction URL.
        if page.contains("name=\"login\"") {
            form = Some(vec![
                ("prompt", "login"),
                ("login", "interop-user"),
                ("password", "any"),
            ]);
        } else if page.contains("value=\"consent\"") {
            form = Some(vec![("prompt", "consent")]);
        } else {
            return Err(format!("{url}: an unexpected page: {page}"));
        }
    }
    Err("too many steps in the browser".into())
}

async fn run() -> Result<(), String> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/oidc-provider"
    );
    let port = free_port();
    let mut node = NodeServer(
        std::process::Command::new("node")
            .arg("server.mjs")
            .arg(port.to_string())
            .arg("onramp://callback")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("node could not start ({e}); run npm ci in {dir}"))?,
    );
    let stdout = node.0.stdout.take().ok_or("no stdout")?;
    // Read its output to the end on a thread: a closed pipe would kill Node at its next line.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("listening") {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    if ready_rx.await.is_err() {
        return Err(format!("oidc-provider exited; run npm ci in {dir}"));
    }
    let issuer = format!("http://127.0.0.1:{port}");

    onramp_core::vault::use_mock_keychain();
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let engine = Engine::new(EngineConfig {
        config_dir: data.path().into(),
        sandbox: None,
        default_loopback_port: free_port(),
    })
    .map_err(|e| e.to_string())?;
    let ui = |e: onramp_core::error::OnrampError| {
        let u = e.to_ui();
        format!("{}: {} {}", u.title, u.detail, u.hint.unwrap_or_default())
    };

    let mut found = engine.discover_provider(&issuer).await.map_err(ui)?;
    println!(
        "discovered: test call {:?}, PKCE {}, client auth {:?}",
        found.test_call_url, found.pkce, found.client_auth
    );
    if found.test_call_url.is_none() {
        return Err("discovery left the test-call URL empty".into());
    }
    found.name = "oidc-provider".into();
    let provider = engine.save_custom_provider(None, found).await.map_err(ui)?;
    let view = engine.create_integration(&provider.id).await.map_err(ui)?;
    let view = engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                client_id: Some("onramp-interop".into()),
                scopes: Some(vec![
                    "openid".into(),
                    "profile".into(),
                    "offline_access".into(),
                ]),
                callback: Some(CallbackSettings {
                    kind: CallbackKind::DeepLink,
                    loopback_port: 47823,
                }),
                ..Default::default()
            },
        )
        .await
        .map_err(ui)?;
    engine
        .save_credentials(
            &view.id,
            "onramp-interop",
            Some("interop-secret-not-a-real-one".into()),
        )
        .await
        .map_err(ui)?;

    let started = engine
        .start_authorization(&view.id, &RecordingSink::default())
        .await
        .map_err(ui)?
        .started;
    println!("authorize URL: {}", started.authorize_url);
    let callback = play_browser(&started.authorize_url, &issuer).await?;
    let accepted = engine
        .accept_callback(&callback, onramp_core::oauth::CallbackChannel::DeepLink)
        .map_err(|r| format!("callback refused: {}", r.error))?;
    let connected = engine.finish_authorization(accepted).await.map_err(ui)?;
    let connection = connected.connection.ok_or("no connection")?;
    println!(
        "connected: refresh token {}, granted {:?}",
        connection.has_refresh_token, connection.granted_scopes
    );
    if !connection.has_refresh_token {
        return Err(format!(
            "no refresh token on the first try; advice: {:?}",
            connected.refresh_token_advice
        ));
    }
    let me = engine
        .run_request(
            &view.id,
            &ApiRequest::preset("custom-test"),
            &RecordingSink::default(),
        )
        .await
        .map_err(ui)?;
    println!("UserInfo: HTTP {} {}", me.status, me.body);
    if me.status != 200 {
        return Err("the UserInfo test call failed".into());
    }
    engine.refresh_now(&view.id).await.map_err(ui)?;
    println!("refreshed: OK");
    drop(node);
    Ok(())
}

#[tokio::main]
async fn main() {
    match run().await {
        Ok(()) => println!("oidc-provider interop: OK"),
        Err(e) => {
            eprintln!("oidc-provider interop FAILED: {e}");
            std::process::exit(1);
        }
    }
}
