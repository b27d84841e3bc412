//! The three hot paths, each timed through the engine and as the raw requests, alternating which
//! goes first. Preparing an iteration (a fresh code, an expired token) is never timed.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onramp_core::engine::SandboxLink;
use onramp_core::events::{EngineEvent, RecordingSink};
use onramp_core::model::{
    ApiRequest, AuthStage, CallbackKind, CallbackSettings, IntegrationPatch, ProductId, SandboxApp,
};
use onramp_core::oauth::CallbackChannel;
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::{Sandbox, SandboxConfig};

use crate::counting_keychain::{Counts, Snapshot};
use crate::raw::RawClient;
use crate::stats::Samples;

/// The scopes the engine's tests ask the sandbox for.
const SCOPES: [&str; 3] = ["offline_access", "read:jira-user", "read:jira-work"];
const CONCURRENT_CALLERS: usize = 200;

pub struct Rounds {
    pub warmup: usize,
    pub measured: usize,
}

impl Rounds {
    /// Each round, and whether the engine goes first in it (alternating); warm-up rounds are `false`
    /// in the second place and their samples dropped.
    fn each(&self) -> impl Iterator<Item = (bool, bool)> {
        let warmup = self.warmup;
        (0..self.warmup + self.measured).map(move |i| (i % 2 == 0, i >= warmup))
    }
}

/// An engine on a file store in its own folder, wired to a sandbox as the shell wires it, with one
/// integration connected and a site picked; and the raw client with its own grant.
pub struct Bench {
    engine: Arc<Engine>,
    sandbox: Sandbox,
    raw: RawClient,
    id: String,
    counts: Arc<Counts>,
    dir: PathBuf,
}

pub struct Figure {
    pub onramp: Samples,
    pub raw: Samples,
    /// Keychain operations through the engine in the last measured round.
    pub keychain: Snapshot,
    /// Fewest and most refreshes the sandbox saw per round (the concurrent figure only).
    pub refreshes: (u64, u64),
    /// Fewest and most keychain reads per round.
    pub reads: (usize, usize),
}

impl Figure {
    fn new() -> Figure {
        Figure {
            onramp: Samples::default(),
            raw: Samples::default(),
            keychain: Snapshot {
                reads: 0,
                writes: 0,
                deletes: 0,
            },
            refreshes: (u64::MAX, 0),
            reads: (usize::MAX, 0),
        }
    }

    fn count(&mut self, refreshes: u64, ops: Snapshot) {
        self.refreshes = (
            self.refreshes.0.min(refreshes),
            self.refreshes.1.max(refreshes),
        );
        self.reads = (self.reads.0.min(ops.reads), self.reads.1.max(ops.reads));
        self.keychain = ops;
    }
}

