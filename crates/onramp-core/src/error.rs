//! One error type for the engine, and its translation into words a newcomer understands (`UiError`).
//!
//! Messages never contain a token or secret: variants only carry provider error codes, descriptions,
//! status codes and response bodies from endpoints that do not echo credentials.

use crate::model::{ErrorCode, UiError};

#[derive(Debug, thiserror::Error)]
pub enum OnrampError {
    #[error("catalog data file is invalid: {0}")]
    Catalog(String),
    #[error("unknown provider {0}")]
    UnknownProvider(String),
    #[error("unknown integration {0}")]
    UnknownIntegration(String),
    #[error("the sandbox is not running")]
    SandboxNotRunning,
    #[error("{field}: {problem}")]
    InvalidInput { field: String, problem: String },
    #[error("settings file {path}: {problem}")]
    Settings { path: String, problem: String },
    /// The database refused a write (read-only, disk full, I/O); nothing was changed.
    #[error("could not write {path}: {problem}")]
    StoreWrite { path: String, problem: String },
    #[error("keychain unavailable: {0}")]
    KeychainUnavailable(String),
    #[error("keychain error: {0}")]
    Keychain(String),
    /// A refresh succeeded (the provider retired the old refresh token) but the keychain refused
    /// the new tokens; the engine holds them in memory until a later attempt saves them.
    #[error("refreshed tokens not saved: {0}")]
    TokensNotSaved(String),
    #[error("no client secret stored")]
    ClientSecretMissing,
    #[error("callback state does not match a pending authorization")]
    StateMismatch,
    #[error("the authorization expired")]
    FlowExpired,
    #[error("callback URL is malformed: {0}")]
    CallbackMalformed(String),
    #[error("authorization refused: {error}")]
    AuthorizationRefused {
        error: String,
        description: Option<String>,
    },
    #[error("token endpoint answered {status:?}: {error}")]
    TokenEndpoint {
        status: Option<u16>,
        error: String,
        description: Option<String>,
        /// Who answered, named in the message.
        server: crate::oauth_error::Server,
    },
    /// The preflight before authorizing: the token endpoint refused the client ID and secret, so
    /// the browser was not opened.
    #[error("the provider rejected the client credentials")]
    CredentialsRejected(Box<crate::preflight::ProbeOutcome>),
    #[error("network error: {0}")]
    Network(String),
    /// No answer within the HTTP timeout; the string names the step ("the token endpoint").
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// The token endpoint refused a service account's client credentials (`oauth_error::service_account_refusal`).
    #[error("the service account's credential was refused ({error})")]
    ServiceAccountRefused { status: Option<u16>, error: String },
    /// The connection closed after the request was sent, before an answer: the server crashed or
    /// restarted mid-request. The first string names the step ("the token endpoint"), the second
    /// is the cause as the HTTP client reports it.
    #[error("{0} closed the connection before answering ({1})")]
    ConnectionLost(String, String),
    /// The system browser could not be opened (the authorize URL, a documentation link).
    #[error("the system browser could not be opened: {0}")]
    BrowserUnavailable(String),
    #[error("port {0} is in use")]
    PortInUse(u16),
    #[error("not connected")]
    NotConnected,
    #[error("needs reconnect: {0}")]
    NeedsReconnect(String),
    #[error("no site selected")]
    NoSiteSelected,
    #[error("unknown test call {0}")]
    UnknownTestCall(String),
    #[error("unexpected response {status}")]
    UnexpectedResponse { status: u16, body: String },
    /// A push to Nango failed (`crate::nango::errors`: what each answer means).
    #[error("Nango push failed (HTTP {status:?}): {problem:?}")]
    Nango {
        status: Option<u16>,
        problem: crate::nango::NangoProblem,
    },
    /// The connection was handed off to Nango: Onramp no longer refreshes it.
    #[error("handed off to {to} at {base_url}")]
    HandedOff { to: String, base_url: String },
    /// Onramp itself failed (e.g. a background task panicked or was cancelled): a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OnrampError {
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        OnrampError::InvalidInput {
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    /// Whether the saved connection can no longer be used and the user must authorize again.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, OnrampError::NeedsReconnect(_))
            || matches!(self, OnrampError::TokenEndpoint { error, .. } if error == "invalid_grant")
    }

