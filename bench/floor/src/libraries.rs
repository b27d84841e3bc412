//! The floor plus one use of each library Onramp links beyond Tauri's, and no Onramp code: the
//! binary-size row "floor + Onramp's libraries" of `make bench`. It answers how much of Onramp's
//! binary its libraries take before any of its own code (the 1.5× size target leaves Onramp 0.5×
//! the floor in all). The window is the floor's; the libraries run only when
//! `ONRAMP_FLOOR_EXERCISE_LIBRARIES` names a folder (never in the bench, which measures size
//! only), so the linker keeps the code a real use needs: SQL through SQLite's whole parser, a TLS
//! handshake, a Secret Service session, an HTTP server with form and JSON routes, a token request
//! through `oauth2`, TOML, logging. Run it by hand to see each library work once:
//! `ONRAMP_FLOOR_EXERCISE_LIBRARIES=/tmp/x onramp-floor-libraries https://example.org/`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod window;

fn main() {
    if let Some(dir) = std::env::var_os("ONRAMP_FLOOR_EXERCISE_LIBRARIES") {
        let url = std::env::args().nth(1).unwrap_or_default();
        match exercise(&PathBuf::from(dir), &url) {
            Ok(report) => println!("{report}"),
            Err(e) => {
                eprintln!("a library failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    window::run();
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Deserialize)]
struct Settings {
    name: String,
    scopes: Vec<String>,
}

fn exercise(dir: &Path, url: &str) -> Result<String, Failure> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter: Targets = "info,hyper=warn".parse()?;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(filter)
        .init();
    std::fs::create_dir_all(dir)?;
    for line in [sqlite(dir)?, toml_and_json()?, brotli()?, keychain()?] {
        println!("{line}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(network(url))?;
    tracing::info!("done");
    Ok(report.join("\n"))
}

fn sqlite(dir: &Path) -> Result<String, Failure> {
    let db = rusqlite::Connection::open(dir.join("floor.sqlite3"))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, body TEXT NOT NULL, at INTEGER);
         CREATE INDEX IF NOT EXISTS t_at ON t(at);",
    )?;
    let tx = db.unchecked_transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO t (id, body, at) VALUES (?1, ?2, ?3)",
        rusqlite::params!["a", "{}", 1],
    )?;
    tx.commit()?;
    let n: i64 = db.query_row("SELECT count(*) FROM t WHERE at > ?1", [0], |r| r.get(0))?;
    Ok(format!("sqlite: {n} row(s)"))
}

fn toml_and_json() -> Result<String, Failure> {
    let settings: Settings = toml::from_str("name = \"a\"\nscopes = [\"read:me\"]")?;
    let json = serde_json::to_string(&settings)?;
    let back: Settings = serde_json::from_str(&json)?;
    let at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    Ok(format!(
        "toml/json: {} {} at {at}",
        back.name,
        back.scopes.len()
    ))
}

fn brotli() -> Result<String, Failure> {
    let mut out = Vec::new();
    brotli_decompressor::BrotliDecompress(&mut &[0x3bu8][..], &mut out)?;
    Ok(format!("brotli: {} byte(s)", out.len()))
}

fn keychain() -> Result<String, Failure> {
    let store = zbus_secret_service_keyring_store::Store::new()?;
    keyring_core::set_default_store(store);
    let entry = keyring_core::Entry::new("dev.onramp.floor", "probe")?;
    entry.set_password("secret")?;
    let read = entry.get_password()?;
    entry.delete_credential()?;
    Ok(format!("keychain: read {} byte(s)", read.len()))
}

async fn network(url: &str) -> Result<Vec<String>, Failure> {
    use axum::routing::{get, post};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = axum::Router::new()
        .route("/", get(|| async { axum::response::Html("<p>floor</p>") }))
        .route(
            "/oauth/token",
            post(
                |axum::Form(f): axum::Form<Vec<(String, String)>>| async move {
                    axum::Json(serde_json::json!({
                        "access_token": format!("t{}", f.len()), "token_type": "Bearer",
                        "expires_in": 3600
                    }))
                },
            ),
        )
        .route(
            "/json",
            post(|axum::Json(v): axum::Json<serde_json::Value>| async move { axum::Json(v) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let local = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder().build()?;
    let mut report = Vec::new();

    // The authorization URL and a code exchange through `oauth2`, sent by reqwest.
    use oauth2::{AuthUrl, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, TokenUrl};
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = oauth2::basic::BasicClient::new(ClientId::new("floor".into()))
        .set_client_secret(ClientSecret::new("s".into()))
        .set_auth_uri(AuthUrl::new(format!("{local}/authorize"))?)
        .set_token_uri(TokenUrl::new(format!("{local}/oauth/token"))?);
    let (authorize, _state) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    // The error type must be sized for `oauth2`: every failure becomes an io::Error.
    let send = |request: oauth2::HttpRequest| {
        let http = http.clone();
        async move {
            let request = reqwest::Request::try_from(request).map_err(std::io::Error::other)?;
            let answer = http.execute(request).await.map_err(std::io::Error::other)?;
            let mut built = http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                built = built.header(name, value);
            }
            let body = answer.bytes().await.map_err(std::io::Error::other)?;
            built.body(body.to_vec()).map_err(std::io::Error::other)
        }
    };
    let token = client
        .exchange_code(oauth2::AuthorizationCode::new("c".into()))
        .set_pkce_verifier(verifier)
        .request_async(&send)
        .await
        .map_err(|e| format!("token request: {e}"))?;
    use oauth2::TokenResponse;
    report.push(format!(
        "oauth2: {} then a {}-byte token",
        authorize.host_str().unwrap_or_default(),
        token.access_token().secret().len()
    ));
    let echoed: serde_json::Value = http
        .post(format!("{local}/json"))
        .json(&serde_json::json!({"a": 1}))
        .send()
        .await?
        .json()
        .await?;
    report.push(format!("axum + reqwest: {echoed}"));
    if url.starts_with("https://") {
        let status = match http.get(url).send().await {
            Ok(answer) => answer.status().to_string(),
            // The handshake code is linked either way; say why this machine could not reach it.
            Err(e) => format!("no answer ({:?})", std::error::Error::source(&e)),
        };
        report.push(format!("https (rustls + ring): {url} answered {status}"));
    }
    Ok(report)
}
