//! Pushing a connection to Nango (nango-api-and-preflight.md §1.7): the request bodies (pure) and the
//! call sequence. Error answers are mapped in [`errors`].
//!
//! 1. `GET /providers/{provider}`: the key works and the provider name exists.
//! 2. `GET /integrations/{key}`: 404 → `POST /integrations`; 200 → `PATCH /integrations/{key}` with the
//!    whole credentials (Nango requires `client_id` and `client_secret` whenever credentials are sent,
//!    §1.3). Scopes are one comma-separated string (§1.2).
//! 3. `POST /connections`: the tokens, `expires_at` as ISO-8601 (epoch seconds would be read as 1970,
//!    and without it Nango never refreshes, §1.5), `connection_config {cloudId, subdomain, baseUrl}`
//!    (`subdomain` decides which site Nango's Jira hook keeps, §1.5 item 6), metadata
//!    `{granted_scopes, onramp_version}`.
//! 4. `GET /connections/{id}?provider_config_key=…` after a short delay: `cloudId` is the picked site.

pub mod errors;

use std::time::Duration;

use serde_json::{json, Value};

pub use errors::NangoProblem;
use errors::Step;

use crate::error::OnrampError;
use crate::model::{NangoProvider, NangoTarget, Site};
use crate::secrets::{ExposeSecret, SecretString};

/// Everything a push sends (the secrets print as `[REDACTED]`).
#[derive(Debug)]
pub struct PushInput<'a> {
    pub provider: NangoProvider,
    pub integration_key: &'a str,
    /// Shown in Nango's dashboard.
    pub display_name: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// The scopes the app requests (Onramp's list; joined with commas for Nango).
    pub scopes: &'a [String],
    pub connection_id: &'a str,
    pub access_token: &'a SecretString,
    pub refresh_token: &'a SecretString,
    /// Unix seconds.
    pub expires_at: i64,
    pub site: &'a Site,
    pub granted_scopes: &'a [String],
}

/// What a successful push found.
#[derive(Debug, Clone, PartialEq)]
pub struct PushReport {
    /// `true` when the integration was created, `false` when an existing one was updated.
    pub created_integration: bool,
    /// `connection_config` as Nango reads it back.
    pub connection_config: Value,
}

/// Checks a target before anything is sent: an http(s) base URL, a unique key Nango accepts
/// (`^[a-zA-Z0-9~:.@ _-]+$`, ≤ 255, §1.2) and a connection id.
pub fn validate_target(target: &NangoTarget) -> Result<(), OnrampError> {
    let url = url::Url::parse(target.base_url.trim()).map_err(|_| {
        OnrampError::invalid(
            "Nango base URL",
            "Enter the address of your Nango server, such as https://api.nango.dev (Nango Cloud) or http://localhost:3003 (self-hosted).",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(OnrampError::invalid(
            "Nango base URL",
            "The Nango base URL must start with http:// or https://.",
        ));
    }
    let key = &target.integration_key;
    if key.is_empty()
        || key.len() > 255
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "~:.@ _-".contains(c))
    {
        return Err(OnrampError::invalid(
            "integration key",
            "Nango accepts only letters, digits, spaces and ~ : . @ _ - in an integration's unique key (at most 255 characters).",
        ));
    }
    if target.connection_id.trim().is_empty() {
        return Err(OnrampError::invalid(
            "connection ID",
            "Enter the connection ID your backend will use to find this connection in Nango.",
        ));
    }
    Ok(())
}

/// The base URL without a trailing slash (Nango's paths have no prefix, §1.1).
pub fn base(base_url: &str) -> String {
    base_url.trim().trim_end_matches('/').to_string()
}

/// The host's first label: `acme` for `https://acme.atlassian.net` (what Nango's Jira hook matches).
pub fn subdomain_of(site_url: &str) -> Option<String> {
    let url = url::Url::parse(site_url).ok()?;
    let label = url.host_str()?.split('.').next()?.to_string();
    (!label.is_empty()).then_some(label)
}

/// Unix seconds as ISO-8601 (RFC 3339, UTC): `2026-09-01T12:00:00Z`.
pub fn iso8601(unix_secs: i64) -> Result<String, OnrampError> {
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or_else(|| OnrampError::Internal(format!("token expiry {unix_secs} is not a date")))
}

fn credentials(input: &PushInput) -> Value {
    json!({
        "type": "OAUTH2",
        "client_id": input.client_id,
        "client_secret": input.client_secret.expose_secret(),
        "scopes": input.scopes.join(","),
    })
}

/// `POST /integrations` (§1.2).
pub fn create_integration_body(input: &PushInput) -> Value {
    json!({
        "unique_key": input.integration_key,
        "provider": input.provider.as_str(),
        "display_name": input.display_name,
        "credentials": credentials(input),
    })
}

/// `PATCH /integrations/{key}`: the whole credentials object, never a part (§1.3, §4).
pub fn update_integration_body(input: &PushInput) -> Value {
    json!({ "credentials": credentials(input) })
}

/// `POST /connections` (§1.5, §1.7 step 3).
pub fn import_connection_body(input: &PushInput) -> Result<Value, OnrampError> {
    let mut config = json!({
        "cloudId": input.site.id,
        "baseUrl": input.site.url,
    });
    if let Some(sub) = subdomain_of(&input.site.url) {
        config["subdomain"] = json!(sub);
    }
    Ok(json!({
        "provider_config_key": input.integration_key,
        "connection_id": input.connection_id,
        "credentials": {
            "type": "OAUTH2",
            "access_token": input.access_token.expose_secret(),
            "refresh_token": input.refresh_token.expose_secret(),
            "expires_at": iso8601(input.expires_at)?,
        },
        "connection_config": config,
        "metadata": {
            // Space-separated, as Atlassian's `scope` (Nango keeps metadata as given).
            "granted_scopes": input.granted_scopes.join(" "),
            "onramp_version": env!("CARGO_PKG_VERSION"),
        },
    }))
}

/// The read-back check (§1.7 step 4): the `cloudId` Nango keeps must be the picked site's.
pub fn check_read_back(connection: &Value, site: &Site) -> Result<Value, OnrampError> {
    let config = connection
        .get("connection_config")
        .cloned()
        .unwrap_or(Value::Null);
    let found = config.get("cloudId").and_then(Value::as_str);
    if found != Some(site.id.as_str()) {
        return Err(OnrampError::Nango {
            status: None,
            problem: NangoProblem::CloudIdMismatch {
                expected: site.id.clone(),
                site_url: site.url.clone(),
                found: found.map(str::to_string),
            },
        });
    }
    Ok(config)
}

struct Client<'a> {
    http: &'a reqwest::Client,
    base: String,
    secret_key: &'a SecretString,
}

