//! Where an integration stands in the wizard: for each step, what still blocks going past it, and
//! whether the step does not apply to its provider. The UI shows these; it holds no rule of its own.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::{ConnectionState, Provider};
use crate::store::Integration;

/// The wizard's steps, in order; the same names as the engine's, commands' and UI's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum WizardStep {
    Providers,
    Registration,
    Scopes,
    Authorize,
    Sites,
    Requests,
    Handoff,
}

/// One step of one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    pub step: WizardStep,
    /// What must happen before going past this step, in words; `None` when it is done.
    pub blocker: Option<String>,
    /// The step does not apply to this provider (no sites to pick); it counts as done.
    pub skipped: bool,
    /// The progress bar ticks it: nothing blocks it and the user has been through it (the suggested
    /// scopes are not "done" until the user goes past step 3; a test call is done once one ran; the
    /// hand-off once handed off).
    pub done: bool,
}

/// Every step's status, in wizard order. `provider` is `None` when the integration's provider is
/// gone (a deleted custom provider): steps that need it stay blocked.
pub fn statuses(integration: &Integration, provider: Option<&Provider>) -> Vec<StepStatus> {
    let connected = integration
        .connection
        .as_ref()
        .map(|c| c.state == ConnectionState::Connected);
    let has_sites = provider.is_some_and(|p| p.has_sites);
    let blocked = |reason: &str| Some(reason.to_string());
    let status = |step, blocker: Option<String>, skipped| StepStatus {
        step,
        done: skipped || blocker.is_none(),
        blocker,
        skipped,
    };
    let until = |mut s: StepStatus, been_through: bool| {
        s.done &= been_through;
        s
    };
    vec![
        status(WizardStep::Providers, None, false),
        status(
            WizardStep::Registration,
            if integration.client_id.is_empty() {
                blocked("Save the client ID and secret first")
            } else if !integration.has_client_secret {
                blocked("Save the client secret first")
            } else {
                None
            },
            false,
        ),
        until(
            status(
                WizardStep::Scopes,
                if integration.scopes.is_empty() {
                    blocked("Choose at least one scope")
                } else {
                    None
                },
                false,
            ),
            integration.scopes_reviewed || integration.connection.is_some(),
        ),
        status(
            WizardStep::Authorize,
            match connected {
                Some(true) => None,
                Some(false) => blocked("Reconnect first"),
                None => blocked("Authorize first"),
            },
            false,
        ),
        status(
            WizardStep::Sites,
            if provider.is_some() && !has_sites {
                None
            } else if integration.site.is_none() {
                blocked("Pick a site")
            } else {
                None
            },
            provider.is_some() && !has_sites,
        ),
        // Test calls are optional: the hand-off comes next.
        until(
            status(WizardStep::Requests, None, false),
            !integration.history.is_empty(),
        ),
        StepStatus {
            done: integration.handed_off.is_some(),
            ..status(WizardStep::Handoff, blocked("This is the last step"), false)
        },
    ]
}

