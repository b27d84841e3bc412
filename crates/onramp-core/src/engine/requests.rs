//! Step 6, requests: preset test calls and custom requests through the gateway, with refresh,
//! bounded retries, diagnosis, history and curl.

use super::*;
use crate::{diagnosis, gateway};

/// Most history entries kept per integration.
pub const HISTORY_LIMIT: usize = 50;

/// A gateway answer after refreshes and retries.
pub(super) struct Sent {
    pub(super) raw: gateway::RawResponse,
    attempts: u32,
    refreshed: bool,
}

/// A request resolved to what is sent.
pub(super) struct ResolvedRequest {
    label: String,
    method: String,
    url: String,
    body: Option<String>,
    preset: Option<TestCallPreset>,
}

impl Engine {
    /// Resolves a request to (label id, method, URL, path for the history, body, preset).
    pub(super) fn resolve_request(
        &self,
        integration: &Integration,
        provider: &Provider,
        request: &ApiRequest,
    ) -> Result<ResolvedRequest, OnrampError> {
        let cloud_id = integration.site.as_ref().map(|s| s.id.as_str());
        if let Some(preset_id) = &request.preset_id {
            let preset = provider
                .test_calls
                .iter()
                .find(|t| &t.id == preset_id)
                .ok_or_else(|| OnrampError::UnknownTestCall(preset_id.clone()))?;
            let url = gateway::test_call_url(provider, preset, cloud_id)?;
            return Ok(ResolvedRequest {
                label: preset.id.clone(),
                method: preset.method.clone(),
                url,
                body: preset.body.clone(),
                preset: Some(preset.clone()),
            });
        }
        let method = request.method.trim().to_ascii_uppercase();
        if !gateway::METHODS.contains(&method.as_str()) {
            return Err(OnrampError::invalid(
                "method",
                format!("Use one of {}.", gateway::METHODS.join(", ")),
            ));
        }
        let path = request.path.trim();
        if !path.starts_with('/') || path.contains("://") || path.contains("..") {
            return Err(OnrampError::invalid("path", "Give a path that starts with /, relative to the product's gateway path (e.g. /rest/api/3/myself)."));
        }
        if path.contains(char::is_whitespace) {
            return Err(OnrampError::invalid(
                "path",
                "The path contains spaces: encode them as %20.",
            ));
        }
        let body = request
            .body
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        if let Some(b) = body {
            if method == "GET" {
                return Err(OnrampError::invalid(
                    "body",
                    "A GET request has no body; clear it or pick another method.",
                ));
            }
            serde_json::from_str::<serde_json::Value>(b).map_err(|e| {
                OnrampError::invalid("body", format!("The body is not valid JSON: {e}."))
            })?;
        }
        let base = provider.gateway_url.trim_end_matches('/');
        if base.is_empty() {
            return Err(OnrampError::invalid(
                "path",
                format!("{} has no API address to send custom requests to: give the custom provider a test-call URL in step 1; paths are then relative to its origin.", provider.display_name),
            ));
        }
        let prefix = match request.product {
            Some(product) => {
                if !provider.products.iter().any(|p| p.id == product) {
                    return Err(OnrampError::invalid(
                        "product",
                        format!(
                            "{} has no {} API.",
                            provider.display_name,
                            product.display_name()
                        ),
                    ));
                }
                let cloud_id = cloud_id.ok_or(OnrampError::NoSiteSelected)?;
                format!("/ex/{}/{cloud_id}", product.gateway_segment())
            }
            None => String::new(),
        };
        let path = cloud_id.map_or(path.to_string(), |c| path.replace("{cloudId}", c));
        let query = request
            .query
            .as_deref()
            .map(|q| q.trim().trim_start_matches('?'))
            .filter(|q| !q.is_empty());
        let url = format!(
            "{base}{prefix}{path}{}",
            query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        Ok(ResolvedRequest {
            label: "custom".into(),
            method,
            url,
            body: body.map(str::to_string),
            preset: None,
        })
    }

    /// Runs a request: refreshes the token first when it is about to expire, refreshes once
    /// and retries when the gateway rejects the token, and waits and retries (bounded) on 429, 503 and
    /// other 5xx answers, telling `events` about each wait. Records the call in the history.
    pub async fn run_request(
        &self,
        id: &str,
        request: &ApiRequest,
        events: &dyn crate::events::EventSink,
    ) -> Result<TestCallResult, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let resolved = self.resolve_request(&integration, &provider, request)?;
        let Sent {
            raw,
            attempts,
            refreshed,
        } = self
            .send_with_recovery(
                id,
                &resolved.method,
                &resolved.url,
                resolved.body.as_deref(),
                &|notice| events.request_progress(notice),
            )
            .await?;
        let error = if (200..300).contains(&raw.status) {
            None
        } else {
            // Granted scopes as they are now: a refresh during the call may have changed them.
            // Read only for the diagnosis, which is the only one to use them.
            let granted = match self.store.integration(id).await {
                Ok(i) => i.connection.map(|c| c.granted_scopes).unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            Some(diagnosis::for_response(
                &diagnosis::ResponseContext {
                    provider: &provider,
                    preset: resolved.preset.as_ref(),
                    method: &resolved.method,
                    url: &resolved.url,
                    cloud_id: integration.site.as_ref().map(|s| s.id.as_str()),
                    granted_scopes: &granted,
                    refreshed,
                    headers: &raw.headers,
                },
                raw.status,
                &String::from_utf8_lossy(&raw.body),
            ))
        };
        let entry = HistoryEntry {
            at: now_unix(),
            method: resolved.method.clone(),
            path: resolved
                .url
                .strip_prefix(provider.gateway_url.trim_end_matches('/'))
                .unwrap_or(&resolved.url)
                .to_string(),
            status: raw.status,
            elapsed_ms: raw.elapsed_ms,
            request: reloadable_request(request, resolved.preset.as_ref()),
        };
        // The answer arrived: a history line the disk refused must not hide it.
        if let Err(e) = self.store.append_history(id, entry, HISTORY_LIMIT).await {
            tracing::warn!("request for integration {id}: history not saved: {e}");
        }
        tracing::info!(
            "request {} for integration {id}: HTTP {} in {} ms after {attempts} attempt(s)",
            resolved.label,
            raw.status,
            raw.elapsed_ms
        );
        Ok(gateway::to_result(
            &resolved.label,
            &resolved.method,
            &resolved.url,
            raw,
            attempts,
            refreshed,
            error,
        ))
    }

    /// Sends a gateway request with the integration's token: refreshes once and retries when the
    /// token was rejected (401, or 403/404 late in its life: Atlassian's gateway does not always say
    /// 401), and waits out 429/503 and other 5xx answers within bounds, telling `on_retry` each time.
    pub(super) async fn send_with_recovery(
        &self,
        id: &str,
        method: &str,
        url: &str,
        body: Option<&str>,
        on_retry: &(dyn Fn(RetryNotice) + Send + Sync),
    ) -> Result<Sent, OnrampError> {
        let mut token = self.access_token(id).await?;
        let mut refreshed = false;
        let (mut attempts, mut rate_retries, mut server_retries) = (0u32, 0u32, 0u32);
        let raw = loop {
            attempts += 1;
            let raw = gateway::send_once(&self.http, method, url, &token, body).await?;
            let scope_mismatch = raw.status == 401
                && String::from_utf8_lossy(&raw.body).contains("scope does not match");
            let token_rejected = (raw.status == 401 && !scope_mismatch)
                || (matches!(raw.status, 403 | 404) && self.token_possibly_expired(id).await);
            if token_rejected && !refreshed {
                tracing::info!(
                    "integration {id}: gateway answered {}; refreshing once and retrying",
                    raw.status
                );
                token = self.refresh_after_rejection(id, &token).await?;
                refreshed = true;
                continue;
            }
            let is_rate_limit = matches!(raw.status, 429 | 503);
            let retries = if is_rate_limit {
                rate_retries
            } else {
                server_retries
            };
            let now_ms = crate::now_unix_ms();
            match gateway::retry_delay(raw.status, &raw.headers, retries, now_ms) {
                Some(wait) => {
                    if is_rate_limit {
                        rate_retries += 1
                    } else {
                        server_retries += 1
                    }
                    let notice = RetryNotice {
                        integration_id: id.to_string(),
                        attempt: attempts + 1,
                        status: raw.status,
                        wait_ms: wait.as_millis() as u64,
                        retry_at_ms: now_ms + wait.as_millis() as i64,
                        reason: if is_rate_limit {
                            // Which limit, when the answer names it (RateLimit-Reason).
                            let which = gateway::rate_limit_status(raw.status, &raw.headers)
                                .limit_hit
                                .map(|limit| format!(" {limit} was hit;"))
                                .unwrap_or_default();
                            format!("Rate limited (HTTP {}):{which} waiting as the provider asked before retrying.", raw.status)
                        } else {
                            format!("HTTP {}: retrying after a short backoff.", raw.status)
                        },
                    };
                    tracing::info!(
                        "integration {id}: HTTP {}, retry {} in {} ms",
                        raw.status,
                        notice.attempt,
                        notice.wait_ms
                    );
                    on_retry(notice);
                    tokio::time::sleep(wait).await;
                }
                None => break raw,
            }
        };
        Ok(Sent {
            raw,
            attempts,
            refreshed,
        })
    }

    /// What the endpoint of a request being typed needs and whether the connection's granted
    /// scopes cover it; no network (Atlassian's published specs, `crate::endpoint_advice`).
    pub async fn endpoint_scopes(
        &self,
        id: &str,
        method: &str,
        product: Option<crate::model::ProductId>,
        path: &str,
    ) -> Result<crate::endpoint_advice::EndpointAdvice, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let granted = integration
            .connection
            .as_ref()
            .map(|c| c.granted_scopes.as_slice());
        Ok(crate::endpoint_advice::advise(
            &provider, method, product, path, granted,
        ))
    }

