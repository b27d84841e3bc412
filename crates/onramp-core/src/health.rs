//! An integration's health on the home, from its stored record and `now` (pure; no I/O): not
//! authorized, connected (with the access token's expiry for a countdown), refresh failing (with the
//! next background try), needs reconnect (with the reason) or handed off (where, when); and the
//! refresh token's age against Atlassian's 90 days without use (atlassian-2026.md: "90-day inactivity
//! expiry (each new refresh token resets it)"; the 365-day absolute expiry stated in 2022 is **not
//! established** for today, so it is only ever mentioned as such).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::{ConnectionState, HandOff};
use crate::store::Integration;

const DAY: i64 = 86_400;
/// Atlassian: an unused refresh token expires after 90 days; each refresh resets the count.
pub const UNUSED_REFRESH_TOKEN_DAYS: i64 = 90;
/// The home warns from this many days before that expiry.
pub const WARNING_DAYS: i64 = 14;
/// Atlassian stated in 2022 that refresh tokens end 365 days after the first consent (not
/// established for today).
pub const STATED_2022_ABSOLUTE_DAYS: i64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    NotAuthorized,
    Connected,
    RefreshFailing,
    NeedsReconnect,
    HandedOff,
}

/// How the refresh token stands against the 90 days without use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenAge {
    /// Unix seconds of the last refresh (or of the consent, before any refresh).
    #[ts(type = "number")]
    pub last_refreshed_at: i64,
    #[ts(type = "number")]
    pub days_since: i64,
    /// Whole days left before it expires unless used (0 when due).
    #[ts(type = "number")]
    pub expires_in_days: i64,
    /// Within 14 days of that expiry.
    pub warning: bool,
    /// "Last refreshed N days ago; expires in about M days unless used." (and the 2022 note).
    pub text: String,
}

/// An integration's health, as the home shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub state: HealthState,
    /// A few words: "Connected", "Not authorized", …
    pub summary: String,
    /// The reason to reconnect, where the connection went, or what the background refresh does.
    pub detail: Option<String>,
    /// Unix seconds when the access token expires (connected, refresh failing): the countdown.
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    /// Unix seconds of the next background refresh try (refresh failing).
    #[ts(type = "number | null")]
    pub next_retry_at: Option<i64>,
    pub handed_off: Option<HandOff>,
    pub refresh_token: Option<RefreshTokenAge>,
}

/// The health of `integration` at `now`. `backoff` is the background refresh's failures so far and
/// next try (`TokenLifecycle::background_retry`); `atlassian_limits` says whether Atlassian's refresh
/// token limits apply (catalog providers; a custom provider's are unknown); `client_credentials` that
/// the token comes from a service account's client credentials (no refresh token, none needed).
pub fn health(
    integration: &Integration,
    backoff: Option<(u32, i64)>,
    atlassian_limits: bool,
    client_credentials: bool,
    now: i64,
) -> Health {
    let blank = |state, summary: &str| Health {
        state,
        summary: summary.to_string(),
        detail: None,
        expires_at: None,
        next_retry_at: None,
        handed_off: None,
        refresh_token: None,
    };
    if let Some(h) = &integration.handed_off {
        return Health {
            detail: Some(format!(
                "Handed off to {} ({}) as connection {}: it refreshes the tokens now, Onramp does not.",
                h.to, h.base_url, h.connection_id
            )),
            handed_off: Some(h.clone()),
            ..blank(HealthState::HandedOff, "Handed off")
        };
    }
    let Some(c) = &integration.connection else {
        return blank(HealthState::NotAuthorized, "Not authorized");
    };
    if c.state == ConnectionState::NeedsReconnect {
        return Health {
            detail: Some(
                c.reason
                    .clone()
                    .unwrap_or_else(|| "The refresh token stopped working.".to_string()),
            ),
            ..blank(HealthState::NeedsReconnect, "Needs reconnect")
        };
    }
    let refresh_token = (atlassian_limits && c.has_refresh_token).then(|| {
        refresh_token_age(
            c.last_refresh_at.unwrap_or(c.connected_at),
            c.connected_at,
            now,
        )
    });
    match backoff {
        Some((failures, retry_at)) => Health {
            detail: Some(format!(
                "The background refresh failed {failures} time{} (network, server error or locked keychain); Onramp tries again by itself.",
                if failures == 1 { "" } else { "s" }
            )),
            expires_at: c.expires_at,
            next_retry_at: Some(retry_at),
            refresh_token,
            ..blank(HealthState::RefreshFailing, "Refresh failing")
        },
        None => Health {
            detail: match (c.has_refresh_token, client_credentials) {
                (_, true) => Some(
                    "A service account: a new token is fetched with its client ID and secret before this one expires (there is no refresh token)."
                        .to_string(),
                ),
                (false, false) => Some(
                    "No refresh token: authorize again when the access token expires.".to_string(),
                ),
                (true, false) => None,
            },
            expires_at: c.expires_at,
            refresh_token,
            ..blank(HealthState::Connected, "Connected")
        },
    }
}

