//! The token lifecycle's rules and bookkeeping, apart from any I/O: when a token is refreshed (on
//! use, in the background), why a refresh token stopped working, one refresh at a time per
//! integration, and how long a failing background refresh waits. The engine owns one
//! [`TokenLifecycle`]; `engine/tokens.rs` does the refreshing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::{Connection, ConnectionState};
use crate::oauth_error::{Server, ServerKind};

/// On use, a token this close to expiry is refreshed first: 1/20 of its lifetime, 1–60 s
/// (Atlassian's 3600 s tokens: 60 s).
pub fn use_margin_secs(lifetime: Option<i64>) -> i64 {
    lifetime.map_or(60, |l| (l / 20).clamp(1, 60))
}

/// In the background, a token is refreshed when this close to expiry: 1/5 of its lifetime, up to
/// 15 minutes (Nango refreshes 15 minutes early).
pub fn proactive_margin_secs(lifetime: Option<i64>) -> i64 {
    lifetime.map_or(900, |l| (l / 5).clamp(2, 900))
}

/// Why a refresh token stopped working, as far as Onramp can tell. For Atlassian (reference §3):
/// 90 days unused, 365 days after first consent, rotation reuse, revocation, password change; for
/// other providers their limits are unknown, so only the causes every server shares are named.
pub fn reconnect_reason(connection: &Connection, now: i64, server: &Server) -> String {
    const DAY: i64 = 86_400;
    let base = format!(
        "{} refused the refresh token (invalid_grant).",
        server.subject()
    );
    if !server.is_atlassian() {
        return format!("{base} It was revoked, it expired, or an older one was reused after rotation (which many servers punish by revoking them all).");
    }
    if now - connection.connected_at >= 365 * DAY {
        return format!("{base} Refresh tokens end 365 days after the first consent, however often they are used: consent again.");
    }
    let last_use = connection
        .last_refresh_at
        .unwrap_or(connection.connected_at);
    if now - last_use >= 90 * DAY {
        return format!(
            "{base} It was not used for 90 days, and unused refresh tokens expire after 90 days."
        );
    }
    format!("{base} The user may have revoked the app's access, changed their password, or an old refresh token was reused after rotation (which revokes the whole family).")
}

/// What gets a refresh token from `server` when a token response had none (`requested`: the
/// scopes asked for). Atlassian and the sandbox issue one for `offline_access`; a standard OpenID
/// provider only for `offline_access` with `prompt=consent` (OpenID Connect Core 1.0 §11), which
/// Onramp sends, so what is left there is the client's own settings; other servers differ.
pub fn no_refresh_token_advice(server: &Server, requested: &[String]) -> String {
    let asked_offline = requested.iter().any(|s| s == "offline_access");
    let who = server.subject();
    match server.kind {
        ServerKind::Atlassian | ServerKind::Sandbox if !asked_offline => format!("No refresh token: {who} issues one only with offline_access. Add offline_access in step 3 and authorize again."),
        ServerKind::Atlassian | ServerKind::Sandbox => format!("No refresh token although offline_access was requested: {who} did not grant it. Authorize again and accept the consent page."),
        ServerKind::OpenId if !asked_offline => format!("No refresh token: {who} is an OpenID provider, and those issue one for the offline_access scope. Add offline_access in step 3 and authorize again (Onramp asks for consent, which OpenID Connect requires for it)."),
        ServerKind::OpenId => format!("No refresh token although Onramp asked for offline_access with prompt=consent, as OpenID Connect requires: {who} does not let this client have refresh tokens, or offline_access is not allowed for it. Allow the refresh-token grant and the offline_access scope for the client in {}, then authorize again.", server.client_settings()),
        ServerKind::OAuth => format!("No refresh token: {who} did not issue one. OAuth servers differ: many issue one only when the client is allowed the refresh-token grant, some for a scope such as offline_access. Check the client in {} and the scopes in step 3, then authorize again.", server.client_settings()),
    }
}

/// Why a sandbox connection made before a restart stopped working. The sandbox runs inside the
/// app and keeps its grants in memory only: tokens are never written to any file (an end-to-end
/// test searches the config dir for them), so rather than persisting the sandbox's grants, a new run
/// refuses the old tokens and the engine says so up front instead of letting the first call fail.
pub const SANDBOX_RESTARTED: &str = "The sandbox restarted; its tokens ended with the previous run. Authorize again — a real provider's tokens survive restarts.";

/// Whether `integration`'s connection was issued by another run of the sandbox than the one
/// running now (`running`: its instance id; `None` when the sandbox is not running). Only a live
/// connection of a sandbox provider (`through_sandbox`) can be lost this way.
pub fn lost_in_sandbox_restart(
    integration: &crate::store::Integration,
    through_sandbox: bool,
    running: Option<&str>,
) -> bool {
    through_sandbox
        && integration.handed_off.is_none()
        && integration
            .connection
            .as_ref()
            .is_some_and(|c| c.state == ConnectionState::Connected)
        && (running.is_none() || integration.sandbox_instance.as_deref() != running)
}

