//! Step 5, sites: the sites (cloudIds) a token reaches, from accessible-resources; the user picks.

use super::*;
use crate::gateway;
use crate::model::SiteListing;

impl Engine {
    /// The sites the token reaches. Like any request, an expired token is refreshed once and
    /// a 429 is waited out.
    pub async fn list_sites(&self, id: &str) -> Result<Vec<Site>, OnrampError> {
        Ok(self.site_listing(id).await?.sites)
    }

    /// The sites with where they came from: for Government Cloud the other host is asked when the
    /// catalog's answers 404, and the listing says so (`gateway::list_accessible_resources`).
    pub async fn site_listing(&self, id: &str) -> Result<SiteListing, OnrampError> {
        let provider = self.provider(&self.provider_id_of(id).await?).await?;
        let send = |url: String| async move {
            self.send_with_recovery(id, "GET", &url, None, &|_| {})
                .await
                .map(|sent| sent.raw)
        };
        let listing = gateway::list_accessible_resources(&provider, send).await?;
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), listing.sites.clone());
        Ok(listing)
    }

    /// The provider id of integration `id`, read from the store once. It never changes: it is set
    /// when the integration is created and nothing patches it (an import or a duplicate is a new
    /// integration with a new id), in this process or another; so the listing that follows a
    /// connection needs no store read.
    pub(super) async fn provider_id_of(&self, id: &str) -> Result<String, OnrampError> {
        let known = self
            .provider_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        if let Some(provider_id) = known {
            return Ok(provider_id);
        }
        let integration = self.store.integration(id).await?;
        self.remember_provider_id(&integration);
        Ok(integration.provider_id)
    }

    /// Remembers the provider id of a record just read or written (see [`Self::provider_id_of`]).
    pub(super) fn remember_provider_id(&self, integration: &Integration) {
        self.provider_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(integration.id.clone(), integration.provider_id.clone());
    }

    /// Forgets a deleted integration's provider id.
    pub(super) fn forget_provider_id(&self, id: &str) {
        self.provider_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The sites `list_sites` last returned for this integration (empty before the first listing).
    pub(super) fn last_listed_sites(&self, id: &str) -> Vec<Site> {
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Picks an entry from the list last shown; never guesses one. `site` is the entry's key (a
    /// cloudId and its scopes); a bare cloudId is taken only when one entry has it.
    pub async fn select_site(&self, id: &str, site: &str) -> Result<IntegrationView, OnrampError> {
        let listed = self.last_listed_sites(id);
        let by_key = listed.iter().find(|s| s.key == site);
        let same_id: Vec<&Site> = listed.iter().filter(|s| s.id == site).collect();
        let chosen = match (by_key, same_id.as_slice()) {
            (Some(entry), _) => entry.clone(),
            (None, [only]) => (*only).clone(),
            (None, [_, _, ..]) => return Err(OnrampError::invalid(
                "site",
                "This cloudId is listed once per product: pick the entry for the product you mean.",
            )),
            (None, []) => {
                return Err(OnrampError::invalid(
                    "site",
                    "Pick one of the sites listed for this connection.",
                ))
            }
        };
        self.change_integration(id, move |i| {
            i.site = Some(chosen);
        })
        .await?;
        self.integration(id).await
    }

    /// The listed sites whose host matches a subdomain exactly (Nango's rule); all of them for "".
    pub async fn filter_sites(&self, id: &str, subdomain: &str) -> Result<Vec<Site>, OnrampError> {
        Ok(self
            .last_listed_sites(id)
            .into_iter()
            .filter(|s| gateway::site_matches_subdomain(&s.url, subdomain))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    /// One cloudId listed for Jira and for Confluence: the entry picked by its key is saved with its
    /// own scopes; the bare cloudId is refused as ambiguous.
    #[tokio::test]
    async fn a_site_is_picked_by_its_cloud_id_and_scopes() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let entry = |scopes: &[&str]| Site {
            id: "cloud-1".into(),
            name: "Acme".into(),
            url: "https://acme.atlassian.net".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
            key: String::new(),
            products: Vec::new(),
        };
        let listed = gateway::merge_sites(vec![
            entry(&["read:jira-work"]),
            entry(&["read:page:confluence"]),
        ]);
        seed.engine
            .listed_sites
            .lock()
            .unwrap()
            .insert(seed.id.clone(), listed.clone());
        let err = seed
            .engine
            .select_site(&seed.id, "cloud-1")
            .await
            .unwrap_err();
        assert!(err.to_ui().detail.contains("once per product"));
        let view = seed
            .engine
            .select_site(&seed.id, &listed[1].key)
            .await
            .unwrap();
        let saved = view.site.unwrap();
        assert_eq!(saved.scopes, vec!["read:page:confluence"]);
        assert_eq!(saved.products, vec![crate::model::ProductId::Confluence]);
    }

    /// The provider id is read once, then known without the store; a deleted integration's is
    /// forgotten, so asking again reads the store and finds nothing.
    #[tokio::test]
    async fn the_provider_id_is_read_once_and_forgotten_with_the_integration() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let stored = seed.engine.store.integration(&seed.id).await.unwrap();
        let first = seed.engine.provider_id_of(&seed.id).await.unwrap();
        assert_eq!(first, stored.provider_id);
        assert!(seed
            .engine
            .provider_ids
            .lock()
            .unwrap()
            .contains_key(&seed.id));
        assert_eq!(seed.engine.provider_id_of(&seed.id).await.unwrap(), first);
        seed.engine.delete_integration(&seed.id).await.unwrap();
        assert!(matches!(
            seed.engine.provider_id_of(&seed.id).await,
            Err(OnrampError::UnknownIntegration(_))
        ));
    }
}
