//! Step 1, providers: the built-in catalog and the user's custom OAuth 2.0 / OpenID servers.

use super::*;

impl Engine {
    pub fn provider(&self, provider_id: &str) -> Result<Provider, OnrampError> {
        if provider_id.starts_with(custom::ID_PREFIX) {
            let settings = self.read_settings();
            let found = settings
                .custom_providers
                .iter()
                .find(|c| c.id == provider_id);
            return found
                .map(custom::to_provider)
                .ok_or_else(|| OnrampError::UnknownProvider(provider_id.to_string()));
        }
        self.catalog.provider(provider_id, self.sandbox_base())
    }

    /// Built-in providers, then the user's custom ones.
    pub fn providers(&self) -> Vec<Provider> {
        let mut all = self.catalog.providers(self.sandbox_base());
        all.extend(
            self.read_settings()
                .custom_providers
                .iter()
                .map(custom::to_provider),
        );
        all
    }

    /// Saves a custom provider (new when `id` is `None`). Integrations using it keep working.
    pub fn save_custom_provider(
        &self,
        id: Option<String>,
        input: CustomProviderInput,
    ) -> Result<Provider, OnrampError> {
        custom::validate(&input)?;
        let id = match id {
            Some(id) => {
                self.provider(&id)?;
                id
            }
            None => format!("{}{}", custom::ID_PREFIX, new_id()),
        };
        let saved = custom::CustomProvider {
            id: id.clone(),
            input,
        };
        self.write_settings(|s| {
            s.custom_providers.retain(|c| c.id != id);
            s.custom_providers.push(saved.clone());
            Ok(())
        })?;
        tracing::info!("custom provider {id} saved");
        self.provider(&id)
    }

    /// Removes a custom provider that no integration uses (saved integrations are never broken).
    pub fn delete_custom_provider(&self, id: &str) -> Result<(), OnrampError> {
        self.write_settings(|s| {
            if let Some(i) = s.integrations.iter().find(|i| i.provider_id == id) {
                return Err(OnrampError::invalid(
                    "provider",
                    format!(
                        "The integration \"{}\" uses this provider; delete it first.",
                        i.name
                    ),
                ));
            }
            s.custom_providers.retain(|c| c.id != id);
            Ok(())
        })
    }

    pub async fn discover_provider(
        &self,
        issuer: &str,
    ) -> Result<CustomProviderInput, OnrampError> {
        custom::discover(&self.http, issuer).await
    }
}
