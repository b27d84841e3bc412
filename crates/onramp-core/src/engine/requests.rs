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
                body: None,
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
        // Granted scopes as they are now: a refresh during the call may have changed them.
        let granted = match self.store.integration(id).await {
            Ok(i) => i.connection.map(|c| c.granted_scopes).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let error = (!(200..300).contains(&raw.status)).then(|| {
            diagnosis::for_response(
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
            )
        });
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
                            format!("Rate limited (HTTP {}): waiting as the provider asked before retrying.", raw.status)
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
mod tests {
    use super::*;
    use crate::engine::test_support::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    async fn reactive(status: usize, remaining: i64, lifetime: i64) -> (TestCallResult, usize) {
        let mut server = mockito::Server::new_async().await;
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counter = refreshes.clone();
        server
            .mock("POST", "/oauth/token")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                br#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#.to_vec()
            })
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .match_header("authorization", "Bearer at-1")
            .with_status(status)
            .with_body("{}")
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .match_header("authorization", "Bearer at-2")
            .with_status(200)
            .with_body(r#"{"ok":true}"#)
            .create_async()
            .await;
        let s = seeded(&server.url(), remaining, lifetime);
        let r = s
            .engine
            .run_request(
                &s.id,
                &preset(custom::TEST_CALL_ID),
                &RecordingSink::default(),
            )
            .await
            .unwrap();
        (r, refreshes.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_401_refreshes_once_and_retries() {
        let (r, refreshes) = reactive(401, 3000, 3600).await;
        assert_eq!(
            (r.status, r.refreshed, r.attempts, refreshes),
            (200, true, 2, 1)
        );
    }

    #[tokio::test]
    async fn a_403_or_404_refreshes_when_the_token_may_have_expired() {
        // Issued 3500 s ago out of 3600: in the second half of its life.
        for status in [403, 404] {
            let (r, refreshes) = reactive(status, 100, 3600).await;
            assert_eq!(
                (r.status, r.refreshed, refreshes),
                (200, true, 1),
                "{status}"
            );
        }
        // A fresh token's 403 is a real permission problem: no refresh, the answer is explained.
        let (r, refreshes) = reactive(403, 3500, 3600).await;
        assert_eq!((r.status, r.refreshed, refreshes), (403, false, 0));
        assert_eq!(r.error.unwrap().code, "forbidden");
    }

    #[tokio::test]
    async fn a_429_waits_for_retry_after_then_retries() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/api")
            .with_status(429)
            .with_header("Retry-After", "1")
            .with_body("{}")
            .expect(1)
            .create_async()
            .await;
        server
            .mock("GET", "/api")
            .with_status(200)
            .with_body(r#"{"ok":true}"#)
            .expect(1)
            .create_async()
            .await;
        let s = seeded(&server.url(), 3000, 3600);
        let sink = RecordingSink::default();
        let started = std::time::Instant::now();
        let r = s
            .engine
            .run_request(&s.id, &preset(custom::TEST_CALL_ID), &sink)
            .await
            .unwrap();
        assert_eq!((r.status, r.attempts), (200, 2));
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(950),
            "waited as told"
        );
        let notices: Vec<RetryNotice> = sink
            .take()
            .into_iter()
            .filter_map(|e| match e {
                Recorded::RequestProgress(n) => Some(n),
                _ => None,
            })
            .collect();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            (notices[0].status, notices[0].wait_ms, notices[0].attempt),
            (429, 1000, 2)
        );
    }

    #[tokio::test]
    async fn history_keeps_method_path_status_but_no_token() {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/api")
            .with_status(200)
            .with_body("{}")
            .create_async()
            .await;
        let s = seeded(&server.url(), 3000, 3600);
        let requests_step = |v: &IntegrationView| v.steps[5].clone();
        let before = s.engine.integration(&s.id).await.unwrap();
        assert!(!requests_step(&before).done, "no call ran yet");
        s.engine
            .run_request(
                &s.id,
                &preset(custom::TEST_CALL_ID),
                &RecordingSink::default(),
            )
            .await
            .unwrap();
        let after = s.engine.integration(&s.id).await.unwrap();
        assert!(requests_step(&after).done, "a call ran: step 6 is ticked");
        let h = after.history;
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].method.as_str(), h[0].status), ("GET", 200));
        let mut stored = Vec::new();
        for entry in std::fs::read_dir(s._dir.path()).unwrap() {
            stored.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
        }
        let stored = String::from_utf8_lossy(&stored);
        assert!(stored.contains("/api"), "the history line is in the store");
        for secret in ["at-1", "rt-1", "secret-1"] {
            assert!(!stored.contains(secret), "{secret} reached a file");
        }
    }

    #[tokio::test]
    async fn preview_shows_the_exact_url_or_names_the_wrong_field() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let request = |path: &str, body: Option<&str>| ApiRequest {
            preset_id: None,
            method: "POST".into(),
            product: None,
            path: path.into(),
            query: Some("?a=1".into()),
            body: body.map(str::to_string),
        };
        assert_eq!(
            seed.engine
                .preview_request(&seed.id, &request("/api/x", None))
                .await
                .unwrap(),
            "http://127.0.0.1:9/api/x?a=1"
        );
        for (path, body, field) in [
            ("api/x", None, "path"),
            ("/../x", None, "path"),
            ("/api/x", Some("{not json"), "body"),
        ] {
            let e = seed
                .engine
                .preview_request(&seed.id, &request(path, body))
                .await
                .unwrap_err()
                .to_ui();
            assert_eq!(e.facts[0].value, field, "{path} {body:?}");
        }
    }

    #[tokio::test]
    async fn history_reloads_presets_as_custom_requests_and_keeps_no_body() {
        let catalog = Catalog::load().unwrap();
        let jira = catalog.provider("jira", None).unwrap();
        let preset = jira
            .test_calls
            .iter()
            .find(|t| t.id == "jira-project-search")
            .unwrap();
        let as_sent = ApiRequest {
            preset_id: Some(preset.id.clone()),
            method: String::new(),
            product: None,
            path: String::new(),
            query: None,
            body: None,
        };
        let reloaded = reloadable_request(&as_sent, Some(preset)).unwrap();
        assert_eq!(reloaded.preset_id, None);
        assert_eq!(reloaded.product, Some(crate::model::ProductId::Jira));
        assert_eq!(reloaded.path, "/rest/api/3/project/search");
        assert_eq!(reloaded.query.as_deref(), Some("maxResults=1"));
        let custom = ApiRequest {
            preset_id: None,
            method: "POST".into(),
            product: Some(crate::model::ProductId::Jira),
            path: "/rest/api/3/issue".into(),
            query: None,
            body: Some(r#"{"fields":{"summary":"private"}}"#.into()),
        };
        let kept = reloadable_request(&custom, None).unwrap();
        assert_eq!(kept.body, None, "no body in the saved history");
        assert_eq!(
            (kept.method.as_str(), kept.path.as_str()),
            ("POST", "/rest/api/3/issue")
        );
    }
}
