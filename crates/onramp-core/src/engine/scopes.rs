//! Step 3, scopes: the engine side of the guards (`crate::scopes` holds the rules), the
//! "I want to call these endpoints" picker (`crate::endpoint_advice`) and requested vs granted
//! after consent.

use super::*;

impl Engine {
    /// The guards of step 3 for a set of scopes.
    pub async fn advise_scopes(
        &self,
        provider_id: &str,
        scopes: &[String],
    ) -> Result<ScopeAdvice, OnrampError> {
        Ok(crate::scopes::advise(
            &*self.provider(provider_id).await?,
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

    /// Operations of the provider's products whose path, summary or operationId match `query`,
    /// for the picker; at most `limit` (capped by `endpoint_advice::SEARCH_LIMIT`).
    pub async fn search_operations(
        &self,
        provider_id: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<crate::endpoint_scopes::EndpointScopes>, OnrampError> {
        let provider = self.provider(provider_id).await?;
        Ok(crate::endpoint_advice::search(&provider, query, limit))
    }

    /// The smallest scope set for the chosen operations ("METHOD /path/template"), and the
    /// selection that applying it to the integration's chosen scopes gives (saved by the UI
    /// through `update_integration`, like any other selection).
    pub async fn propose_scopes(
        &self,
        id: &str,
        operations: &[String],
        prefer: crate::endpoint_scopes::ScopePreference,
    ) -> Result<crate::endpoint_advice::ScopeProposal, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        Ok(crate::endpoint_advice::propose(
            &provider,
            operations,
            prefer,
            &integration.scopes,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint_scopes::ScopePreference;
    use crate::engine::test_support::*;

    #[tokio::test]
    async fn a_proposal_applied_through_the_patch_keeps_offline_access() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        seed.engine
            .store
            .update_integration(&seed.id, |i| {
                i.provider_id = "atlassian".into();
                i.scopes = vec!["offline_access".into(), "write:jira-work".into()];
                Ok(())
            })
            .await
            .unwrap();
        let found = seed
            .engine
            .search_operations("atlassian", "get issue", 5)
            .await
            .unwrap();
        assert!(found.iter().any(|op| op.operation_id == "getIssue"));
        let chosen = vec![
            "GET /rest/api/3/issue/{issueIdOrKey}".to_string(),
            "GET /wiki/api/v2/spaces".to_string(),
        ];
        let proposal = seed
            .engine
            .propose_scopes(&seed.id, &chosen, ScopePreference::Classic)
            .await
            .unwrap();
        assert_eq!(proposal.dropped, vec!["write:jira-work".to_string()]);
        let view = seed
            .engine
            .update_integration(
                &seed.id,
                IntegrationPatch {
                    scopes: Some(proposal.apply.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(view.scopes.contains(&"offline_access".to_string()));
        for scope in ["read:jira-work", "read:space:confluence"] {
            assert!(view.scopes.contains(&scope.to_string()), "{scope}");
        }
        assert!(!view.scopes.contains(&"write:jira-work".to_string()));
    }
}
