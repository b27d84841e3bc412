//! The machine-readable codes the UI receives: [`ErrorCode`] on every `UiError`, [`AdviceCode`] on
//! every scope warning. Both are exported to TypeScript as string unions, so a code the engine does
//! not make is a type error in the UI. The wire strings are part of the UI's contract (and of the
//! end-to-end tests' `data-code` selectors): the tests below pin each one.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, as a stable code. The words for people are in `UiError`'s title, detail and
/// hint; the UI compares codes only to pick a behaviour (e.g. mark a form field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Made by `OnrampError::to_ui`.
    Catalog,
    UnknownProvider,
    UnknownIntegration,
    SandboxNotRunning,
    InvalidInput,
    Settings,
    /// The database refused a write (read-only, disk full, I/O).
    StoreWriteFailed,
    KeychainUnavailable,
    Keychain,
    /// Rotated tokens the keychain refused, held in memory until it takes them.
    TokensNotSaved,
    ClientSecretMissing,
    StateMismatch,
    FlowExpired,
    CallbackMalformed,
    /// Refused at the consent screen; also recognised in browser text.
    AccessDenied,
    AuthorizationRefused,
    TokenUnauthorized,
    /// The preflight before authorizing: the token endpoint refused the client ID and secret.
    CredentialsRejected,
    CodeInvalid,
    RefreshTokenInvalid,
    /// Also recognised in browser text.
    InvalidGrant,
    TokenError,
    Network,
    /// A network step sent no answer within the engine's HTTP timeout.
    Timeout,
    /// The server took the request and closed the connection before answering (crashed, restarted).
    ConnectionLost,
    /// A service account's client credentials were refused (wrong, unknown or revoked).
    ServiceAccountRefused,
    BrowserUnavailable,
    PortInUse,
    NotConnected,
    NeedsReconnect,
    NoSite,
    UnknownTestCall,
    UnexpectedResponse,
    Internal,
    // Made by `nango::errors::words` (a push to Nango) and `OnrampError::HandedOff`.
    NangoKeyMissing,
    NangoKeyRejected,
    NangoKeyScope,
    NangoUnreachable,
    NangoRouteMissing,
    NangoProviderUnknown,
    NangoProviderMismatch,
    NangoIntegrationExists,
    NangoIntegrationMissing,
    NangoInvalidBody,
    NangoConnectionLimit,
    NangoRateLimited,
    NangoServerError,
    NangoCloudIdMismatch,
    NangoNoExpiry,
    NangoNoRefreshToken,
    NangoError,
    HandedOff,
    // Made by `diagnosis::for_response` (a non-2xx API answer).
    ScopeMismatch,
    Unauthorized,
    Forbidden,
    NotFound,
    EndpointRemoved,
    RateLimited,
    ServerError,
    HttpError,
    // Made by `diagnosis::for_browser_text` (an error copied from the browser).
    RedirectUriNotRegistered,
    UnauthorizedClient,
    AdminApprovalRequired,
    ProductAccessMissing,
    ScopesNotAdded,
    /// Browser text that matches nothing Onramp knows.
    Unknown,
    // Made only by the UI.
    /// A rejection that was not a `UiError` (Tauri plumbing, a JS exception): `toUiError`.
    Unexpected,
    /// An authorization reported as failed without an error attached.
    AuthFailed,
}