/// Where the integration stands: the first step something still blocks; a finished setup stands at
/// its requests (test calls), where the verified connection is used. The home opens the wizard there.
pub fn current_step(statuses: &[StepStatus]) -> WizardStep {
    // The last step's blocker only says that nothing comes after it: it is not a step to finish.
    let before_last = &statuses[..statuses.len().saturating_sub(1)];
    // Suggested scopes not yet looked at count as unfinished too.
    before_last
        .iter()
        .take_while(|s| s.step != WizardStep::Requests)
        .find(|s| !s.done)
        .map_or(WizardStep::Requests, |s| s.step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::model::{CallbackKind, CallbackSettings, Connection, Site};

    fn bare() -> Integration {
        Integration {
            id: "i".into(),
            name: "n".into(),
            provider_id: "atlassian".into(),
            client_id: String::new(),
            callback: CallbackSettings {
                kind: CallbackKind::Loopback,
                loopback_port: 47823,
            },
            scopes: vec![],
            console_done: vec![],
            site: None,
            connection: None,
            handed_off: None,
            has_client_secret: false,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn blockers(i: &Integration, p: Option<&Provider>) -> Vec<Option<String>> {
        statuses(i, p).into_iter().map(|s| s.blocker).collect()
    }

    #[test]
    fn each_step_names_what_blocks_it_until_done() {
        let atlassian = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        let mut i = bare();
        let b = blockers(&i, Some(&atlassian));
        assert_eq!(b[0], None);
        assert_eq!(b[1].as_deref(), Some("Save the client ID and secret first"));
        assert_eq!(b[2].as_deref(), Some("Choose at least one scope"));
        assert_eq!(b[3].as_deref(), Some("Authorize first"));
        assert_eq!(b[4].as_deref(), Some("Pick a site"));
        assert_eq!(b[5], None, "test calls are optional");

        i.client_id = "cid".into();
        assert_eq!(
            blockers(&i, Some(&atlassian))[1].as_deref(),
            Some("Save the client secret first")
        );
        i.has_client_secret = true;
        i.scopes = vec!["read:me".into()];
        i.connection = Some(Connection {
            state: ConnectionState::NeedsReconnect,
            connected_at: 0,
            expires_at: None,
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: None,
            last_refresh_at: None,
        });
        let b = blockers(&i, Some(&atlassian));
        assert_eq!((b[1].clone(), b[2].clone()), (None, None));
        assert_eq!(b[3].as_deref(), Some("Reconnect first"));
        i.connection.as_mut().unwrap().state = ConnectionState::Connected;
        i.site = Some(Site {
            id: "c".into(),
            name: "s".into(),
            url: "https://s.atlassian.net".into(),
            scopes: vec![],
            avatar_url: None,
            key: String::new(),
            products: Vec::new(),
        });
        let b = blockers(&i, Some(&atlassian));
        assert_eq!(b[..6], [None, None, None, None, None, None]);
        assert!(
            b[6].is_some(),
            "nothing comes after the hand-off, the last step"
        );
    }

    #[test]
    fn a_step_is_ticked_only_once_the_user_has_been_through_it() {
        let atlassian = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        let done = |i: &Integration| -> Vec<bool> {
            statuses(i, Some(&atlassian))
                .into_iter()
                .map(|s| s.done)
                .collect()
        };
        let mut i = bare();
        i.scopes = vec!["read:me".into()];
        assert!(!done(&i)[2], "suggested scopes are not a choice yet");
        assert_eq!(blockers(&i, Some(&atlassian))[2], None, "Next is possible");
        i.scopes_reviewed = true;
        assert!(done(&i)[2]);
        i.scopes_reviewed = false;
        i.connection = Some(Connection {
            state: ConnectionState::Connected,
            connected_at: 0,
            expires_at: None,
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: None,
            last_refresh_at: None,
        });
        assert!(done(&i)[2], "an authorization used the scopes");
        assert!(!done(&i)[5], "no test call ran yet");
        i.history.push(crate::model::HistoryEntry {
            at: 1,
            method: "GET".into(),
            path: "/me".into(),
            status: 200,
            elapsed_ms: 3,
            request: None,
        });
        assert!(done(&i)[5]);
        assert!(!done(&i)[6]);
        i.handed_off = Some(crate::model::HandOff {
            to: "nango".into(),
            base_url: "https://api.nango.dev".into(),
            connection_id: "c".into(),
            at: 1,
        });
        assert!(done(&i)[6]);
    }

    #[test]
    fn the_sites_step_is_skipped_for_providers_without_sites() {
        let mut custom = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        custom.has_sites = false;
        let sites = &statuses(&bare(), Some(&custom))[4];
        assert!(sites.skipped);
        assert_eq!(sites.blocker, None);
        let unknown = &statuses(&bare(), None)[4];
        assert!(!unknown.skipped, "a missing provider skips nothing");
    }

    #[test]
    fn an_integration_stands_at_its_first_blocked_step() {
        let atlassian = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        let mut i = bare();
        assert_eq!(
            current_step(&statuses(&i, Some(&atlassian))),
            WizardStep::Registration
        );
        i.client_id = "c".into();
        i.has_client_secret = true;
        i.scopes = vec!["read:me".into()];
        assert_eq!(
            current_step(&statuses(&i, Some(&atlassian))),
            WizardStep::Scopes,
            "suggested scopes the user has not looked at yet"
        );
        i.scopes_reviewed = true;
        assert_eq!(
            current_step(&statuses(&i, Some(&atlassian))),
            WizardStep::Authorize
        );
        i.connection = Some(Connection {
            state: ConnectionState::Connected,
            connected_at: 0,
            expires_at: None,
            granted_scopes: vec![],
            has_refresh_token: true,
            reason: None,
            token_lifetime: None,
            last_refresh_at: None,
        });
        assert_eq!(
            current_step(&statuses(&i, Some(&atlassian))),
            WizardStep::Sites
        );
        i.site = Some(Site {
            id: "s".into(),
            name: "s".into(),
            url: "https://s.atlassian.net".into(),
            scopes: vec![],
            avatar_url: None,
            key: String::new(),
            products: Vec::new(),
        });
        assert_eq!(
            current_step(&statuses(&i, Some(&atlassian))),
            WizardStep::Requests
        );
    }
}
