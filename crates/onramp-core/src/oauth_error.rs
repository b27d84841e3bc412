//! A provider's OAuth error in plain words, naming the provider the user chose: the standard error
//! codes of RFC 6749 (§4.1.2.1 at the authorize endpoint, §5.2 at the token endpoint) and OpenID
//! Connect Core 1.0 (§3.1.2.6), each with what it means and what to do. Advice that only holds for
//! Atlassian (its developer console, its known error texts, its refresh-token limits) is given only
//! for Atlassian providers.

use crate::error::OnrampError;
use crate::model::{Environment, ErrorCode, Provider};

/// Who answered: the provider the user chose, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// "Atlassian", "the sandbox", or a custom provider's display name.
    pub name: String,
    pub kind: ServerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Atlassian Cloud or Government Cloud (the catalog's real providers).
    Atlassian,
    /// Onramp's in-app sandbox (an Atlassian look-alike).
    Sandbox,
    /// A custom provider that speaks OpenID Connect (it lists the `openid` scope).
    OpenId,
    /// Any other custom OAuth 2.0 server.
    OAuth,
}

impl Server {
    pub fn of(provider: &Provider) -> Server {
        let kind = match provider.environment {
            Environment::Sandbox => ServerKind::Sandbox,
            Environment::Commercial | Environment::Government => ServerKind::Atlassian,
            Environment::Custom if provider.scopes.iter().any(|s| s.name == "openid") => {
                ServerKind::OpenId
            }
            Environment::Custom => ServerKind::OAuth,
        };
        let name = match kind {
            ServerKind::Atlassian => "Atlassian".to_string(),
            ServerKind::Sandbox => "the sandbox".to_string(),
            _ if provider.display_name.trim().is_empty() => "the provider".to_string(),
            _ => provider.display_name.trim().to_string(),
        };
        Server { name, kind }
    }

    /// When the provider is not known (e.g. an error page pasted without an integration).
    pub fn unknown() -> Server {
        Server {
            name: "the provider".into(),
            kind: ServerKind::OAuth,
        }
    }

    pub fn is_atlassian(&self) -> bool {
        self.kind == ServerKind::Atlassian
    }

    /// The name at the start of a sentence: "The sandbox", "The provider"; a provider's own name
    /// ("oidc-provider", "Keycloak") is kept exactly as the user wrote it.
    pub fn subject(&self) -> String {
        match self.name.strip_prefix("the ") {
            Some(rest) => format!("The {rest}"),
            None => self.name.clone(),
        }
    }

    /// Where the client (ID, secret, callback URL, allowed scopes and grants) is configured.
    pub fn client_settings(&self) -> String {
        match self.kind {
            ServerKind::Atlassian => {
                "the developer console (developer.atlassian.com → your app)".into()
            }
            ServerKind::Sandbox => "the sandbox app page (step 2)".into(),
            _ => format!("{}'s client settings (its admin console)", self.name),
        }
    }
}

/// Where an OAuth error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The redirect back from the authorize endpoint (`error=` on the callback).
    Authorize,
    /// The token endpoint (code exchange or refresh).
    Token,
}

/// Code, title, detail and hint for a provider's OAuth error.
pub type Words = (ErrorCode, String, String, Option<String>);

/// Explains `error` (with its description and HTTP status, as answered) from `server`.
/// A client-credentials token request the token endpoint refused (a service account): a wrong
/// secret, an unknown client or a revoked credential look alike from outside (401, or
/// `invalid_client`, `unauthorized_client`, `access_denied`), and a `scope` the endpoint does not
/// take is `invalid_scope`. Other errors pass through unchanged.
pub fn service_account_refusal(e: OnrampError) -> OnrampError {
    match e {
        OnrampError::TokenEndpoint { status, error, .. }
            if status == Some(401)
                || matches!(
                    error.as_str(),
                    "invalid_client" | "unauthorized_client" | "access_denied" | "invalid_scope"
                ) =>
        {
            OnrampError::ServiceAccountRefused { status, error }
        }
        other => other,
    }
}

