//! Step 5, sites: the sites (cloudIds) a token reaches, from accessible-resources; the user picks.

use super::*;
use crate::gateway;

impl Engine {
    /// The sites the token reaches. Like any request, an expired token is refreshed once and
    /// a 429 is waited out.
    pub async fn list_sites(&self, id: &str) -> Result<Vec<Site>, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let url = gateway::accessible_resources_url(&provider);
        let sent = self
            .send_with_recovery(id, "GET", &url, None, &|_| {})
            .await?;
        let sites = gateway::parse_accessible_resources(&sent.raw)?;
        self.listed_sites
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), sites.clone());
        Ok(sites)
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

    /// Picks a site from the list last shown; never guesses one.
    pub async fn select_site(
        &self,
        id: &str,
        cloud_id: &str,
    ) -> Result<IntegrationView, OnrampError> {
        let site = self
            .last_listed_sites(id)
            .into_iter()
            .find(|s| s.id == cloud_id)
            .ok_or_else(|| {
                OnrampError::invalid("site", "Pick one of the sites listed for this connection.")
            })?;
        self.change_integration(id, move |i| {
            i.site = Some(site);
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