    /// The method and URL a request would go to, or why it cannot be sent; no network.
    pub async fn preview_request(
        &self,
        id: &str,
        request: &ApiRequest,
    ) -> Result<String, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        Ok(self.resolve_request(&integration, &provider, request)?.url)
    }

    /// `curl` for a request; the real token only when `reveal` is true.
    pub async fn curl_command(
        &self,
        id: &str,
        request: &ApiRequest,
        reveal: bool,
    ) -> Result<String, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let resolved = self.resolve_request(&integration, &provider, request)?;
        let token = if reveal {
            Some(self.access_token(id).await?)
        } else {
            None
        };
        Ok(gateway::curl_command(
            &resolved.method,
            &resolved.url,
            resolved.body.as_deref(),
            // The user asked for the token in the command ("reveal"): it leaves as text here.
            token.as_ref().map(ExposeSecret::expose_secret),
        ))
    }

    /// Explains an error the user copied from the browser, with the callback URL Onramp sent.
    pub async fn diagnose_browser_error(
        &self,
        id: Option<&str>,
        text: &str,
    ) -> crate::model::UiError {
        let integration = match id {
            Some(id) => self.store.integration(id).await.ok(),
            None => None,
        };
        let sent = integration.as_ref().map(|i| redirect_uri_for(&i.callback));
        let server = match &integration {
            Some(i) => self.server_of(&i.provider_id).await,
            None => None,
        };
        diagnosis::for_browser_text(text, sent.as_deref(), server.as_ref())
    }
}

/// A history entry's request in the custom form's terms, without a body; `None` for a preset the
/// form cannot express (a custom provider's absolute test-call URL).
fn reloadable_request(request: &ApiRequest, preset: Option<&TestCallPreset>) -> Option<ApiRequest> {
    let Some(preset) = preset else {
        return Some(ApiRequest {
            body: None,
            ..request.clone()
        });
    };
    if !preset.path.starts_with('/') {
        return None;
    }
    let (path, query) = match preset.path.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (preset.path.clone(), None),
    };
    Some(ApiRequest {
        preset_id: None,
        method: preset.method.clone(),
        product: preset.product,
        path,
        query,
        body: None,
    })
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
