//! The commands, over `onramp_core::Engine`. Every rule (refresh, retries, site, exports) is the
//! engine's; this file only finds the integration, calls the engine and prints.

use std::path::PathBuf;

use onramp_core::engine::SandboxLink;
use onramp_core::events::EventSink;
use onramp_core::handoff::{HandoffFormat, SnippetLanguage};
use onramp_core::model::{
    ApiRequest, AuthProgress, IntegrationView, ProductId, RetryNotice, SandboxApp, UiError,
};
use onramp_core::secrets::ExposeSecret;
use onramp_core::{Engine, EngineConfig, OnrampError};
use serde_json::{json, Value};

use crate::exit;
use crate::{Cli, Command, ExportFormat, ProductArg};

/// What went wrong, with the exit code it maps to.
pub(crate) struct Failure {
    pub code: u8,
    pub error: UiError,
}

impl From<OnrampError> for Failure {
    fn from(e: OnrampError) -> Self {
        let error = e.to_ui();
        Failure {
            code: exit::for_error(&error),
            error,
        }
    }
}

pub(crate) fn usage(field: &str, problem: impl Into<String>) -> Failure {
    Failure {
        code: exit::USAGE,
        error: OnrampError::invalid(field, problem.into()).to_ui(),
    }
}

pub async fn run(cli: Cli) -> u8 {
    let json = cli.json;
    match run_command(cli).await {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.error.title);
            if !f.error.detail.is_empty() {
                eprintln!("  {}", f.error.detail);
            }
            if let Some(hint) = &f.error.hint {
                eprintln!("  what to do: {hint}");
            }
            if json {
                println!("{}", json!({ "error": f.error }));
            }
            f.code
        }
    }
}

async fn run_command(cli: Cli) -> Result<u8, Failure> {
    let ci = crate::ci::from_env();
    let engine = match &ci {
        Some(_) => crate::ci::engine(cli.sandbox_url).await?,
        None => open_engine(cli.config_dir, cli.sandbox_url).await?,
    };
    let find = |name: String| {
        let (engine, ci) = (&engine, &ci);
        async move {
            match ci {
                Some(settings) => crate::ci::integration(engine, settings, &name).await,
                None => find(engine, &name).await,
            }
        }
    };
    let json = cli.json;
    match cli.command {
        Command::List if ci.is_some() => Err(usage(
            "command",
            "list needs the saved integrations: unset ONRAMP_CLIENT_SECRET to leave CI mode.",
        )),
        Command::Export { .. } if ci.is_some() => Err(usage(
            "command",
            "export needs a saved integration: unset ONRAMP_CLIENT_SECRET to leave CI mode.",
        )),
        Command::List => list(&engine, json).await,
        Command::Check { name } => check(&engine, &find(name).await?, json).await,
        Command::Call {
            name,
            method,
            path,
            query,
            data,
            product,
        } => {
            let view = find(name).await?;
            let request = ApiRequest {
                preset_id: None,
                method,
                product: product_for(&engine, &view, &path, product).await?,
                query: query_string(&query)?,
                path,
                body: data,
            };
            call(&engine, &view, &request, json).await
        }
        Command::Token { name } => {
            let view = find(name).await?;
            let token = engine.access_token(&view.id).await?;
            if json {
                let expires_at = engine
                    .integration(&view.id)
                    .await?
                    .connection
                    .and_then(|c| c.expires_at);
                println!(
                    "{}",
                    json!({ "accessToken": token.expose_secret(), "expiresAt": expires_at })
                );
            } else {
                println!("{}", token.expose_secret());
            }
            Ok(exit::OK)
        }
        Command::Export { name, format } => {
            let view = find(name).await?;
            let contents = match format {
                ExportFormat::Env => {
                    (engine.export_handoff(&view.id, HandoffFormat::Env, false))
                        .await?
                        .contents
                }
                ExportFormat::Json => {
                    (engine.export_handoff(&view.id, HandoffFormat::Json, false))
                        .await?
                        .contents
                }
                ExportFormat::Curl => engine.snippet(&view.id, SnippetLanguage::Curl).await?,
                ExportFormat::Node => engine.snippet(&view.id, SnippetLanguage::Node).await?,
                ExportFormat::Python => engine.snippet(&view.id, SnippetLanguage::Python).await?,
            };
            if json {
                println!(
                    "{}",
                    json!({ "format": format!("{format:?}").to_lowercase(), "contents": contents })
                );
            } else {
                print!("{contents}");
            }
            Ok(exit::OK)
        }
    }
}