impl Client<'_> {
    /// Sends one request; returns the status and the parsed body, or the mapped error for any
    /// status not in `accept`.
    async fn send(
        &self,
        step: Step,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        accept: &[u16],
    ) -> Result<(u16, Value), OnrampError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.secret_key.expose_secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| OnrampError::Nango {
            status: None,
            problem: NangoProblem::Unreachable {
                base_url: self.base.clone(),
                // With the cause ("operation timed out", "connection refused").
                message: crate::oauth::describe_reqwest_error(&e.without_url()),
            },
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        if accept.contains(&status) {
            // An accepted status whose body is not JSON (a proxy's or portal's page) is not Nango
            // answering: read as `null`, it would pass for "no provider" or a missing cloudId.
            return match serde_json::from_str(&text) {
                Ok(value) => Ok((status, value)),
                Err(_) if text.trim().is_empty() => Ok((status, Value::Null)),
                Err(_) => Err(OnrampError::Nango {
                    status: Some(status),
                    problem: NangoProblem::Other {
                        step: format!("{step:?}"),
                        answer: format!(
                            "HTTP {status} with a body that is not JSON ({}); is the base URL Nango's API?",
                            crate::error::truncate(&text, 200)
                        ),
                    },
                }),
            };
        }
        Err(errors::map_answer(step, status, &text, retry_after))
    }
}

/// The whole §1.7 sequence. Nothing Onramp holds is changed here; the caller decides what a
/// success means for its own tokens.
pub async fn push(
    http: &reqwest::Client,
    base_url: &str,
    secret_key: &SecretString,
    input: &PushInput<'_>,
    read_back_after: Duration,
) -> Result<PushReport, OnrampError> {
    push_steps(http, base_url, secret_key, input, read_back_after)
        .await
        .map_err(|e| errors::with_context(e, input.provider.as_str(), input.integration_key))
}

async fn push_steps(
    http: &reqwest::Client,
    base_url: &str,
    secret_key: &SecretString,
    input: &PushInput<'_>,
    read_back_after: Duration,
) -> Result<PushReport, OnrampError> {
    use reqwest::Method;
    let client = Client {
        http,
        base: base(base_url),
        secret_key,
    };
    let provider = input.provider.as_str();
    client
        .send(
            Step::Provider,
            Method::GET,
            &format!("/providers/{provider}"),
            None,
            &[200],
        )
        .await?;
    let key = enc(input.integration_key);
    let (status, existing) = client
        .send(
            Step::ReadIntegration,
            Method::GET,
            &format!("/integrations/{key}"),
            None,
            &[200, 404],
        )
        .await?;
    let created_integration = status == 404;
    if created_integration {
        client
            .send(
                Step::CreateIntegration,
                Method::POST,
                "/integrations",
                Some(&create_integration_body(input)),
                &[200, 201],
            )
            .await?;
    } else {
        // The key may belong to another provider's integration: never overwrite its credentials.
        let found = existing["data"]["provider"].as_str().unwrap_or_default();
        if found != provider {
            return Err(OnrampError::Nango {
                status: Some(200),
                problem: NangoProblem::ProviderMismatch {
                    key: input.integration_key.to_string(),
                    found: Some(found.to_string()),
                    wanted: provider.to_string(),
                },
            });
        }
        client
            .send(
                Step::UpdateIntegration,
                Method::PATCH,
                &format!("/integrations/{key}"),
                Some(&update_integration_body(input)),
                &[200],
            )
            .await?;
    }
    // 201 observed; the spec says 200 (§1.5).
    client
        .send(
            Step::ImportConnection,
            Method::POST,
            "/connections",
            Some(&import_connection_body(input)?),
            &[200, 201],
        )
        .await?;
    // Nango's Jira hook (jira, confluence) rewrites cloudId within ~3 s of the answer (§4).
    if input.provider != NangoProvider::Atlassian && !read_back_after.is_zero() {
        tokio::time::sleep(read_back_after).await;
    }
    let (_, connection) = client
        .send(
            Step::ReadConnection,
            Method::GET,
            &format!(
                "/connections/{}?provider_config_key={key}",
                enc(input.connection_id)
            ),
            None,
            &[200],
        )
        .await?;
    let connection_config = check_read_back(&connection, input.site)?;
    Ok(PushReport {
        created_integration,
        connection_config,
    })
}

fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests;