/// The refresh token's age against 90 days without use, warning from 14 days before.
pub fn refresh_token_age(last_refreshed_at: i64, connected_at: i64, now: i64) -> RefreshTokenAge {
    let since = (now - last_refreshed_at).max(0);
    let left = UNUSED_REFRESH_TOKEN_DAYS * DAY - since;
    let days_since = since / DAY;
    // Rounded up: 13 days and some hours left is "about 14 days".
    let expires_in_days = if left <= 0 { 0 } else { (left + DAY - 1) / DAY };
    let warning = left <= WARNING_DAYS * DAY;
    let ago = match days_since {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    };
    let mut text = if left <= 0 {
        format!("Last refreshed {ago}; unused for 90 days, so it has probably expired: authorize again.")
    } else {
        format!(
            "Last refreshed {ago}; expires in about {expires_in_days} day{} unless used (Atlassian: 90 days without use).",
            if expires_in_days == 1 { "" } else { "s" }
        )
    };
    let consent_age = now - connected_at;
    if consent_age >= (STATED_2022_ABSOLUTE_DAYS - WARNING_DAYS) * DAY {
        text.push_str(&format!(
            " The first consent was {} days ago: Atlassian stated in 2022 that refresh tokens end 365 days after it; whether that still applies is not established.",
            consent_age / DAY
        ));
    }
    RefreshTokenAge {
        last_refreshed_at,
        days_since,
        expires_in_days,
        warning,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallbackKind, CallbackSettings, Connection};

    const NOW: i64 = 2_000_000_000;

    fn integration(connection: Option<Connection>) -> Integration {
        Integration {
            id: "i".into(),
            name: "n".into(),
            provider_id: "jira".into(),
            client_id: "c".into(),
            callback: CallbackSettings {
                kind: CallbackKind::Loopback,
                loopback_port: 47823,
            },
            scopes: vec![],
            console_done: vec![],
            site: None,
            connection,
            handed_off: None,
            has_client_secret: true,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn connected(last_refresh_ago: Option<i64>) -> Connection {
        Connection {
            state: ConnectionState::Connected,
            connected_at: NOW - 20 * DAY,
            expires_at: Some(NOW + 1800),
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: Some(3600),
            last_refresh_at: last_refresh_ago.map(|a| NOW - a),
        }
    }

    #[test]
    fn without_a_connection_it_is_not_authorized() {
        let h = health(&integration(None), None, true, false, NOW);
        assert_eq!(h.state, HealthState::NotAuthorized);
        assert!(h.expires_at.is_none() && h.refresh_token.is_none());
    }

    #[test]
    fn connected_gives_the_expiry_for_a_countdown_and_the_refresh_token_age() {
        let h = health(
            &integration(Some(connected(Some(3 * DAY)))),
            None,
            true,
            false,
            NOW,
        );
        assert_eq!(h.state, HealthState::Connected);
        assert_eq!(h.expires_at, Some(NOW + 1800));
        let age = h.refresh_token.unwrap();
        assert_eq!((age.days_since, age.expires_in_days), (3, 87));
        assert!(!age.warning);
        assert!(
            age.text
                .starts_with("Last refreshed 3 days ago; expires in about 87 days unless used"),
            "{}",
            age.text
        );
        assert!(
            !age.text.contains("365"),
            "a young consent does not mention 2022's limit"
        );
    }

    #[test]
    fn before_any_refresh_the_age_counts_from_the_consent() {
        let h = health(&integration(Some(connected(None))), None, true, false, NOW);
        assert_eq!(h.refresh_token.unwrap().days_since, 20);
    }

    #[test]
    fn a_custom_provider_gets_no_atlassian_age() {
        let h = health(&integration(Some(connected(None))), None, false, false, NOW);
        assert_eq!(h.state, HealthState::Connected);
        assert!(h.refresh_token.is_none());
    }

    #[test]
    fn a_failing_background_refresh_gives_the_next_try() {
        let h = health(
            &integration(Some(connected(None))),
            Some((2, NOW + 60)),
            true,
            false,
            NOW,
        );
        assert_eq!(h.state, HealthState::RefreshFailing);
        assert_eq!(h.next_retry_at, Some(NOW + 60));
        assert!(h.detail.unwrap().contains("2 times"));
    }

    #[test]
    fn a_service_account_says_its_token_is_fetched_again_not_to_authorize() {
        let mut c = connected(None);
        c.has_refresh_token = false;
        let h = health(&integration(Some(c)), None, true, true, NOW);
        assert_eq!(h.state, HealthState::Connected);
        assert!(h
            .detail
            .unwrap()
            .contains("fetched with its client ID and secret"));
        assert!(h.refresh_token.is_none());
    }

    #[test]
    fn needs_reconnect_gives_the_reason() {
        let mut c = connected(None);
        c.state = ConnectionState::NeedsReconnect;
        c.reason = Some("revoked".into());
        let h = health(&integration(Some(c)), Some((1, NOW)), true, false, NOW);
        assert_eq!(h.state, HealthState::NeedsReconnect);
        assert_eq!(h.detail.as_deref(), Some("revoked"));
    }

    #[test]
    fn handed_off_says_where_and_when() {
        let mut i = integration(Some(connected(None)));
        i.handed_off = Some(HandOff {
            to: "nango".into(),
            base_url: "https://api.nango.dev".into(),
            connection_id: "conn-1".into(),
            at: NOW - 10,
        });
        let h = health(&i, None, true, false, NOW);
        assert_eq!(h.state, HealthState::HandedOff);
        assert_eq!(h.handed_off.unwrap().at, NOW - 10);
        assert!(h.detail.unwrap().contains("https://api.nango.dev"));
        assert!(h.refresh_token.is_none());
    }

    #[test]
    fn the_warning_starts_fourteen_days_before_the_ninety() {
        let at = |days_ago: i64, extra: i64| {
            refresh_token_age(NOW - days_ago * DAY - extra, NOW - 100 * DAY, NOW)
        };
        let before = at(75, 0); // 15 days left
        assert!(
            !at(75, 1).warning,
            "a second over 75 days: still more than 14 days left"
        );
        assert!(!before.warning);
        assert_eq!(before.expires_in_days, 15);
        let boundary = at(76, 0); // exactly 14 days left
        assert!(boundary.warning);
        assert_eq!(boundary.expires_in_days, 14);
        assert!(at(76, 1).warning);
        let gone = at(91, 0);
        assert!(gone.warning);
        assert_eq!(gone.expires_in_days, 0);
        assert!(gone.text.contains("probably expired"));
    }

    #[test]
    fn the_2022_absolute_limit_is_only_mentioned_as_not_established() {
        let age = refresh_token_age(NOW - DAY, NOW - 360 * DAY, NOW);
        assert!(
            age.text.contains("Atlassian stated in 2022"),
            "{}",
            age.text
        );
        assert!(age.text.contains("not established"));
    }
}