/// Seconds before the next background refresh after `failures` failed ones: 30 s, doubling, ≤ 15 min.
pub(crate) fn background_retry_secs(failures: u32) -> i64 {
    (30i64 << failures.saturating_sub(1).min(5)).min(15 * 60)
}

/// Per-integration refresh locks and background backoff.
#[derive(Default)]
pub struct TokenLifecycle {
    /// One refresh at a time per integration; new grants, disconnects and deletes take it too.
    refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Background refreshes that failed (network, 5xx, locked keychain): failures so far and when
    /// to try again, so a broken connection is not retried on every tick.
    background_backoff: Mutex<HashMap<String, (u32, i64)>>,
}

impl TokenLifecycle {
    /// The integration's refresh lock (created on first use).
    pub fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.refresh_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Records a failed background refresh; returns the seconds until the next try.
    pub fn background_failed(&self, id: &str, now: i64) -> i64 {
        let mut backoff = self
            .background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let failures = backoff.get(id).map_or(0, |(n, _)| *n) + 1;
        let wait = background_retry_secs(failures);
        backoff.insert(id.to_string(), (failures, now + wait));
        wait
    }

    /// The failing background refresh of `id`, if any: failures so far and the next try (Unix s).
    pub fn background_retry(&self, id: &str) -> Option<(u32, i64)> {
        self.background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    /// A working refresh, a new grant or a removed connection ends any background backoff.
    pub fn clear_backoff(&self, id: &str) {
        self.background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Whether the background should renew this connection's token now: connected, renewable
    /// (a refresh token, or `fetched_by_client_credentials`: a service account fetches a new one),
    /// close to expiry, and not waiting out a failed attempt's backoff.
    pub fn due_in_background(
        &self,
        id: &str,
        connection: &Connection,
        fetched_by_client_credentials: bool,
        now: i64,
    ) -> bool {
        self.background_due_at(id, connection, fetched_by_client_credentials)
            .is_some_and(|at| at <= now)
    }

    /// When the background should renew this connection's token (Unix s; in the past when it
    /// already should): its proactive margin before expiry, or later while a failed attempt's
    /// backoff runs. `None` when it never will (not connected, nothing to renew with, no expiry).
    pub fn background_due_at(
        &self,
        id: &str,
        connection: &Connection,
        fetched_by_client_credentials: bool,
    ) -> Option<i64> {
        let renewable = connection.state == ConnectionState::Connected
            && (connection.has_refresh_token || fetched_by_client_credentials);
        if !renewable {
            return None;
        }
        let due = connection.expires_at? - proactive_margin_secs(connection.token_lifetime);
        Some(match self.background_retry(id) {
            Some((_, retry_at)) => due.max(retry_at),
            None => due,
        })
    }

    /// False while a failed background attempt's backoff runs.
    pub fn background_retry_allowed(&self, id: &str, now: i64) -> bool {
        self.background_backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_none_or(|(_, retry_at)| *retry_at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_reasons_follow_the_documented_limits() {
        let day = 86_400;
        let c = |connected_ago: i64, refreshed_ago: Option<i64>| Connection {
            state: ConnectionState::Connected,
            connected_at: 1_000_000_000 - connected_ago,
            expires_at: None,
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: None,
            last_refresh_at: refreshed_ago.map(|a| 1_000_000_000 - a),
        };
        let atlassian = Server {
            name: "Atlassian".into(),
            kind: ServerKind::Atlassian,
        };
        let now = 1_000_000_000;
        assert!(reconnect_reason(&c(366 * day, Some(day)), now, &atlassian).contains("365 days"));
        assert!(
            reconnect_reason(&c(100 * day, Some(91 * day)), now, &atlassian).contains("90 days")
        );
        assert!(reconnect_reason(&c(10 * day, Some(day)), now, &atlassian).contains("revoked"));
        // Another provider is named, and Atlassian's limits are not claimed for it.
        let keycloak = Server {
            name: "Keycloak".into(),
            kind: ServerKind::OpenId,
        };
        let reason = reconnect_reason(&c(366 * day, Some(91 * day)), now, &keycloak);
        assert!(
            reason.starts_with("Keycloak refused the refresh token"),
            "{reason}"
        );
        assert!(
            !reason.contains("Atlassian") && !reason.contains("days"),
            "{reason}"
        );
        let sandbox = Server {
            name: "the sandbox".into(),
            kind: ServerKind::Sandbox,
        };
        assert!(reconnect_reason(&c(day, None), now, &sandbox).starts_with("The sandbox refused"));
    }

    #[test]
    fn no_refresh_token_advice_fits_the_kind_of_server() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let oidc = Server {
            name: "Keycloak".into(),
            kind: ServerKind::OpenId,
        };
        let with = no_refresh_token_advice(&oidc, &s(&["openid", "offline_access"]));
        assert!(
            with.contains("prompt=consent") && with.contains("Keycloak's client settings"),
            "{with}"
        );
        assert!(
            !with.contains("Add offline_access"),
            "asking again for it would not help: {with}"
        );
        assert!(no_refresh_token_advice(&oidc, &s(&["openid"])).contains("Add offline_access"));
        let plain = Server {
            name: "Gitea".into(),
            kind: ServerKind::OAuth,
        };
        let advice = no_refresh_token_advice(&plain, &s(&["read"]));
        assert!(
            advice.contains("refresh-token grant") && advice.contains("Gitea"),
            "{advice}"
        );
        let atlassian = Server {
            name: "Atlassian".into(),
            kind: ServerKind::Atlassian,
        };
        assert!(no_refresh_token_advice(&atlassian, &s(&["read:me"]))
            .contains("Add offline_access in step 3"));
        for text in [with, advice] {
            assert!(!text.contains("Atlassian"), "{text}");
        }
    }

    #[test]
    fn a_sandbox_connection_from_another_run_is_lost() {
        let mut i: crate::store::Integration = serde_json::from_value(serde_json::json!({
            "id": "i1", "name": "n", "providerId": "sandbox",
            "callback": {"kind": "deep_link", "loopbackPort": 1},
            "connection": {"state": "connected", "connectedAt": 1, "expiresAt": null,
                "grantedScopes": [], "hasRefreshToken": true, "reason": null},
            "createdAt": 1, "updatedAt": 1
        }))
        .unwrap();
        i.sandbox_instance = Some("run-1".into());
        assert!(
            !lost_in_sandbox_restart(&i, true, Some("run-1")),
            "same run"
        );
        assert!(
            lost_in_sandbox_restart(&i, true, Some("run-2")),
            "a restart"
        );
        assert!(
            lost_in_sandbox_restart(&i, true, None),
            "sandbox not running"
        );
        assert!(
            !lost_in_sandbox_restart(&i, false, Some("run-2")),
            "a real provider's tokens survive"
        );
        i.sandbox_instance = None;
        assert!(
            lost_in_sandbox_restart(&i, true, Some("run-2")),
            "connected before runs were recorded"
        );
        i.connection.as_mut().unwrap().state = ConnectionState::NeedsReconnect;
        assert!(
            !lost_in_sandbox_restart(&i, true, Some("run-2")),
            "already needs reconnect"
        );
        i.connection = None;
        assert!(
            !lost_in_sandbox_restart(&i, true, Some("run-2")),
            "never connected"
        );
    }

    #[test]
    fn margins_scale_with_the_token_lifetime() {
        assert_eq!(use_margin_secs(Some(3600)), 60);
        assert_eq!(use_margin_secs(Some(10)), 1);
        assert_eq!(proactive_margin_secs(Some(3600)), 720);
        assert_eq!(proactive_margin_secs(Some(7200)), 900);
        assert_eq!(proactive_margin_secs(Some(10)), 2);
    }

    #[test]
    fn background_failures_back_off_and_a_success_clears_them() {
        let lifecycle = TokenLifecycle::default();
        assert_eq!(lifecycle.background_failed("a", 1000), 30);
        assert_eq!(lifecycle.background_failed("a", 1000), 60);
        assert_eq!(lifecycle.background_failed("a", 1000), 120);
        for _ in 0..10 {
            lifecycle.background_failed("a", 1000);
        }
        assert_eq!(
            lifecycle.background_failed("a", 1000),
            900,
            "at most 15 minutes"
        );
        let c = Connection {
            state: ConnectionState::Connected,
            connected_at: 0,
            expires_at: Some(1000),
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: Some(3600),
            last_refresh_at: None,
        };
        assert!(
            !lifecycle.due_in_background("a", &c, false, 1000),
            "waiting out the backoff"
        );
        assert!(
            lifecycle.due_in_background("b", &c, false, 1000),
            "others are not held back"
        );
        assert_eq!(lifecycle.background_retry("a"), Some((14, 1900)));
        assert_eq!(lifecycle.background_retry("b"), None);
        lifecycle.clear_backoff("a");
        assert_eq!(lifecycle.background_retry("a"), None);
        assert!(lifecycle.due_in_background("a", &c, false, 1000));
        // Without a refresh token only a client-credentials connection is renewed.
        let without = Connection {
            has_refresh_token: false,
            ..c
        };
        assert!(!lifecycle.due_in_background("a", &without, false, 1000));
        assert!(lifecycle.due_in_background("a", &without, true, 1000));
    }
}