pub fn explain(
    server: &Server,
    endpoint: Endpoint,
    error: &str,
    description: Option<&str>,
    status: Option<u16>,
) -> Words {
    let who = server.subject();
    let status_text = status.map(|s| format!("HTTP {s}, ")).unwrap_or_default();
    let raw = format!(
        "{status_text}{error}{}",
        description.map(|d| format!(": {d}")).unwrap_or_default()
    );
    let answered = format!("{who} answered {raw}.");
    let settings = server.client_settings();
    let again = "then authorize again in step 4";
    let words = |code, title: String, meaning: String, todo: String| -> Words {
        (code, title, format!("{answered} {meaning}"), Some(todo))
    };
    let desc_lower = description.unwrap_or_default().to_ascii_lowercase();
    match (endpoint, error) {
        (Endpoint::Authorize, "access_denied") => words(
            ErrorCode::AccessDenied,
            "Access was denied at the consent screen".into(),
            "Usually this means Cancel was clicked on the consent page.".into(),
            if server.is_atlassian() {
                "Click Authorize again and choose Accept. If you did accept, your site admin may have to allow the app.".into()
            } else {
                format!("Click Authorize again and choose Accept. If you did accept, {} may not let this user grant the app access: check the user's rights there.", server.name)
            },
        ),
        // Atlassian answers a wrong or missing client secret with access_denied (reference §9.1).
        (Endpoint::Token, "access_denied") | (_, "invalid_client") => words(
            ErrorCode::TokenUnauthorized,
            format!("{who} rejected the client credentials"),
            "The client secret is wrong or missing, the client ID belongs to another app, or the client authenticates in a way the server does not accept (HTTP Basic or the request body).".into(),
            format!("Copy the client ID and secret again from {settings} into step 2, {again}."),
        ),
        // Atlassian's text for a stale or reused code (reference §1.1).
        (Endpoint::Token, "invalid_request") if desc_lower.contains("authorization_code") => words(
            ErrorCode::CodeInvalid,
            "The authorization code was not accepted".into(),
            "Codes expire within minutes and work only once.".into(),
            "Authorize again; Onramp exchanges the new code at once.".into(),
        ),
        (_, "invalid_request") => words(
            ErrorCode::AuthorizationRefused,
            format!("{who} found the request malformed"),
            "A required parameter is missing, a value is not allowed, or a parameter is repeated. The description above names which.".into(),
            format!("Compare the extra parameters, scopes and callback URL with what {} expects, {again}.", server.name),
        ),
        (Endpoint::Token, "invalid_grant") if desc_lower.contains("refresh token") || desc_lower.contains("refresh_token") => words(
            ErrorCode::RefreshTokenInvalid,
            "The refresh token is no longer valid".into(),
            if server.is_atlassian() {
                "It was revoked, expired (90 days unused or 365 days old), rotated and reused, or the password changed.".into()
            } else {
                "It was revoked, it expired, or an older one was reused after rotation.".into()
            },
            "Reconnect: authorize again in step 4. Your other settings stay as they are.".into(),
        ),
        (_, "invalid_grant") => words(
            ErrorCode::InvalidGrant,
            format!("{who} did not accept the grant"),
            "The code or refresh token is invalid, expired or revoked, or the code does not match the callback URL or PKCE verifier it was issued for.".into(),
            format!("Check that the callback URL in {settings} matches the one Onramp shows exactly, {again}."),
        ),
        (_, "unauthorized_client") => words(
            ErrorCode::UnauthorizedClient,
            format!("{who} does not allow this client that grant"),
            "The client is not allowed to use this flow (the authorization code or refresh token grant), or it is not known here.".into(),
            format!("Allow the authorization-code (and refresh-token) grant for this client in {settings}, and check the client ID in step 2, {again}."),
        ),
        (_, "unsupported_grant_type") => words(
            ErrorCode::TokenError,
            format!("{who} does not support this grant type"),
            "The token endpoint does not offer the authorization-code or refresh-token grant, or the token URL points at another endpoint.".into(),
            format!("Check the token URL, and that {} offers the grant (refresh tokens included) for this client.", server.name),
        ),
        (_, "invalid_scope") => words(
            ErrorCode::AuthorizationRefused,
            format!("{who} refused a requested scope"),
            "A scope in the request is unknown, misspelt, or not allowed for this client.".into(),
            format!("Compare the scopes chosen in step 3 with those {} allows this client ({settings}), {again}.", server.name),
        ),
        (_, "unsupported_response_type") => words(
            ErrorCode::AuthorizationRefused,
            format!("{who} does not offer the authorization-code flow here"),
            "The server, or this client, does not allow response_type=code.".into(),
            format!("Enable the authorization-code flow (standard flow) for this client in {settings}, {again}."),
        ),
        (_, "server_error") => words(
            ErrorCode::ServerError,
            format!("{who} had an internal error"),
            "The failure is on the server's side, not in the request.".into(),
            format!("Try again in a moment. If it persists, check {}'s status or logs.", server.name),
        ),
        (_, "temporarily_unavailable") => words(
            ErrorCode::ServerError,
            format!("{who} is temporarily unavailable"),
            "The server is overloaded or under maintenance.".into(),
            "Wait a little and try again.".into(),
        ),
        (_, "login_required") => words(
            ErrorCode::AuthorizationRefused,
            "Sign-in is required".into(),
            "The server would not sign the user in without showing a page (prompt=none was asked, or the session ended).".into(),
            format!("Remove prompt=none from the extra parameters if you set it, {again} and sign in."),
        ),
        (_, "consent_required") => words(
            ErrorCode::AuthorizationRefused,
            "Consent is required".into(),
            "The user has not consented to these scopes and the server was asked not to show a page.".into(),
            format!("Remove prompt=none from the extra parameters if you set it, {again} and accept the consent page."),
        ),
        (_, "interaction_required") => words(
            ErrorCode::AuthorizationRefused,
            "The server needs the user to act".into(),
            "The server has to show a page (sign-in, consent or another step) and was asked not to.".into(),
            format!("Remove prompt=none from the extra parameters if you set it, {again}."),
        ),
        (Endpoint::Authorize, _) => words(
            ErrorCode::AuthorizationRefused,
            format!("{who} refused the authorization: {error}"),
            "This is not a standard OAuth error code; the description above is the server's own.".into(),
            format!("Check the client ID, callback URL and scopes in {settings}, {again}."),
        ),
        (Endpoint::Token, _) => words(
            ErrorCode::TokenError,
            format!("{who}'s token endpoint returned an error"),
            "This is not a standard OAuth error code; the description above is the server's own.".into(),
            format!("Check the client settings in {settings}, {again}."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn custom(scopes: &[&str]) -> Provider {
        crate::custom::to_provider(&crate::custom::CustomProvider {
            id: "custom-1".into(),
            input: crate::model::CustomProviderInput {
                name: "Keycloak".into(),
                authorize_url: "https://id.example.com/auth".into(),
                token_url: "https://id.example.com/token".into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                extra_params: vec![],
                client_auth: crate::model::ClientAuth::Basic,
                pkce: true,
                test_call_url: None,
                issuer: None,
            },
        })
    }

    #[test]
    fn each_provider_is_named_as_the_user_chose_it() {
        let catalog = Catalog::load().unwrap();
        let sandbox = catalog
            .provider("sandbox", Some("http://127.0.0.1:9"))
            .unwrap();
        assert_eq!(Server::of(&sandbox).name, "the sandbox");
        assert_eq!(Server::of(&sandbox).subject(), "The sandbox");
        assert_eq!(Server::of(&sandbox).kind, ServerKind::Sandbox);
        for id in [
            "atlassian",
            "jira",
            "confluence",
            "atlassian-government-cloud",
        ] {
            let p = catalog.provider(id, None).unwrap();
            assert_eq!(Server::of(&p).name, "Atlassian", "{id}");
        }
        let oidc = Server::of(&custom(&["openid", "offline_access"]));
        assert_eq!(
            (oidc.name.as_str(), oidc.kind),
            ("Keycloak", ServerKind::OpenId)
        );
        let plain = Server::of(&custom(&["read"]));
        assert_eq!(plain.kind, ServerKind::OAuth);
        assert_eq!(Server::unknown().subject(), "The provider");
        let lower = Server {
            name: "oidc-provider".into(),
            kind: ServerKind::OpenId,
        };
        assert_eq!(
            lower.subject(),
            "oidc-provider",
            "a provider's name is kept as written"
        );
    }

    /// Every standard code (RFC 6749 §4.1.2.1, §5.2; OpenID Connect Core §3.1.2.6) has its own
    /// words, names the provider, and keeps the raw answer.
    #[test]
    fn every_standard_error_code_is_explained() {
        let keycloak = Server::of(&custom(&["openid"]));
        let codes = [
            (
                "invalid_request",
                ErrorCode::AuthorizationRefused,
                "malformed",
            ),
            (
                "invalid_client",
                ErrorCode::TokenUnauthorized,
                "client credentials",
            ),
            (
                "invalid_grant",
                ErrorCode::InvalidGrant,
                "did not accept the grant",
            ),
            (
                "unauthorized_client",
                ErrorCode::UnauthorizedClient,
                "does not allow this client",
            ),
            (
                "unsupported_grant_type",
                ErrorCode::TokenError,
                "grant type",
            ),
            (
                "invalid_scope",
                ErrorCode::AuthorizationRefused,
                "refused a requested scope",
            ),
            ("access_denied", ErrorCode::AccessDenied, "consent screen"),
            (
                "unsupported_response_type",
                ErrorCode::AuthorizationRefused,
                "authorization-code flow",
            ),
            ("server_error", ErrorCode::ServerError, "internal error"),
            (
                "temporarily_unavailable",
                ErrorCode::ServerError,
                "temporarily unavailable",
            ),
            (
                "login_required",
                ErrorCode::AuthorizationRefused,
                "Sign-in is required",
            ),
            (
                "consent_required",
                ErrorCode::AuthorizationRefused,
                "Consent is required",
            ),
            (
                "interaction_required",
                ErrorCode::AuthorizationRefused,
                "needs the user to act",
            ),
        ];
        let mut titles = std::collections::HashSet::new();
        for (error, code, title) in codes {
            let endpoint = if error == "access_denied" {
                Endpoint::Authorize
            } else {
                Endpoint::Token
            };
            let (got, t, detail, hint) =
                explain(&keycloak, endpoint, error, Some("why"), Some(400));
            assert_eq!(got, code, "{error}");
            assert!(t.contains(title), "{error}: {t}");
            assert!(titles.insert(t.clone()), "{error} shares its title: {t}");
            assert!(
                detail.starts_with("Keycloak answered HTTP 400, ")
                    && detail.contains(error)
                    && detail.contains("why"),
                "{error}: {detail}"
            );
            let hint = hint.unwrap();
            for text in [&t, &detail, &hint] {
                assert!(
                    !text.contains("Atlassian") && !text.contains("developer console"),
                    "{error}: {text}"
                );
            }
        }
        let (code, title, ..) =
            explain(&keycloak, Endpoint::Authorize, "something_else", None, None);
        assert_eq!(code, ErrorCode::AuthorizationRefused);
        assert!(title.contains("something_else"));
    }

    #[test]
    fn atlassian_advice_only_for_atlassian() {
        let atlassian = Server {
            name: "Atlassian".into(),
            kind: ServerKind::Atlassian,
        };
        let (_, _, _, hint) = explain(
            &atlassian,
            Endpoint::Token,
            "invalid_client",
            None,
            Some(401),
        );
        assert!(hint.unwrap().contains("developer console"));
        let (_, _, detail, _) = explain(
            &atlassian,
            Endpoint::Token,
            "invalid_grant",
            Some("Unknown or invalid refresh token."),
            Some(403),
        );
        assert!(detail.contains("90 days"));
        let sandbox = Server {
            name: "the sandbox".into(),
            kind: ServerKind::Sandbox,
        };
        let (code, title, detail, hint) = explain(
            &sandbox,
            Endpoint::Token,
            "invalid_grant",
            Some("Unknown or invalid refresh token."),
            Some(403),
        );
        assert_eq!(code, ErrorCode::RefreshTokenInvalid);
        for text in [title, detail, hint.unwrap()] {
            assert!(
                !text.contains("Atlassian") && !text.contains("90 days"),
                "{text}"
            );
        }
    }
}
