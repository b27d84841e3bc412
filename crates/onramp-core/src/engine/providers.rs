//! Step 1, providers: the built-in catalog and the user's custom OAuth 2.0 / OpenID servers.

use super::*;

impl Engine {
    pub async fn provider(&self, provider_id: &str) -> Result<Provider, OnrampError> {
        if provider_id.starts_with(custom::ID_PREFIX) {
            let saved = self.store.custom_providers().await?;
            return saved
                .iter()
                .find(|c| c.id == provider_id)
                .map(custom::to_provider)
                .ok_or_else(|| OnrampError::UnknownProvider(provider_id.to_string()));
        }
        self.catalog.provider(provider_id, self.sandbox_base())
    }

    /// Built-in providers, then the user's custom ones (only the built-in ones when the store
    /// cannot be read: `bootstrap` reports that).
    pub async fn providers(&self) -> Vec<Provider> {
        let mut all = self.catalog.providers(self.sandbox_base());
        match self.store.custom_providers().await {
            Ok(saved) => all.extend(saved.iter().map(custom::to_provider)),
            Err(e) => tracing::warn!("custom providers could not be read: {e}"),
        }
        all
    }

    /// Saves a custom provider (new when `id` is `None`). Integrations using it keep working.
    pub async fn save_custom_provider(
        &self,
        id: Option<String>,
        input: CustomProviderInput,
    ) -> Result<Provider, OnrampError> {
        custom::validate(&input)?;
        let id = match id {
            Some(id) => {
                self.provider(&id).await?;
                id
            }
            None => format!("{}{}", custom::ID_PREFIX, new_id()),
        };
        let saved = custom::CustomProvider {
            id: id.clone(),
            input,
        };
        self.store.save_custom_provider(saved).await?;
        tracing::info!("custom provider {id} saved");
        self.provider(&id).await
    }

    /// Removes a custom provider that no integration uses (saved integrations are never broken).
    pub async fn delete_custom_provider(&self, id: &str) -> Result<(), OnrampError> {
        self.store.delete_custom_provider(id).await
    }

    pub async fn discover_provider(
        &self,
        issuer: &str,
    ) -> Result<CustomProviderInput, OnrampError> {
        custom::discover(&self.http, issuer).await
    }
}
