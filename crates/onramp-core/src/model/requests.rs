//! The types of step 6: a request (preset or custom), its result, the wait before a retry, and the
//! history line it leaves.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{KeyValue, ProductId, UiError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TestCallResult {
    /// The preset's id, or "custom" for a custom request.
    pub preset_id: String,
    pub method: String,
    pub url: String,
    pub status: u16,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    pub ok: bool,
    pub content_type: Option<String>,
    /// Pretty-printed when the body is JSON.
    pub body: String,
    /// What went wrong and what to do, for a non-2xx answer.
    pub error: Option<UiError>,
    #[ts(type = "number")]
    pub size_bytes: u64,
    pub headers: Vec<KeyValue>,
    /// The rate-limit headers among `headers` (Retry-After, X-RateLimit-*, RateLimit-*, Beta-RateLimit-*).
    pub rate_limit_headers: Vec<KeyValue>,
    /// What those headers say: which limit a 429 hit, when to retry, near the limit on a success.
    pub rate_limit: crate::gateway::RateLimitStatus,
    /// How to get the next page, when the answer has one (`nextPageToken`, `_links.next`, `Link`).
    pub pagination: Option<String>,
    /// Requests sent, retries included.
    pub attempts: u32,
    /// Whether the access token was refreshed during this call (reactively, after a 401/403/404).
    pub refreshed: bool,
}

/// A request of step 6: a preset, or a custom request relative to a product's gateway path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApiRequest {
    /// A preset's id; when set, the other fields are ignored.
    pub preset_id: Option<String>,
    pub method: String,
    /// `None` = relative to the gateway itself.
    pub product: Option<ProductId>,
    /// e.g. `/rest/api/3/issue/ABC-1`; `{cloudId}` is filled in.
    pub path: String,
    /// Without the leading `?`.
    pub query: Option<String>,
    /// JSON, for methods that carry a body.
    pub body: Option<String>,
}

impl ApiRequest {
    /// A preset test call (the other fields are ignored).
    pub fn preset(preset_id: &str) -> ApiRequest {
        ApiRequest {
            preset_id: Some(preset_id.to_string()),
            method: String::new(),
            product: None,
            path: String::new(),
            query: None,
            body: None,
        }
    }
}

/// Shown while a call waits before retrying (429, 503, 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RetryNotice {
    pub integration_id: String,
    /// The attempt that will be sent after the wait.
    pub attempt: u32,
    pub status: u16,
    #[ts(type = "number")]
    pub wait_ms: u64,
    /// Unix milliseconds when the retry is sent.
    #[ts(type = "number")]
    pub retry_at_ms: i64,
    pub reason: String,
}

/// One line of an integration's request history. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[ts(type = "number")]
    pub at: i64,
    pub method: String,
    /// The path as requested, relative to the gateway.
    pub path: String,
    pub status: u16,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// The request as the custom form reloads it (a preset as its method, product, path and
    /// query). Never a body: the history is saved to disk. Absent in entries from older versions.
    #[serde(default)]
    pub request: Option<ApiRequest>,
}
