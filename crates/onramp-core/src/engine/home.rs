//! The integrations home: every saved integration with its health, opening one (it becomes the one
//! reopened at the next start) and duplicating one. Renaming is `update_integration` with a name;
//! deleting is `delete_integration` (both in `integrations.rs`).

use super::*;
use crate::model::IntegrationSummary;

impl Engine {
    /// Every saved integration, oldest first, with its health now and the step where it stands.
    pub async fn integration_summaries(&self) -> Result<Vec<IntegrationSummary>, OnrampError> {
        self.sweep_earlier_sandbox_runs().await;
        let now = now_unix();
        let mut out = Vec::new();
        for i in self.store.integrations().await? {
            let provider = self.provider(&i.provider_id).await.ok();
            let atlassian_limits = provider.as_ref().is_some_and(|p| p.custom.is_none());
            out.push(IntegrationSummary {
                health: crate::health::health(
                    &i,
                    self.lifecycle.background_retry(&i.id),
                    atlassian_limits,
                    provider
                        .as_ref()
                        .is_some_and(|p| p.grant == crate::model::Grant::ClientCredentials),
                    now,
                ),
                step: crate::steps::current_step(&crate::steps::statuses(&i, provider.as_deref())),
                provider_name: provider
                    .as_ref()
                    .map_or_else(|| i.provider_id.clone(), |p| p.display_name.clone()),
                id: i.id,
                name: i.name,
                provider_id: i.provider_id,
                site: i.site,
                created_at: i.created_at,
                updated_at: i.updated_at,
            });
        }
        Ok(out)
    }

    /// Opens an integration in the wizard: it becomes the one reopened at the next start.
    pub async fn open_integration(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        let view = self.integration(id).await?;
        self.store
            .set_last_integration_id(Some(id.to_string()))
            .await?;
        Ok(view)
    }

    /// A copy of an integration's settings (provider, client ID, callback, scopes, checklist) named
    /// "… (copy)": no client secret, tokens, connection, site, history or hand-off.
    pub async fn duplicate_integration(&self, id: &str) -> Result<IntegrationView, OnrampError> {
        let source = self.store.integration(id).await?;
        let now = now_unix();
        let copy = Integration {
            id: new_id(),
            name: format!("{} (copy)", source.name),
            site: None,
            connection: None,
            handed_off: None,
            has_client_secret: false,
            client_secret_revision: 0,
            sandbox_instance: None,
            history: Vec::new(),
            created_at: now,
            updated_at: now,
            ..source
        };
        tracing::info!("duplicating integration {id} as {}", copy.id);
        self.add_integration(copy, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;
    use crate::health::HealthState;
    use crate::steps::WizardStep;

    #[tokio::test]
    async fn the_home_lists_each_integration_with_its_health_and_step() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let fresh = seed.engine.create_integration("jira").await.unwrap();
        let list = seed.engine.integration_summaries().await.unwrap();
        assert_eq!(list.len(), 2);
        let seeded = list.iter().find(|s| s.id == seed.id).unwrap();
        assert_eq!(seeded.health.state, HealthState::Connected);
        assert!(seeded.health.expires_at.is_some());
        assert_eq!(seeded.provider_name, "Mock");
        assert!(
            seeded.health.refresh_token.is_none(),
            "a custom provider's refresh token limits are unknown"
        );
        let new = list.iter().find(|s| s.id == fresh.id).unwrap();
        assert_eq!(new.health.state, HealthState::NotAuthorized);
        assert_eq!(new.step, WizardStep::Registration);
        assert_eq!(new.provider_id, "jira");
    }

    #[tokio::test]
    async fn a_failing_background_refresh_shows_on_the_home() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let wait = seed
            .engine
            .lifecycle
            .background_failed(&seed.id, now_unix());
        let list = seed.engine.integration_summaries().await.unwrap();
        assert_eq!(list[0].health.state, HealthState::RefreshFailing);
        assert!(list[0].health.next_retry_at.unwrap() >= now_unix() + wait - 1);
    }

    #[tokio::test]
    async fn renaming_from_the_home_keeps_the_integration_reopened_at_start_and_opening_changes_it()
    {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let other = seed.engine.create_integration("jira").await.unwrap();
        seed.engine.open_integration(&seed.id).await.unwrap();
        let last = || async { seed.engine.store.last_integration_id().await.unwrap() };
        assert_eq!(last().await.as_deref(), Some(seed.id.as_str()));
        let patch = crate::model::IntegrationPatch {
            name: Some("Renamed from the home".into()),
            ..Default::default()
        };
        let renamed = seed
            .engine
            .update_integration(&other.id, patch)
            .await
            .unwrap();
        assert_eq!(renamed.name, "Renamed from the home");
        assert_eq!(last().await.as_deref(), Some(seed.id.as_str()));
        let opened = seed.engine.open_integration(&other.id).await.unwrap();
        assert_eq!(opened.id, other.id);
        assert_eq!(last().await.as_deref(), Some(other.id.as_str()));
        assert!(seed.engine.open_integration("nope").await.is_err());
        assert_eq!(last().await.as_deref(), Some(other.id.as_str()));
    }

    #[tokio::test]
    async fn a_duplicate_keeps_the_settings_and_nothing_secret() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let copy = seed.engine.duplicate_integration(&seed.id).await.unwrap();
        let source = seed.engine.integration(&seed.id).await.unwrap();
        assert_ne!(copy.id, source.id);
        assert_eq!(copy.name, "Seeded (copy)");
        assert_eq!(copy.provider_id, source.provider_id);
        assert_eq!(copy.client_id, source.client_id);
        assert_eq!(copy.scopes, source.scopes);
        assert_eq!(copy.callback, source.callback);
        assert!(copy.connection.is_none() && copy.site.is_none() && copy.handed_off.is_none());
        assert!(!copy.has_client_secret && copy.history.is_empty());
        assert!(Vault
            .get(&copy.id, SecretKind::ClientSecret)
            .unwrap()
            .is_none());
        assert!(Vault
            .get(&copy.id, SecretKind::RefreshToken)
            .unwrap()
            .is_none());
        assert_eq!(seed.engine.integration_summaries().await.unwrap().len(), 2);
        assert!(seed.engine.duplicate_integration("nope").await.is_err());
    }
}
