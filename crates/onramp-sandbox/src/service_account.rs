//! An Atlassian service account's OAuth 2.0 credential (client credentials grant), as reference
//! atlassian-2026.md §1 describes it: the token comes from the token endpoint with the client id
//! and secret and `grant_type=client_credentials`, lasts like any access token here, and has no
//! refresh token; its scopes are the credential's, fixed when the admin created it.
//!
//! Not established for Atlassian, so sandbox choices: a `scope` parameter is refused with
//! `invalid_scope` (one report says Atlassian does that, n8n-io/n8n#37513), and a revoked credential
//! answers as a wrong secret does.

use std::collections::HashMap;

use crate::oauth::TokenError;
use crate::state::{Issued, State};

pub const SERVICE_ACCOUNT_CLIENT_ID: &str = "onramp-sandbox-service-account";
/// Shown once in admin.atlassian.com; here, on the sandbox app page.
pub const SERVICE_ACCOUNT_CLIENT_SECRET: &str = "sbx_sa_secret_4d1e8b7c2a9f0653";

/// The sandbox's service-account credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub client_id: String,
    pub client_secret: String,
    /// Chosen "when the credential was created": a token carries exactly these.
    pub scopes: Vec<String>,
    /// The sites (cloudIds) the service account was given access to; its tokens reach only these.
    pub sites: Vec<String>,
    /// The admin revoked the credential: token requests fail.
    pub revoked: bool,
}

impl Default for ServiceAccount {
    fn default() -> Self {
        ServiceAccount {
            client_id: SERVICE_ACCOUNT_CLIENT_ID.into(),
            client_secret: SERVICE_ACCOUNT_CLIENT_SECRET.into(),
            scopes: vec!["read:jira-work".into(), "read:jira-user".into()],
            sites: vec![crate::ACME_CLOUD_ID.into()],
            revoked: false,
        }
    }
}

/// A client-credentials token request, already parsed.
pub(crate) fn issue(
    st: &mut State,
    client_id: &str,
    client_secret: &str,
    params: &HashMap<String, String>,
) -> Result<Issued, TokenError> {
    // A 3LO app has no client-credentials grant: only the service account's credential does.
    if client_id == st.config.client_id {
        return Err(TokenError::UnsupportedGrant("client_credentials".into()));
    }
    let account = st.config.service_account.clone();
    if client_id != account.client_id || client_secret != account.client_secret || account.revoked {
        return Err(TokenError::ClientAuth);
    }
    if params.contains_key("scope") {
        return Err(TokenError::ScopeWithClientCredentials);
    }
    Ok(st.issue_for_sites(account.scopes, account.sites))
}