impl ErrorCode {
    /// The wire string (what serde writes and the UI compares).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Catalog => "catalog",
            ErrorCode::UnknownProvider => "unknown_provider",
            ErrorCode::UnknownIntegration => "unknown_integration",
            ErrorCode::SandboxNotRunning => "sandbox_not_running",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Settings => "settings",
            ErrorCode::StoreWriteFailed => "store_write_failed",
            ErrorCode::KeychainUnavailable => "keychain_unavailable",
            ErrorCode::Keychain => "keychain",
            ErrorCode::TokensNotSaved => "tokens_not_saved",
            ErrorCode::ClientSecretMissing => "client_secret_missing",
            ErrorCode::StateMismatch => "state_mismatch",
            ErrorCode::FlowExpired => "flow_expired",
            ErrorCode::CallbackMalformed => "callback_malformed",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::AuthorizationRefused => "authorization_refused",
            ErrorCode::TokenUnauthorized => "token_unauthorized",
            ErrorCode::CredentialsRejected => "credentials_rejected",
            ErrorCode::CodeInvalid => "code_invalid",
            ErrorCode::RefreshTokenInvalid => "refresh_token_invalid",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::TokenError => "token_error",
            ErrorCode::Network => "network",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ConnectionLost => "connection_lost",
            ErrorCode::ServiceAccountRefused => "service_account_refused",
            ErrorCode::BrowserUnavailable => "browser_unavailable",
            ErrorCode::PortInUse => "port_in_use",
            ErrorCode::NotConnected => "not_connected",
            ErrorCode::NeedsReconnect => "needs_reconnect",
            ErrorCode::NoSite => "no_site",
            ErrorCode::UnknownTestCall => "unknown_test_call",
            ErrorCode::UnexpectedResponse => "unexpected_response",
            ErrorCode::Internal => "internal",
            ErrorCode::NangoKeyMissing => "nango_key_missing",
            ErrorCode::NangoKeyRejected => "nango_key_rejected",
            ErrorCode::NangoKeyScope => "nango_key_scope",
            ErrorCode::NangoUnreachable => "nango_unreachable",
            ErrorCode::NangoRouteMissing => "nango_route_missing",
            ErrorCode::NangoProviderUnknown => "nango_provider_unknown",
            ErrorCode::NangoProviderMismatch => "nango_provider_mismatch",
            ErrorCode::NangoIntegrationExists => "nango_integration_exists",
            ErrorCode::NangoIntegrationMissing => "nango_integration_missing",
            ErrorCode::NangoInvalidBody => "nango_invalid_body",
            ErrorCode::NangoConnectionLimit => "nango_connection_limit",
            ErrorCode::NangoRateLimited => "nango_rate_limited",
            ErrorCode::NangoServerError => "nango_server_error",
            ErrorCode::NangoCloudIdMismatch => "nango_cloud_id_mismatch",
            ErrorCode::NangoNoExpiry => "nango_no_expiry",
            ErrorCode::NangoNoRefreshToken => "nango_no_refresh_token",
            ErrorCode::NangoError => "nango_error",
            ErrorCode::HandedOff => "handed_off",
            ErrorCode::ScopeMismatch => "scope_mismatch",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::EndpointRemoved => "endpoint_removed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerError => "server_error",
            ErrorCode::HttpError => "http_error",
            ErrorCode::RedirectUriNotRegistered => "redirect_uri_not_registered",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::AdminApprovalRequired => "admin_approval_required",
            ErrorCode::ProductAccessMissing => "product_access_missing",
            ErrorCode::ScopesNotAdded => "scopes_not_added",
            ErrorCode::Unknown => "unknown",
            ErrorCode::Unexpected => "unexpected",
            ErrorCode::AuthFailed => "auth_failed",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with a wire string, for code that still spells codes out (logs, older tests). A
/// misspelt string equals no code, so such a comparison fails rather than passes by accident;
/// prefer comparing with a variant.
impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a scope warning (`ScopeWarning`, made by `scopes::advise`) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AdviceCode {
    /// Atlassian without `offline_access`: no refresh token.
    OfflineAccessMissing,
    /// More scopes than Atlassian recommends per app.
    TooManyScopes,
    /// Scopes not in the catalog (misspelt, or of another provider).
    UnknownScopes,
    /// Only classic Confluence scopes, which Confluence's v2 API rejects.
    ConfluenceV2NeedsGranular,
    /// `read:me` needs the User Identity API on the app.
    UserIdentityApi,
    /// Scopes that write, delete or manage.
    ChangesData,
}

impl AdviceCode {
    /// The wire string (what serde writes and the UI compares).
    pub fn as_str(self) -> &'static str {
        match self {
            AdviceCode::OfflineAccessMissing => "offline_access_missing",
            AdviceCode::TooManyScopes => "too_many_scopes",
            AdviceCode::UnknownScopes => "unknown_scopes",
            AdviceCode::ConfluenceV2NeedsGranular => "confluence_v2_needs_granular",
            AdviceCode::UserIdentityApi => "user_identity_api",
            AdviceCode::ChangesData => "changes_data",
        }
    }
}