    /// In words, naming an unknown provider "the provider"; prefer [`Self::to_ui_from`] where the
    /// provider is known (a token endpoint error always names its own).
    pub fn to_ui(&self) -> UiError {
        self.to_ui_from(&crate::oauth_error::Server::unknown())
    }

    /// In words, naming `server` (the provider the user chose) where a provider's answer is told.
    pub fn to_ui_from(&self, server: &crate::oauth_error::Server) -> UiError {
        use crate::oauth_error::{explain, Endpoint};
        let (code, title, detail, hint): (ErrorCode, String, String, Option<String>) = match self {
            OnrampError::Catalog(m) => (
                ErrorCode::Catalog,
                "Onramp's provider catalog is broken".into(),
                m.clone(),
                Some("This is a bug in Onramp; please report it.".into()),
            ),
            OnrampError::UnknownProvider(id) => (
                ErrorCode::UnknownProvider,
                "Unknown provider".into(),
                format!("Onramp has no provider called \"{id}\"."),
                Some("Pick a provider from the list in step 1.".into()),
            ),
            OnrampError::UnknownIntegration(id) => (
                ErrorCode::UnknownIntegration,
                "This integration no longer exists".into(),
                format!("No saved integration has the id {id}."),
                Some("Start again from step 1.".into()),
            ),
            OnrampError::SandboxNotRunning => (
                ErrorCode::SandboxNotRunning,
                "The sandbox is not running".into(),
                "Onramp could not start its local sandbox server.".into(),
                Some("Check the app log, or pick a real provider.".into()),
            ),
            OnrampError::InvalidInput { field, problem } => (
                ErrorCode::InvalidInput,
                format!("Check the {field}"),
                problem.clone(),
                None,
            ),
            OnrampError::Settings { path, problem } => (
                ErrorCode::Settings,
                "Onramp could not use its saved data".into(),
                format!("{path}: {problem}"),
                Some("The file was left as it is. Fix or move it, then restart Onramp.".into()),
            ),
            OnrampError::StoreWrite { path, problem } => (
                ErrorCode::StoreWriteFailed,
                "Onramp could not save this change".into(),
                format!("Writing to {path} failed ({problem}). The change was not saved; everything saved before is as it was."),
                Some("Free some disk space, or make the file and its folder writable again, then try again. Onramp keeps running meanwhile.".into()),
            ),
            OnrampError::KeychainUnavailable(m) => (
                ErrorCode::KeychainUnavailable,
                "The OS keychain is not available".into(),
                format!("Onramp keeps client secrets and tokens only in the OS keychain, and it could not reach it: {m}"),
                Some("On Linux, start and unlock a Secret Service provider (GNOME Keyring or KWallet), then try again. Nothing was written in plain text.".into()),
            ),
            OnrampError::Keychain(m) => (
                ErrorCode::Keychain,
                "The OS keychain refused the request".into(),
                m.clone(),
                Some("Unlock your keychain (it may be locked), then try again.".into()),
            ),
            OnrampError::ClientSecretMissing => (
                ErrorCode::ClientSecretMissing,
                "No client secret stored".into(),
                format!("{} needs the app's client secret to exchange the code and to refresh tokens.", server.subject()),
                Some(if server.is_atlassian() {
                    "Paste the secret from the developer console's Settings page in step 2.".into()
                } else {
                    format!("Paste the secret from {} in step 2.", server.client_settings())
                }),
            ),
            OnrampError::StateMismatch => (
                ErrorCode::StateMismatch,
                "This callback does not belong to an authorization in progress".into(),
                "The callback's state value does not match any authorization Onramp is waiting for: it was already used, it is from an older attempt, or Onramp was restarted after the browser opened. It was ignored.".into(),
                Some("Start the authorization again from step 4 and use the newest browser tab.".into()),
            ),
            OnrampError::FlowExpired => (
                ErrorCode::FlowExpired,
                "The authorization took too long".into(),
                "Onramp waits 10 minutes for the browser to come back; this one expired.".into(),
                Some("Click Authorize again.".into()),
            ),
            OnrampError::CallbackMalformed(m) => (
                ErrorCode::CallbackMalformed,
                "The callback could not be read".into(),
                m.clone(),
                Some("Start the authorization again from step 4.".into()),
            ),
            OnrampError::AuthorizationRefused { error, description } => explain(
                server,
                Endpoint::Authorize,
                error,
                description.as_deref(),
                None,
            ),
            OnrampError::TokenEndpoint {
                status,
                error,
                description,
                server,
            } => explain(server, Endpoint::Token, error, description.as_deref(), *status),
            OnrampError::CredentialsRejected(outcome) => (
                ErrorCode::CredentialsRejected,
                outcome.summary.clone(),
                format!(
                    "Onramp checked the credentials at the token endpoint before opening the browser. {} The browser was not opened.",
                    outcome.proves
                ),
                outcome.hint.clone(),
            ),
            OnrampError::Network(m) => (
                ErrorCode::Network,
                "Could not reach the provider".into(),
                m.clone(),
                Some("Check your network connection and try again.".into()),
            ),
            OnrampError::TokensNotSaved(cause) => (
                ErrorCode::TokensNotSaved,
                "The keychain is locked: the new tokens are not saved yet".into(),
                format!("The provider issued a new refresh token and retired the old one, but the keychain did not take it ({cause}). Onramp holds the new tokens in memory and saves them at the next attempt; every saved integration is kept."),
                Some("Unlock the keychain (or start it), then click Refresh now. Do not quit Onramp before that: the new refresh token would be lost and this connection would need authorizing again.".into()),
            ),
            OnrampError::Timeout(step) => (
                ErrorCode::Timeout,
                format!("No answer from {step} in time"),
                format!("Onramp stopped waiting for {step} after its time limit. Nothing was changed: your saved integrations, tokens and settings are as they were."),
                Some("The server may be slow or down, or a proxy may be holding the request. Try again in a minute.".into()),
            ),
            OnrampError::ServiceAccountRefused { status, error } if error == "invalid_scope" => (
                ErrorCode::ServiceAccountRefused,
                "The token endpoint refused the scope parameter".into(),
                format!("The token endpoint answered {}invalid_scope to the service account's token request. A service account's scopes are the ones chosen when its credential was created; Onramp sends no scope parameter, so this answer comes from the server's own rules.", status.map(|s| format!("HTTP {s} ")).unwrap_or_default()),
                Some("Check the credential's scopes in admin.atlassian.com (Directory → Service accounts); to change them, create a new credential.".into()),
            ),
            OnrampError::ServiceAccountRefused { status, error } => (
                ErrorCode::ServiceAccountRefused,
                "The service account's credential was refused".into(),
                format!("The token endpoint answered {}{error} to the client ID and secret. The secret is wrong (it is shown only once, when the credential is created), the client ID belongs to another credential, or an admin revoked the credential.", status.map(|s| format!("HTTP {s} ")).unwrap_or_default()),
                Some("Paste the client ID and secret again from the credential you created. If the secret is lost or the credential was revoked, create a new OAuth 2.0 credential on the service account in admin.atlassian.com (Directory → Service accounts).".into()),
            ),
            OnrampError::ConnectionLost(step, cause) => (
                ErrorCode::ConnectionLost,
                format!("The connection to {step} closed before it answered"),
                format!("Onramp's request reached {step}, then the connection closed without an answer ({cause}). The server may have crashed or restarted in the middle of it. Nothing was saved: your integrations, tokens and settings are as they were."),
                Some("Try again once the server is back. If this was the code exchange, authorize again: the authorization code may already be used.".into()),
            ),
            OnrampError::BrowserUnavailable(m) => (
                ErrorCode::BrowserUnavailable,
                "The system browser could not be opened".into(),
                m.clone(),
                Some("Copy the URL into a browser yourself.".into()),
            ),
            OnrampError::PortInUse(port) => (
                ErrorCode::PortInUse,
                format!("Port {port} is already in use"),
                format!("Onramp could not listen on 127.0.0.1:{port} for the callback: another program uses that port."),
                Some("Close the other program, or pick another port in step 2 and update the callback URL in the developer console to match.".into()),
            ),
            OnrampError::NotConnected => (
                ErrorCode::NotConnected,
                "Not connected yet".into(),
                "There is no token for this integration.".into(),
                Some("Authorize in step 4 first.".into()),
            ),
            OnrampError::NeedsReconnect(reason) => (
                ErrorCode::NeedsReconnect,
                "This connection needs to be authorized again".into(),
                reason.clone(),
                Some("Authorize again in step 4; the rest of the integration is kept.".into()),
            ),
            OnrampError::NoSiteSelected => (
                ErrorCode::NoSite,
                "No site selected".into(),
                "Jira and Confluence calls go to a site (cloudId); none is selected.".into(),
                Some("Pick a site in step 5.".into()),
            ),
            OnrampError::UnknownTestCall(id) => (
                ErrorCode::UnknownTestCall,
                "Unknown test call".into(),
                format!("This provider has no test call \"{id}\"."),
                None,
            ),
            OnrampError::UnexpectedResponse { status, body } => (
                ErrorCode::UnexpectedResponse,
                format!("Unexpected response (HTTP {status})"),
                truncate(body, 2000),
                None,
            ),
            OnrampError::Nango { status, problem } => crate::nango::errors::words(*status, problem),
            OnrampError::HandedOff { to, base_url } => (
                ErrorCode::HandedOff,
                "This connection was handed off".into(),
                format!("Onramp pushed this connection to {to} ({base_url}) and deleted its own refresh token, because Atlassian lets only one party refresh. Onramp can use the access token until it expires, but no longer refreshes it."),
                Some("Use the connection through Nango, or authorize again in step 4 to give Onramp a connection of its own.".into()),
            ),
            OnrampError::Internal(m) => (
                ErrorCode::Internal,
                "Onramp hit an internal error".into(),
                m.clone(),
                Some("This is a bug in Onramp; please report it.".into()),
            ),
        };
        // Which form field is wrong, for the UI to mark it (the title says it in words).
        let facts = match self {
            OnrampError::InvalidInput { field, .. } => vec![crate::model::KeyValue {
                key: "field".into(),
                value: field.clone(),
            }],
            OnrampError::CredentialsRejected(outcome) => outcome
                .observed
                .iter()
                .map(|o| crate::model::KeyValue {
                    key: "The token endpoint answered".into(),
                    value: o.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        UiError {
            code,
            title,
            detail,
            hint,
            facts,
        }
    }
}

impl From<OnrampError> for UiError {
    fn from(e: OnrampError) -> Self {
        e.to_ui()
    }
}

/// At most `max` bytes of `s` (cut at a character boundary), with "…" when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_callback_is_explained() {
        let ui = OnrampError::AuthorizationRefused {
            error: "access_denied".into(),
            description: Some("User did not authorize the request".into()),
        }
        .to_ui();
        assert_eq!(ui.code, ErrorCode::AccessDenied);
        assert!(ui.detail.contains("Cancel"));
        assert!(
            ui.detail.starts_with("The provider answered"),
            "{}",
            ui.detail
        );
        assert!(ui.detail.contains("User did not authorize the request"));
    }

    fn atlassian() -> crate::oauth_error::Server {
        crate::oauth_error::Server {
            name: "Atlassian".into(),
            kind: crate::oauth_error::ServerKind::Atlassian,
        }
    }

    #[test]
    fn a_custom_providers_errors_name_it_and_never_atlassian() {
        let keycloak = crate::oauth_error::Server {
            name: "Keycloak".into(),
            kind: crate::oauth_error::ServerKind::OpenId,
        };
        let refused = OnrampError::TokenEndpoint {
            status: Some(400),
            error: "invalid_grant".into(),
            description: Some("Token is not active".into()),
            server: keycloak.clone(),
        }
        .to_ui();
        assert!(refused.title.contains("Keycloak") && refused.detail.contains("Keycloak"));
        let denied = OnrampError::AuthorizationRefused {
            error: "invalid_scope".into(),
            description: None,
        }
        .to_ui_from(&keycloak);
        let secret = OnrampError::ClientSecretMissing.to_ui_from(&keycloak);
        for ui in [refused, denied, secret] {
            let all = format!("{} {} {}", ui.title, ui.detail, ui.hint.unwrap_or_default());
            assert!(
                !all.contains("Atlassian") && !all.contains("developer console"),
                "{all}"
            );
        }
    }

    #[test]
    fn token_errors_map_to_distinct_explanations() {
        let wrong_secret = OnrampError::TokenEndpoint {
            status: Some(401),
            error: "access_denied".into(),
            description: Some("Unauthorized".into()),
            server: atlassian(),
        };
        assert_eq!(wrong_secret.to_ui().code, ErrorCode::TokenUnauthorized);
        assert!(wrong_secret.to_ui().detail.contains("HTTP 401"));

        let stale_code = OnrampError::TokenEndpoint {
            status: Some(400),
            error: "invalid_request".into(),
            description: Some("authorization_code is invalid".into()),
            server: atlassian(),
        };
        assert_eq!(stale_code.to_ui().code, ErrorCode::CodeInvalid);

        let dead_refresh = OnrampError::TokenEndpoint {
            status: Some(403),
            error: "invalid_grant".into(),
            description: Some("Unknown or invalid refresh token.".into()),
            server: atlassian(),
        };
        assert_eq!(dead_refresh.to_ui().code, ErrorCode::RefreshTokenInvalid);
        assert!(dead_refresh.needs_reconnect());

        let mismatch = OnrampError::TokenEndpoint {
            status: Some(403),
            error: "invalid_grant".into(),
            description: Some("Invalid authorization code".into()),
            server: atlassian(),
        };
        assert_eq!(mismatch.to_ui().code, ErrorCode::InvalidGrant);

        let other = OnrampError::TokenEndpoint {
            status: Some(500),
            error: "server_error".into(),
            description: None,
            server: atlassian(),
        };
        let ui = other.to_ui();
        assert_eq!(ui.code, ErrorCode::ServerError);
        assert!(ui.detail.contains("HTTP 500") && ui.detail.contains("server_error"));
    }

    #[test]
    fn unknown_responses_keep_status_and_body() {
        let ui = OnrampError::UnexpectedResponse {
            status: 418,
            body: "teapot".into(),
        }
        .to_ui();
        assert!(ui.title.contains("418"));
        assert_eq!(ui.detail, "teapot");
    }

    #[test]
    fn a_browser_that_does_not_open_is_not_a_network_error() {
        let ui = OnrampError::BrowserUnavailable("no handler for https".into()).to_ui();
        assert_eq!(ui.code, ErrorCode::BrowserUnavailable);
        assert_eq!(ui.title, "The system browser could not be opened");
        assert_eq!(ui.detail, "no handler for https");
        assert!(ui.hint.unwrap().contains("Copy the URL into a browser"));
        let wire =
            serde_json::to_value(OnrampError::BrowserUnavailable("x".into()).to_ui()).unwrap();
        assert_eq!(wire["code"], "browser_unavailable");
    }

    #[test]
    fn internal_errors_say_they_are_bugs() {
        let ui = OnrampError::Internal("background task failed: task 7 panicked".into()).to_ui();
        assert_eq!(ui.code, ErrorCode::Internal);
        assert_eq!(ui.title, "Onramp hit an internal error");
        assert_eq!(ui.detail, "background task failed: task 7 panicked");
        assert_eq!(
            ui.hint.as_deref(),
            Some("This is a bug in Onramp; please report it.")
        );
        assert!(ui.facts.is_empty());
        let wire = serde_json::to_value(&ui).unwrap();
        assert_eq!(wire["code"], "internal");
    }
}