/// The window's config folder: `$XDG_CONFIG_HOME/dev.onramp.app` (Tauri's app config dir for
/// Onramp's identifier), else `~/.config/dev.onramp.app`.
fn default_config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("dev.onramp.app"))
}

async fn open_engine(
    config_dir: Option<PathBuf>,
    sandbox_url: Option<String>,
) -> Result<Engine, Failure> {
    let config_dir = config_dir.or_else(default_config_dir).ok_or_else(|| {
        usage(
            "config dir",
            "Neither HOME nor XDG_CONFIG_HOME is set: pass --config-dir.",
        )
    })?;
    if !config_dir.join("onramp.sqlite3").exists() {
        return Err(Failure {
            code: exit::NOT_FOUND,
            error: OnrampError::invalid(
                "config dir",
                format!(
                    "No Onramp data in {}: set up an integration in the window first, or pass --config-dir.",
                    config_dir.display()
                ),
            )
            .to_ui(),
        });
    }
    if let Err(e) = onramp_core::vault::use_os_keychain() {
        // Commands that need a secret fail with this; `list` does not need one.
        eprintln!("warning: {}", e.to_ui().detail);
    }
    let sandbox = match sandbox_url {
        Some(url) => Some(sandbox_link(url.trim_end_matches('/')).await?),
        None => None,
    };
    Ok(Engine::new(EngineConfig {
        config_dir,
        sandbox,
        default_loopback_port: onramp_core::loopback::DEFAULT_PORT,
    })?)
}

/// The sandbox of a running window (or a test): its run id decides whether its tokens are still
/// good (they end with the sandbox's process).
pub(crate) async fn sandbox_link(url: &str) -> Result<SandboxLink, Failure> {
    let unreachable = |why: String| Failure {
        code: exit::UNREACHABLE,
        error: OnrampError::Network(format!("The sandbox at {url} did not answer ({why})."))
            .to_ui(),
    };
    let stats: Value = onramp_core::tls::client_builder()
        .no_proxy()
        .build()
        .map_err(|e| unreachable(e.to_string()))?
        .get(format!("{url}/__sandbox/stats"))
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .json()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let instance_id = stats["instance_id"]
        .as_str()
        .ok_or_else(|| unreachable("no run id in its answer".into()))?
        .to_string();
    Ok(SandboxLink {
        // The command line never shows the sandbox app page or authorizes: these stay empty.
        app: SandboxApp {
            base_url: url.to_string(),
            app_name: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            service_account_client_id: String::new(),
            service_account_client_secret: String::new(),
        },
        instance_id,
        register_callback: Box::new(|_| {}),
    })
}