fn sandbox_link(sandbox: &Sandbox) -> SandboxLink {
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

fn connected(sink: &RecordingSink) -> bool {
    sink.take()
        .iter()
        .any(|e| matches!(e, EngineEvent::AuthProgress(p) if p.stage == AuthStage::Connected))
}

impl Bench {
    /// `label` names the folder (one per keychain); `counts` counts the keychain the vault uses.
    pub async fn start(label: &str, counts: Arc<Counts>) -> Bench {
        let sandbox = Sandbox::start(
            SandboxConfig::default(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        )
        .await
        .expect("the sandbox starts");
        let dir = std::env::temp_dir().join(format!("onramp-bench-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::new(EngineConfig {
            config_dir: dir.clone(),
            sandbox: Some(sandbox_link(&sandbox)),
            default_loopback_port: 47823,
        })
        .expect("the engine starts");
        let c = sandbox.config();
        let id = engine.create_integration("sandbox").await.unwrap().id;
        engine
            .update_integration(
                &id,
                IntegrationPatch {
                    client_id: Some(c.client_id.clone()),
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
            .save_credentials(&id, &c.client_id, Some(c.client_secret.clone().into()))
            .await
            .unwrap();
        let mut bench = Bench {
            engine: Arc::new(engine),
            raw: RawClient::new(&sandbox),
            sandbox,
            id,
            counts,
            dir,
        };
        let sink = RecordingSink::default();
        let url = bench.consented_callback().await;
        bench
            .engine
            .handle_callback(&url, CallbackChannel::DeepLink, &sink)
            .await;
        assert!(connected(&sink), "the first authorization connects");
        bench.engine.list_sites(&bench.id).await.unwrap();
        bench
            .engine
            .select_site(&bench.id, onramp_sandbox::ACME_CLOUD_ID)
            .await
            .unwrap();
        let code = bench.raw.fresh_code(&SCOPES).await;
        bench.raw.exchange_and_list_sites(&code).await;
        bench
    }

    /// Starts an authorization through the engine and accepts on the consent page; the callback.
    async fn consented_callback(&self) -> String {
        let started = self
            .engine
            .start_authorization(&self.id, &RecordingSink::default())
            .await
            .unwrap()
            .started;
        onramp_sandbox::consent_with(&self.raw.consent, &started.authorize_url, "accept").await
    }

    /// Callback → connected → sites: the engine handles the callback (code exchange, keychain,
    /// store, the view the UI gets) and lists the sites; raw: the token request and
    /// accessible-resources.
    pub async fn callback_to_sites(&mut self, rounds: &Rounds) -> Figure {
        let mut figure = Figure::new();
        let sink = RecordingSink::default();
        for (engine_first, measured) in rounds.each() {
            let callback = self.consented_callback().await;
            let code = self.raw.fresh_code(&SCOPES).await;
            for engine_turn in [engine_first, !engine_first] {
                if engine_turn {
                    let before = self.counts.snapshot();
                    let started = Instant::now();
                    self.engine
                        .handle_callback(&callback, CallbackChannel::DeepLink, &sink)
                        .await;
                    let sites = self.engine.list_sites(&self.id).await.unwrap();
                    let took = started.elapsed();
                    assert!(
                        connected(&sink) && !sites.is_empty(),
                        "connected, sites listed"
                    );
                    if measured {
                        figure.onramp.push(took);
                        figure.count(0, self.counts.snapshot() - before);
                    }
                } else {
                    let started = Instant::now();
                    let sites = self.raw.exchange_and_list_sites(&code).await;
                    let took = started.elapsed();
                    assert!(sites > 0, "sites listed");
                    if measured {
                        figure.raw.push(took);
                    }
                }
            }
        }
        figure
    }

    /// One API-console request (GET /rest/api/3/myself on the picked Jira site) through the engine,
    /// history line included; raw: the same GET with the bearer token.
    pub async fn api_call(&mut self, rounds: &Rounds) -> Figure {
        let mut figure = Figure::new();
        let request = ApiRequest {
            preset_id: None,
            method: "GET".into(),
            product: Some(ProductId::Jira),
            path: "/rest/api/3/myself".into(),
            query: None,
            body: None,
        };
        let url = self
            .engine
            .preview_request(&self.id, &request)
            .await
            .unwrap();
        let sink = RecordingSink::default();
        for (engine_first, measured) in rounds.each() {
            for engine_turn in [engine_first, !engine_first] {
                let started = Instant::now();
                if engine_turn {
                    let before = self.counts.snapshot();
                    let result = self
                        .engine
                        .run_request(&self.id, &request, &sink)
                        .await
                        .unwrap();
                    let took = started.elapsed();
                    assert_eq!(result.status, 200, "{}", result.body);
                    if measured {
                        figure.onramp.push(took);
                        figure.count(0, self.counts.snapshot() - before);
                    }
                } else {
                    let (status, _) = self.raw.get(&url).await;
                    let took = started.elapsed();
                    assert_eq!(status, 200);
                    if measured {
                        figure.raw.push(took);
                    }
                }
            }
        }
        figure
    }

    /// 200 tasks ask the engine for an access token at once while the stored one is expired (made
    /// so, untimed, by a refresh the sandbox answers with a 1-second token); raw: one refresh.
    pub async fn concurrent_expired(&mut self, rounds: &Rounds) -> Figure {
        let mut figure = Figure::new();
        for (engine_first, measured) in rounds.each() {
            self.sandbox.set_access_token_ttl(Duration::from_secs(1));
            self.engine.refresh_now(&self.id).await.unwrap();
            self.sandbox.set_access_token_ttl(Duration::from_secs(3600));
            for engine_turn in [engine_first, !engine_first] {
                if engine_turn {
                    let (refreshes, before) =
                        (self.sandbox.refresh_count(), self.counts.snapshot());
                    let started = Instant::now();
                    let callers: Vec<_> = (0..CONCURRENT_CALLERS)
                        .map(|_| {
                            let (engine, id) = (self.engine.clone(), self.id.clone());
                            tokio::spawn(async move { engine.access_token(&id).await })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.unwrap().unwrap();
                    }
                    let took = started.elapsed();
                    if measured {
                        figure.onramp.push(took);
                        let ops = self.counts.snapshot() - before;
                        figure.count(self.sandbox.refresh_count() - refreshes, ops);
                    }
                } else {
                    let started = Instant::now();
                    self.raw.refresh().await;
                    if measured {
                        figure.raw.push(started.elapsed());
                    }
                }
            }
        }
        figure
    }

    pub async fn finish(self) {
        drop(self.engine);
        self.sandbox.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
