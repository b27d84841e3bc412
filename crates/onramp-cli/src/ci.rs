//! CI mode: a service account's OAuth 2.0 credential from the environment, and nothing else. No
//! keychain (the secret stays in this process's memory), no store (an in-memory one), no file
//! written: a pipeline can smoke-test with two secrets it already holds.
//!
//! `ONRAMP_CLIENT_ID` and `ONRAMP_CLIENT_SECRET` switch it on; `ONRAMP_PROVIDER` picks the provider
//! (default `atlassian-service-account`; `sandbox-service-account` with `ONRAMP_SANDBOX_URL`), and
//! `ONRAMP_CLOUD_ID` the site (never guessed: without it, calls that need a site say so).

use onramp_core::model::{IntegrationPatch, IntegrationView};
use onramp_core::secrets::SecretString;
use onramp_core::{Engine, OnrampError};

use crate::exit;
use crate::run::{sandbox_link, usage, Failure};

pub const DEFAULT_PROVIDER: &str = "atlassian-service-account";

pub struct CiSettings {
    provider: String,
    client_id: String,
    client_secret: SecretString,
    cloud_id: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// CI mode's settings, when the environment asks for it.
pub fn from_env() -> Option<CiSettings> {
    let client_secret = var("ONRAMP_CLIENT_SECRET")?;
    Some(CiSettings {
        provider: var("ONRAMP_PROVIDER").unwrap_or_else(|| DEFAULT_PROVIDER.to_string()),
        // Checked when the integration is made, with the engine's words.
        client_id: var("ONRAMP_CLIENT_ID").unwrap_or_default(),
        client_secret: SecretString::from(client_secret),
        cloud_id: var("ONRAMP_CLOUD_ID"),
    })
}

/// An engine with nothing on disk.
pub async fn engine(sandbox_url: Option<String>) -> Result<Engine, Failure> {
    onramp_core::vault::use_process_memory_keychain()?;
    let sandbox = match sandbox_url {
        Some(url) => Some(sandbox_link(url.trim_end_matches('/')).await?),
        None => None,
    };
    Ok(Engine::in_memory(sandbox)?)
}

/// The one integration of this run, made from the settings and labelled `name`.
pub async fn integration(
    engine: &Engine,
    settings: &CiSettings,
    name: &str,
) -> Result<IntegrationView, Failure> {
    let provider = engine.provider(&settings.provider).await.map_err(|_| {
        usage(
            "ONRAMP_PROVIDER",
            format!(
                "\"{}\" is not a provider; CI mode takes a service account's ({DEFAULT_PROVIDER}).",
                settings.provider
            ),
        )
    })?;
    if provider.grant != onramp_core::model::Grant::ClientCredentials {
        return Err(usage(
            "ONRAMP_PROVIDER",
            format!(
                "{} needs a person in a browser; CI mode takes a service account's credential ({DEFAULT_PROVIDER}).",
                provider.display_name
            ),
        ));
    }
    if settings.client_id.is_empty() {
        return Err(usage(
            "ONRAMP_CLIENT_ID",
            "ONRAMP_CLIENT_SECRET is set but ONRAMP_CLIENT_ID is not: set both, from the service account's OAuth 2.0 credential.",
        ));
    }
    let id = engine.create_integration(&provider.id).await?.id;
    engine
        .update_integration(
            &id,
            IntegrationPatch {
                name: Some(name.to_string()),
                ..Default::default()
            },
        )
        .await?;
    engine
        .save_credentials(
            &id,
            &settings.client_id,
            Some(settings.client_secret.clone()),
        )
        .await?;
    if let Some(cloud_id) = &settings.cloud_id {
        let sites = engine.list_sites(&id).await?;
        if !sites.iter().any(|s| &s.id == cloud_id) {
            let listed: Vec<String> = sites
                .iter()
                .map(|s| format!("{} ({})", s.id, s.name))
                .collect();
            return Err(Failure {
                code: exit::NEEDS_AUTHORIZATION,
                error: OnrampError::invalid(
                    "ONRAMP_CLOUD_ID",
                    format!(
                        "The service account does not reach the site {cloud_id}. It reaches: {}.",
                        if listed.is_empty() {
                            "no site (give the service account access to the product)".to_string()
                        } else {
                            listed.join(", ")
                        }
                    ),
                )
                .to_ui(),
            });
        }
        engine.select_site(&id, cloud_id).await?;
    }
    Ok(engine.integration(&id).await?)
}