/// The integration named `name` (its name, or its id).
async fn find(engine: &Engine, name: &str) -> Result<IntegrationView, Failure> {
    let all = engine.integration_summaries().await?;
    if let Some(i) = all.iter().find(|i| i.id == name) {
        return Ok(engine.integration(&i.id).await?);
    }
    let named: Vec<_> = all.iter().filter(|i| i.name == name).collect();
    let not_found = |detail: String| Failure {
        code: exit::NOT_FOUND,
        error: OnrampError::invalid("integration", detail).to_ui(),
    };
    match named.as_slice() {
        [one] => Ok(engine.integration(&one.id).await?),
        [] => Err(not_found(format!(
            "No integration is called \"{name}\" ({} saved; `onramp-cli list` shows them).",
            all.len()
        ))),
        several => Err(not_found(format!(
            "{} integrations are called \"{name}\": give the id instead ({}).",
            several.len(),
            several
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

async fn list(engine: &Engine, json: bool) -> Result<u8, Failure> {
    let all = engine.integration_summaries().await?;
    if json {
        println!("{}", serde_json::to_string(&all).unwrap_or_default());
        return Ok(exit::OK);
    }
    for i in &all {
        let site = i.site.as_ref().map_or("—", |s| s.name.as_str());
        println!(
            "{}\t{}\t{}\t{}\t{}",
            i.id, i.name, i.provider_name, i.health.summary, site
        );
    }
    if all.is_empty() {
        eprintln!("No integrations yet: set one up in the window.");
    }
    Ok(exit::OK)
}

/// Prints waits (429, 5xx) on stderr while a call retries.
struct Progress;

impl EventSink for Progress {
    fn auth_progress(&self, _: AuthProgress) {}
    fn request_progress(&self, n: RetryNotice) {
        eprintln!(
            "waiting {:.1} s before attempt {} (HTTP {}: {})",
            n.wait_ms as f64 / 1000.0,
            n.attempt,
            n.status,
            n.reason
        );
    }
    fn connection_changed(&self, _: IntegrationView) {}
    fn callback_unmatched(&self, _: UiError) {}
}

/// One line of `check`.
struct Step {
    name: String,
    ok: bool,
    status: Option<u16>,
    detail: String,
}

async fn check(engine: &Engine, view: &IntegrationView, json: bool) -> Result<u8, Failure> {
    let mut steps = Vec::new();
    let mut worst: Option<Failure> = None;
    let token = engine.access_token(&view.id).await;
    let token_ok = token.is_ok();
    steps.push(match token {
        Ok(_) => {
            let expires = engine
                .integration(&view.id)
                .await?
                .connection
                .and_then(|c| c.expires_at)
                .map(|at| {
                    format!(
                        "held, expires in {} min (the calls below prove the provider takes it)",
                        (at - onramp_core::now_unix()).max(0) / 60
                    )
                })
                .unwrap_or_else(|| "held".into());
            Step {
                name: "token".into(),
                ok: true,
                status: None,
                detail: expires,
            }
        }
        Err(e) => {
            let f = Failure::from(e);
            let step = Step {
                name: "token".into(),
                ok: false,
                status: None,
                detail: format!("{} — {}", f.error.title, f.error.detail),
            };
            worst = Some(f);
            step
        }
    });
    if token_ok {
        let provider = engine.provider(&view.provider_id).await?;
        if provider.has_sites {
            steps.push(match engine.list_sites(&view.id).await {
                Ok(sites) => {
                    let chosen = view.site.as_ref();
                    let listed = chosen.is_none_or(|c| sites.iter().any(|s| s.id == c.id));
                    Step {
                        name: "sites".into(),
                        ok: listed,
                        status: None,
                        detail: match chosen {
                            Some(c) if listed => {
                                format!("{} site(s); using {} ({})", sites.len(), c.name, c.id)
                            }
                            Some(c) => format!(
                                "{} ({}) is no longer among the {} site(s) this grant reaches",
                                c.name,
                                c.id,
                                sites.len()
                            ),
                            None => format!(
                                "{} site(s); none chosen yet (the wizard's step 5)",
                                sites.len()
                            ),
                        },
                    }
                }
                Err(e) => failed_step("sites", e, &mut worst),
            });
        }
        for preset in &view.runnable_test_calls {
            // Once the connection needs the wizard, every further call would fail the same way.
            if worst
                .as_ref()
                .is_some_and(|f| f.code == exit::NEEDS_AUTHORIZATION)
            {
                eprintln!("skipped {preset}: the connection needs authorizing again");
                continue;
            }
            let request = ApiRequest::preset(preset);
            steps.push(
                match engine.run_request(&view.id, &request, &Progress).await {
                    Ok(r) => Step {
                        name: format!("{} {}", r.method, path_of(&r.url)),
                        ok: r.ok,
                        status: Some(r.status),
                        detail: match (&r.error, r.ok) {
                            (_, true) => format!("{} ms", r.elapsed_ms),
                            (Some(e), false) => format!("{} — {}", e.title, e.detail),
                            (None, false) => "not a 2xx answer".into(),
                        },
                    },
                    Err(e) => failed_step(preset, e, &mut worst),
                },
            );
        }
        let skipped = provider
            .test_calls
            .iter()
            .filter(|t| !view.runnable_test_calls.contains(&t.id));
        for t in skipped {
            eprintln!("skipped {}: the token lacks its scopes", t.id);
        }
    }
    let all_ok = steps.iter().all(|s| s.ok);
    if json {
        let lines: Vec<Value> = steps
            .iter()
            .map(|s| json!({"step": s.name, "ok": s.ok, "status": s.status, "detail": s.detail}))
            .collect();
        println!(
            "{}",
            json!({"integration": {"id": view.id, "name": view.name}, "ok": all_ok, "steps": lines})
        );
    } else {
        for s in &steps {
            let status = s.status.map(|c| format!(" {c}")).unwrap_or_default();
            println!(
                "{} {}{status}  {}",
                if s.ok { "ok  " } else { "FAIL" },
                s.name,
                s.detail
            );
        }
    }
    Ok(match (all_ok, worst) {
        (true, _) => exit::OK,
        (false, Some(f)) => f.code,
        (false, None) => exit::CHECK_FAILED,
    })
}

fn failed_step(name: &str, e: OnrampError, worst: &mut Option<Failure>) -> Step {
    let f = Failure::from(e);
    let step = Step {
        name: name.to_string(),
        ok: false,
        status: None,
        detail: format!("{} — {}", f.error.title, f.error.detail),
    };
    worst.get_or_insert(f);
    step
}

/// A URL's path and query, for one line of output.
fn path_of(url: &str) -> String {
    match url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
    {
        Some(start) => url[start..].to_string(),
        None => url.to_string(),
    }
}

async fn call(
    engine: &Engine,
    view: &IntegrationView,
    request: &ApiRequest,
    json: bool,
) -> Result<u8, Failure> {
    let r = engine.run_request(&view.id, request, &Progress).await?;
    if json {
        println!("{}", serde_json::to_string(&r).unwrap_or_default());
    } else {
        eprintln!(
            "HTTP {} ({} ms) {} {}",
            r.status, r.elapsed_ms, r.method, r.url
        );
        if let Some(e) = &r.error {
            eprintln!("  {} — {}", e.title, e.detail);
        }
        println!("{}", r.body);
    }
    Ok(if r.ok { exit::OK } else { exit::CHECK_FAILED })
}

/// `k=v` pairs as a query string, values URL-encoded.
fn query_string(pairs: &[String]) -> Result<Option<String>, Failure> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| usage("query", format!("\"{pair}\" is not k=v.")))?;
        query.append_pair(k, v);
    }
    Ok(Some(query.finish()))
}

/// The product whose gateway path a custom request goes through: as asked, else from the path.
async fn product_for(
    engine: &Engine,
    view: &IntegrationView,
    path: &str,
    asked: Option<ProductArg>,
) -> Result<Option<ProductId>, Failure> {
    let provider = engine.provider(&view.provider_id).await?;
    if provider.products.is_empty() {
        return Ok(None);
    }
    let wanted = match asked {
        Some(ProductArg::Jira) => ProductId::Jira,
        Some(ProductArg::Confluence) => ProductId::Confluence,
        None if path.starts_with("/wiki") => ProductId::Confluence,
        None => ProductId::Jira,
    };
    if provider.products.iter().any(|p| p.id == wanted) {
        Ok(Some(wanted))
    } else {
        // A one-product provider: its product, whatever the path looks like.
        Ok(provider.products.first().map(|p| p.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_encoded_and_malformed_ones_refused() {
        let q = query_string(&["jql=project = ABC".into(), "maxResults=5".into()])
            .ok()
            .flatten();
        assert_eq!(q.as_deref(), Some("jql=project+%3D+ABC&maxResults=5"));
        let Err(f) = query_string(&["nope".into()]) else {
            panic!("a pair without = is refused");
        };
        assert_eq!(f.code, exit::USAGE);
    }

    #[test]
    fn a_line_shows_the_path_and_query_not_the_host() {
        assert_eq!(
            path_of("https://api.atlassian.com/ex/jira/abc/rest/api/3/myself?x=1"),
            "/ex/jira/abc/rest/api/3/myself?x=1"
        );
        assert_eq!(path_of("not a url"), "not a url");
    }
}
