//! The token lifecycle's rules and bookkeeping, apart from any I/O: when a token is refreshed (on
//! use, in the background), why a refresh token stopped working, one refresh at a time per
//! integration, and how long a failing background refresh waits. The engine owns one
//! [`TokenLifecycle`]; `engine/tokens.rs` does the refreshing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::{Connection, ConnectionState};

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

/// Why a refresh token stopped working, as far as Onramp can tell (reference §3: 90 days unused,
/// 365 days after first consent, rotation reuse, revocation, password change).
pub fn reconnect_reason(connection: &Connection, now: i64) -> String {
    const DAY: i64 = 86_400;
    let base = "Atlassian refused the refresh token (invalid_grant).";
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

    /// Whether a background refresh of `connection` is due now: close to expiry, refreshable, and
    /// not waiting out an earlier failure.
    pub fn due_in_background(&self, id: &str, connection: &Connection, now: i64) -> bool {
        let due = connection.state == ConnectionState::Connected
            && connection.has_refresh_token
            && connection
                .expires_at
                .is_some_and(|exp| exp - proactive_margin_secs(connection.token_lifetime) <= now);
        due && self.background_retry_allowed(id, now)
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
        assert!(reconnect_reason(&c(366 * day, Some(day)), 1_000_000_000).contains("365 days"));
        assert!(reconnect_reason(&c(100 * day, Some(91 * day)), 1_000_000_000).contains("90 days"));
        assert!(reconnect_reason(&c(10 * day, Some(day)), 1_000_000_000).contains("revoked"));
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
            !lifecycle.due_in_background("a", &c, 1000),
            "waiting out the backoff"
        );
        assert!(
            lifecycle.due_in_background("b", &c, 1000),
            "others are not held back"
        );
        assert_eq!(lifecycle.background_retry("a"), Some((14, 1900)));
        assert_eq!(lifecycle.background_retry("b"), None);
        lifecycle.clear_backoff("a");
        assert_eq!(lifecycle.background_retry("a"), None);
        assert!(lifecycle.due_in_background("a", &c, 1000));
    }
}
