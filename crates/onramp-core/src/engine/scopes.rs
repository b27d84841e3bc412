//! Step 3, scopes: the engine side of the guards (`crate::scopes` holds the rules) and requested
//! vs granted after consent.

use super::*;

impl Engine {
    /// The guards of step 3 for a set of scopes.
    pub async fn advise_scopes(
        &self,
        provider_id: &str,
        scopes: &[String],
    ) -> Result<ScopeAdvice, OnrampError> {
        Ok(crate::scopes::advise(
            &self.provider(provider_id).await?,
            scopes,
        ))
    }

    /// Requested vs granted, from the token's scopes and the chosen site (or, before a choice, the
    /// sites listed so far).
    pub async fn scope_report(&self, id: &str) -> Result<ScopeReport, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let connection = integration
            .connection
            .as_ref()
            .ok_or(OnrampError::NotConnected)?;
        let (sites, source) = match &integration.site {
            Some(site) => (vec![site.clone()], Some(format!("site {}", site.name))),
            None => {
                let listed = self.last_listed_sites(id);
                let source =
                    (!listed.is_empty()).then(|| format!("the {} listed site(s)", listed.len()));
                (listed, source)
            }
        };
        Ok(crate::scopes::report(
            &provider,
            &integration.scopes,
            &connection.granted_scopes,
            &sites,
            source,
        ))
    }
}
