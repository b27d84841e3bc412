//! The command line (`onramp-cli`, the built binary) against the sandbox, with the real Secret
//! Service of the suite's D-Bus session: the integration is set up by an engine in this process (as
//! the window would, same store and keychain), then each command runs as its own process.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use onramp_core::engine::SandboxLink;
use onramp_core::events::RecordingSink;
use onramp_core::handoff::HandoffFormat;
use onramp_core::model::{CallbackKind, CallbackSettings, IntegrationPatch, SandboxApp};
use onramp_core::oauth::CallbackChannel;
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::{Faults, Sandbox, SandboxConfig, ACME_CLOUD_ID};

const NAME: &str = "Acme Jira smoke";

struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    engine: Engine,
    id: String,
}

fn cli_binary() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_fake-browser")).with_file_name("onramp-cli");
    assert!(
        bin.exists(),
        "build it first (cargo build -p onramp-cli): {} is missing",
        bin.display()
    );
    bin
}

/// A sandbox integration named [`NAME`], authorized and with Acme picked; the access token lives
/// `ttl` seconds.
async fn connected(ttl: u64) -> Setup {
    onramp_core::vault::use_os_keychain().expect("the suite's Secret Service");
    let sandbox = Sandbox::start(
        SandboxConfig {
            registered_callback_url: Some("onramp://callback".into()),
            access_token_ttl: Duration::from_secs(ttl),
            ..SandboxConfig::default()
        },
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = sandbox.config();
    let engine = Engine::new(EngineConfig {
        config_dir: dir.path().to_path_buf(),
        sandbox: Some(SandboxLink {
            app: SandboxApp {
                base_url: sandbox.base_url(),
                app_name: c.app_name.clone(),
                client_id: c.client_id.clone(),
                client_secret: c.client_secret.clone(),
                service_account_client_id: c.service_account.client_id.clone(),
                service_account_client_secret: c.service_account.client_secret.clone(),
            },
            instance_id: sandbox.instance_id(),
            register_callback: Box::new(sandbox.callback_registrar()),
        }),
        default_loopback_port: 47823,
    })
    .unwrap();
    let id = engine.create_integration("sandbox").await.unwrap().id;
    engine
        .update_integration(
            &id,
            IntegrationPatch {
                name: Some(NAME.into()),
                scopes: Some(vec![
                    "offline_access".into(),
                    "read:jira-user".into(),
                    "read:jira-work".into(),
                ]),
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
        .save_credentials(&id, &c.client_id, Some(c.client_secret.clone().into()))
        .await
        .unwrap();
    let started = engine
        .start_authorization(&id, &RecordingSink::default())
        .await
        .unwrap()
        .started;
    let callback = onramp_sandbox::consent_as_user(&started.authorize_url, "accept").await;
    let accepted = engine
        .accept_callback(&callback, CallbackChannel::DeepLink)
        .unwrap_or_else(|r| panic!("refused: {}", r.error));
    engine.finish_authorization(accepted).await.unwrap();
    engine.list_sites(&id).await.unwrap();
    engine.select_site(&id, ACME_CLOUD_ID).await.unwrap();
    Setup {
        sandbox,
        dir,
        engine,
        id,
    }
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(cli_binary());
        command
            .args(args)
            .env("ONRAMP_CONFIG_DIR", self.dir.path())
            .env("ONRAMP_SANDBOX_URL", self.sandbox.base_url());
        command
    }

    /// Runs the command line off the runtime (the sandbox answers it from this process).
    async fn cli(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }
}

/// Starts every command at once, output captured.
fn spawn_all(commands: Vec<Command>) -> Vec<std::process::Child> {
    commands
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for every child (off the runtime: the sandbox answers them from this process) and
/// asserts each exited 0.
async fn all_succeed(children: Vec<std::process::Child>) {
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for out in &outputs {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_call_token_export_and_list_against_the_sandbox() {
    let s = connected(3600).await;

    let out = s.cli(&["check", NAME]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("ok   token"), "{stdout}");
    assert!(stdout.contains("ok   sites"), "{stdout}");
    assert!(stdout.contains("/rest/api/3/myself 200"), "{stdout}");

    let out = s.cli(&["--json", "check", &s.id]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["steps"].as_array().unwrap().len() >= 3);

    // `call` sends the body: the sandbox's search refuses a POST without a JSON object.
    let out = s
        .cli(&[
            "call",
            NAME,
            "POST",
            "/rest/api/3/search/jql",
            "--data",
            r#"{"jql": "project = ONR", "maxResults": 1}"#,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ONR-"), "{}", text(&out.stdout));
    let out = s
        .cli(&[
            "call",
            NAME,
            "GET",
            "/rest/api/3/project/search",
            "--query",
            "maxResults=1",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // `token` prints the token the engine has; nothing else prints one.
    let out = s.cli(&["token", NAME]).await;
    let token = text(&out.stdout).trim().to_string();
    let engine_token = s.engine.access_token(&s.id).await.unwrap();
    use onramp_core::secrets::ExposeSecret;
    assert_eq!(token, engine_token.expose_secret());
    for args in [vec!["check", NAME], vec!["list"], vec!["--json", "list"]] {
        let out = s.cli(&args).await;
        assert!(
            !text(&out.stdout).contains(&token),
            "{args:?} printed the token"
        );
        assert!(
            !text(&out.stderr).contains(&token),
            "{args:?} printed the token"
        );
    }

    // `export` is the engine's hand-off, byte for byte.
    let out = s.cli(&["export", NAME, "--format", "env"]).await;
    let expected = s
        .engine
        .export_handoff(&s.id, HandoffFormat::Env, false)
        .await
        .unwrap()
        .contents;
    assert_eq!(text(&out.stdout), expected);
    assert!(!text(&out.stdout).contains(&s.sandbox.config().client_secret));

    let out = s.cli(&["list"]).await;
    assert!(text(&out.stdout).contains(NAME));
    assert!(text(&out.stdout).contains("Connected"));

    // Unknown names and bad arguments have their own exit codes.
    assert_eq!(s.cli(&["check", "nope"]).await.status.code(), Some(3));
    assert_eq!(s.cli(&["call", NAME, "GET"]).await.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_waited_out_and_a_revoked_grant_exits_4() {
    let s = connected(3600).await;
    s.sandbox.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let out = s.cli(&["call", NAME, "GET", "/rest/api/3/myself"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("waiting"),
        "{}",
        text(&out.stderr)
    );

    s.sandbox.revoke_all();
    s.sandbox.expire_access_tokens();
    let out = s.cli(&["check", NAME]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(report.contains("FAIL sites"), "{report}");
    assert!(report.contains("needs to be authorized again"), "{report}");
    assert!(
        text(&out.stderr).contains("skipped jira-myself"),
        "the calls after it are skipped: {}",
        text(&out.stderr)
    );
}

/// Several command lines at once on an expired access token: one refresh between them (the
/// refresh token rotates, and a second refresh with the retired one would end the grant), and
/// every process gets a working token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_refresh_once_across_processes() {
    let s = connected(2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.sandbox.set_access_token_ttl(Duration::from_secs(3600));
    let before = s.sandbox.refresh_count();
    let commands = (0..5).map(|_| s.command(&["check", NAME])).collect();
    all_succeed(spawn_all(commands)).await;
    assert_eq!(s.sandbox.refresh_count(), before + 1, "exactly one refresh");
}

/// CI mode: a service account's credential from the environment, with no keychain at all (no D-Bus
/// session reachable) and nothing written (HOME is an empty folder that stays empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_mode_runs_on_a_service_account_without_keychain_or_files() {
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], secret: &str| {
        let mut command = Command::new(cli_binary());
        command
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env("ONRAMP_SANDBOX_URL", sandbox.base_url())
            .env("ONRAMP_PROVIDER", "sandbox-service-account")
            .env(
                "ONRAMP_CLIENT_ID",
                onramp_sandbox::SERVICE_ACCOUNT_CLIENT_ID,
            )
            .env("ONRAMP_CLIENT_SECRET", secret)
            .env("ONRAMP_CLOUD_ID", ACME_CLOUD_ID);
        async move {
            tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap()
        }
    };
    let secret = onramp_sandbox::SERVICE_ACCOUNT_CLIENT_SECRET;

    let out = run(&["check", "ci smoke"], secret).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("/rest/api/3/myself 200"), "{stdout}");
    assert!(!stdout.contains(secret) && !text(&out.stderr).contains(secret));

    let out = run(&["--json", "token", "ci smoke"], secret).await;
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(token["accessToken"]
        .as_str()
        .unwrap()
        .starts_with("sbx_at_"));

    // A wrong secret is the credential's fault (exit 4), explained.
    let out = run(&["check", "ci smoke"], "not-the-secret").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("service account's credential was refused"),
        "{}",
        text(&out.stderr)
    );
    // list needs saved integrations: not in CI mode.
    assert_eq!(run(&["list"], secret).await.status.code(), Some(2));

    let written: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(written.is_empty(), "CI mode wrote {written:?}");
}

/// The window and command lines at once on a token the provider no longer takes: the window runs a
/// test call while three `check`s run; between all four processes the refresh token is used once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_and_command_lines_refresh_once_between_them() {
    use onramp_e2e::flows::{self, Callback};
    use onramp_e2e::harness::{Paths, Scenario};
    let paths = Paths::discover(env!("CARGO_BIN_EXE_fake-browser"));
    let mut scn = Scenario::start(&paths, "cli-with-window", &[]).await;
    flows::connect_and_test(&mut scn, Callback::Loopback).await;
    let refreshes = |v: serde_json::Value| v["refresh_count"].as_u64().unwrap();
    let before = refreshes(scn.sandbox("stats", serde_json::json!(null)).await);
    scn.sandbox("expire-access-tokens", serde_json::json!({}))
        .await;

    let sandbox_url = format!("http://127.0.0.1:{}", scn.sandbox_port);
    let name = scn.stored_integrations().await[0].id.clone();
    let commands = (0..3)
        .map(|_| {
            let mut command = Command::new(cli_binary());
            command
                .args(["check", &name])
                .env("ONRAMP_CONFIG_DIR", scn.config_dir())
                .env("ONRAMP_SANDBOX_URL", &sandbox_url);
            command
        })
        .collect();
    let children = spawn_all(commands);
    let body = flows::run_preset(&scn, "jira-myself", "200").await;
    assert!(body.contains(flows::SANDBOX_USER), "{body}");
    all_succeed(children).await;
    let after = refreshes(scn.sandbox("stats", serde_json::json!(null)).await);
    assert_eq!(
        after,
        before + 1,
        "one refresh between the window and the CLIs"
    );
    scn.finish().await;
}
