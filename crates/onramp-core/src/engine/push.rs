//! Push to Nango: hands the connection (app credentials and tokens) to a Nango environment, then
//! stops refreshing it. The request sequence and error words are in `crate::nango`.
//!
//! **One refresher only**: Atlassian rotates refresh tokens, so after a successful push (read-back
//! checked) Onramp deletes its own refresh token from the keychain and records `handed_off` on the
//! integration; background refresh skips it and `refresh_locked` refuses it. A push that fails
//! leaves Onramp's tokens as they were. The Nango secret key lives only in the keychain
//! (`SecretKind::NangoSecretKey`, per integration).

use std::time::Duration;

use super::*;
use crate::lifecycle::use_margin_secs;
use crate::model::{HandOff, NangoTarget};
use crate::nango::{self, NangoProblem, PushInput};

/// How long to wait before reading the connection back: Nango's Jira hook rewrites `cloudId`
/// within about 3 s of the import (nango-api-and-preflight.md §4).
pub const NANGO_READ_BACK_DELAY: Duration = Duration::from_secs(4);

fn nango_error(problem: NangoProblem) -> OnrampError {
    OnrampError::Nango {
        status: None,
        problem,
    }
}

impl Engine {
    /// Saves the Nango environment secret key for this integration, in the keychain only.
    pub async fn save_nango_secret_key(
        &self,
        id: &str,
        secret_key: &SecretString,
    ) -> Result<IntegrationView, OnrampError> {
        self.store.integration(id).await?;
        let key = SecretString::from(secret_key.expose_secret().trim());
        if key.expose_secret().is_empty() || key.expose_secret().chars().any(char::is_whitespace) {
            return Err(OnrampError::invalid(
                "Nango secret key",
                "Paste the secret key (Environment API key) from Nango's Environment Settings, without spaces.",
            ));
        }
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.set(&owned, SecretKind::NangoSecretKey, &key)).await?;
        self.integration(id).await
    }

    /// Whether a Nango secret key is saved for this integration.
    pub async fn has_nango_secret_key(&self, id: &str) -> Result<bool, OnrampError> {
        Ok(self.stored(id, SecretKind::NangoSecretKey).await?.is_some())
    }

    /// Pushes the integration and its connection to Nango and hands the refreshing over.
    /// `read_back_after` is the wait before the read-back ([`NANGO_READ_BACK_DELAY`]).
    pub async fn push_to_nango(
        &self,
        id: &str,
        target: NangoTarget,
        read_back_after: Duration,
    ) -> Result<IntegrationView, OnrampError> {
        nango::validate_target(&target)?;
        let integration = self.store.integration(id).await?;
        let site = integration
            .site
            .clone()
            .ok_or(OnrampError::NoSiteSelected)?;
        let secret_key = self
            .stored(id, SecretKind::NangoSecretKey)
            .await?
            .ok_or_else(|| nango_error(NangoProblem::KeyMissing))?;

        // Under the refresh lock: no refresh may rotate the refresh token while it is being pushed.
        let _guard = self.refresh_guard(id).await;
        let integration = self.store.integration(id).await?;
        let connection = self.usable_connection(&integration)?;
        let Some(refresh_token) = self.stored(id, SecretKind::RefreshToken).await? else {
            return Err(nango_error(NangoProblem::NoRefreshToken));
        };
        let fresh = connection
            .expires_at
            .is_some_and(|exp| exp - use_margin_secs(connection.token_lifetime) > now_unix());
        let stored_access = if fresh {
            self.stored(id, SecretKind::AccessToken).await?
        } else {
            None
        };
        let (access_token, refresh_token, integration) = match stored_access {
            Some(at) => (at, refresh_token, integration),
            None => {
                let at = self.refresh_locked(&integration).await?;
                let rt = self
                    .stored(id, SecretKind::RefreshToken)
                    .await?
                    .ok_or_else(|| nango_error(NangoProblem::NoRefreshToken))?;
                (at, rt, self.store.integration(id).await?)
            }
        };
        let connection = self.usable_connection(&integration)?;
        let expires_at = connection
            .expires_at
            .ok_or_else(|| nango_error(NangoProblem::NoExpiry))?;
        let client_secret = self.client_secret(id).await?;

        let input = PushInput {
            provider: target.provider,
            integration_key: &target.integration_key,
            display_name: &integration.name,
            client_id: &integration.client_id,
            client_secret: &client_secret,
            scopes: &integration.scopes,
            connection_id: &target.connection_id,
            access_token: &access_token,
            refresh_token: &refresh_token,
            expires_at,
            site: &site,
            granted_scopes: &connection.granted_scopes,
        };
        let report = nango::push(
            &self.http,
            &target.base_url,
            &secret_key,
            &input,
            read_back_after,
        )
        .await;
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(
                    "integration {id}: push to Nango failed ({})",
                    e.to_ui().code
                );
                return Err(e);
            }
        };

        // Success: Nango refreshes from now on. The refresh token goes first, so a failure below
        // can never leave two refreshers.
        let vault = self.vault.clone();
        let owned = id.to_string();
        run_blocking(move || vault.delete(&owned, SecretKind::RefreshToken)).await?;
        self.lifecycle.clear_backoff(id);
        let hand_off = HandOff {
            to: "nango".into(),
            base_url: nango::base(&target.base_url),
            connection_id: target.connection_id.clone(),
            at: now_unix(),
        };
        self.change_integration(id, move |i| {
            i.handed_off = Some(hand_off);
            if let Some(c) = i.connection.as_mut() {
                c.has_refresh_token = false;
            }
        })
        .await?;
        tracing::info!(
            "integration {id}: pushed to Nango ({} integration), refresh handed off",
            if report.created_integration {
                "new"
            } else {
                "updated"
            }
        );
        self.integration(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    #[tokio::test]
    async fn a_handed_off_connection_is_never_refreshed_again() {
        let mut server = mockito::Server::new_async().await;
        let refresh = refresh_mock(&mut server, 0).await;
        // Expired: due for a background refresh, were it Onramp's.
        let s = seeded(&server.url(), -10, 3600);
        assert_eq!(
            s.engine.due_for_proactive_refresh().await,
            vec![s.id.clone()]
        );
        s.engine
            .change_integration(&s.id, |i| {
                i.handed_off = Some(HandOff {
                    to: "nango".into(),
                    base_url: "http://localhost:3003".into(),
                    connection_id: "c".into(),
                    at: 1,
                });
            })
            .await
            .unwrap();
        assert!(s.engine.due_for_proactive_refresh().await.is_empty());
        let e = s.engine.access_token(&s.id).await.unwrap_err();
        assert_eq!(e.to_ui().code, crate::model::ErrorCode::HandedOff);
        assert!(e.to_ui().detail.contains("http://localhost:3003"));
        refresh.assert_async().await;
    }
}