impl std::fmt::Display for AdviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use std::collections::BTreeSet;
    use std::fmt::{Debug, Display};
    use ts_rs::Config;

    /// The wire strings as they were when codes were free strings. Spelt out here on purpose: a
    /// renamed variant, a changed `rename_all` or an edited `as_str` fails these tests.
    const ERROR_WIRE: &[(ErrorCode, &str)] = &[
        (ErrorCode::Catalog, "catalog"),
        (ErrorCode::UnknownProvider, "unknown_provider"),
        (ErrorCode::UnknownIntegration, "unknown_integration"),
        (ErrorCode::SandboxNotRunning, "sandbox_not_running"),
        (ErrorCode::InvalidInput, "invalid_input"),
        (ErrorCode::Settings, "settings"),
        (ErrorCode::StoreWriteFailed, "store_write_failed"),
        (ErrorCode::KeychainUnavailable, "keychain_unavailable"),
        (ErrorCode::Keychain, "keychain"),
        (ErrorCode::TokensNotSaved, "tokens_not_saved"),
        (ErrorCode::ClientSecretMissing, "client_secret_missing"),
        (ErrorCode::StateMismatch, "state_mismatch"),
        (ErrorCode::FlowExpired, "flow_expired"),
        (ErrorCode::CallbackMalformed, "callback_malformed"),
        (ErrorCode::AccessDenied, "access_denied"),
        (ErrorCode::AuthorizationRefused, "authorization_refused"),
        (ErrorCode::TokenUnauthorized, "token_unauthorized"),
        (ErrorCode::CredentialsRejected, "credentials_rejected"),
        (ErrorCode::CodeInvalid, "code_invalid"),
        (ErrorCode::RefreshTokenInvalid, "refresh_token_invalid"),
        (ErrorCode::InvalidGrant, "invalid_grant"),
        (ErrorCode::TokenError, "token_error"),
        (ErrorCode::Network, "network"),
        (ErrorCode::Timeout, "timeout"),
        (ErrorCode::ConnectionLost, "connection_lost"),
        (ErrorCode::ServiceAccountRefused, "service_account_refused"),
        (ErrorCode::BrowserUnavailable, "browser_unavailable"),
        (ErrorCode::PortInUse, "port_in_use"),
        (ErrorCode::NotConnected, "not_connected"),
        (ErrorCode::NeedsReconnect, "needs_reconnect"),
        (ErrorCode::NoSite, "no_site"),
        (ErrorCode::UnknownTestCall, "unknown_test_call"),
        (ErrorCode::UnexpectedResponse, "unexpected_response"),
        (ErrorCode::Internal, "internal"),
        (ErrorCode::NangoKeyMissing, "nango_key_missing"),
        (ErrorCode::NangoKeyRejected, "nango_key_rejected"),
        (ErrorCode::NangoKeyScope, "nango_key_scope"),
        (ErrorCode::NangoUnreachable, "nango_unreachable"),
        (ErrorCode::NangoRouteMissing, "nango_route_missing"),
        (ErrorCode::NangoProviderUnknown, "nango_provider_unknown"),
        (ErrorCode::NangoProviderMismatch, "nango_provider_mismatch"),
        (
            ErrorCode::NangoIntegrationExists,
            "nango_integration_exists",
        ),
        (
            ErrorCode::NangoIntegrationMissing,
            "nango_integration_missing",
        ),
        (ErrorCode::NangoInvalidBody, "nango_invalid_body"),
        (ErrorCode::NangoConnectionLimit, "nango_connection_limit"),
        (ErrorCode::NangoRateLimited, "nango_rate_limited"),
        (ErrorCode::NangoServerError, "nango_server_error"),
        (ErrorCode::NangoCloudIdMismatch, "nango_cloud_id_mismatch"),
        (ErrorCode::NangoNoExpiry, "nango_no_expiry"),
        (ErrorCode::NangoNoRefreshToken, "nango_no_refresh_token"),
        (ErrorCode::NangoError, "nango_error"),
        (ErrorCode::HandedOff, "handed_off"),
        (ErrorCode::ScopeMismatch, "scope_mismatch"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::EndpointRemoved, "endpoint_removed"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::ServerError, "server_error"),
        (ErrorCode::HttpError, "http_error"),
        (
            ErrorCode::RedirectUriNotRegistered,
            "redirect_uri_not_registered",
        ),
        (ErrorCode::UnauthorizedClient, "unauthorized_client"),
        (ErrorCode::AdminApprovalRequired, "admin_approval_required"),
        (ErrorCode::ProductAccessMissing, "product_access_missing"),
        (ErrorCode::ScopesNotAdded, "scopes_not_added"),
        (ErrorCode::Unknown, "unknown"),
        (ErrorCode::Unexpected, "unexpected"),
        (ErrorCode::AuthFailed, "auth_failed"),
    ];

    const ADVICE_WIRE: &[(AdviceCode, &str)] = &[
        (AdviceCode::OfflineAccessMissing, "offline_access_missing"),
        (AdviceCode::TooManyScopes, "too_many_scopes"),
        (AdviceCode::UnknownScopes, "unknown_scopes"),
        (
            AdviceCode::ConfluenceV2NeedsGranular,
            "confluence_v2_needs_granular",
        ),
        (AdviceCode::UserIdentityApi, "user_identity_api"),
        (AdviceCode::ChangesData, "changes_data"),
    ];

    /// Each listed code serializes to its wire string and back; the table lists every variant
    /// exactly once (checked against the union ts-rs derives from the serde attributes, which is
    /// what the UI sees).
    fn check<C>(table: &[(C, &str)], as_str: fn(C) -> &'static str)
    where
        C: Copy + PartialEq + Debug + Display + Serialize + DeserializeOwned + TS,
    {
        for &(code, wire) in table {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{wire}\""), "{code:?} serializes");
            assert_eq!(
                serde_json::from_str::<C>(&json).unwrap(),
                code,
                "{wire} deserializes"
            );
            assert_eq!(as_str(code), wire, "{code:?}.as_str()");
            assert_eq!(code.to_string(), wire, "{code:?} displays");
        }
        let listed: BTreeSet<String> = table.iter().map(|(_, w)| w.to_string()).collect();
        assert_eq!(listed.len(), table.len(), "a wire string is listed twice");
        let union: BTreeSet<String> = C::inline(&Config::default())
            .split('|')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect();
        assert_eq!(listed, union, "the table must list every variant");
        assert!(serde_json::from_str::<C>("\"no_such_code\"").is_err());
    }

    #[test]
    fn every_error_code_keeps_its_wire_string() {
        check(ERROR_WIRE, ErrorCode::as_str);
        assert!(ErrorCode::Forbidden == "forbidden");
        assert!(ErrorCode::Forbidden != "forbiden");
    }

    #[test]
    fn every_advice_code_keeps_its_wire_string() {
        check(ADVICE_WIRE, AdviceCode::as_str);
    }
}
