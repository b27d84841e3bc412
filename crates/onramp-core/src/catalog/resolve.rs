//! A provider resolved for the UI: its data file, plus the scopes, scope presets and test calls
//! of its products, with the sandbox's address filled in.

use super::{Catalog, ProviderSpec};
use crate::error::OnrampError;
use crate::model::{Product, Provider, ScopeFilter, ScopeInfo, ScopeKind, ScopePreset};

/// Replaced by the sandbox's base URL (`http://127.0.0.1:PORT`) when a provider is resolved.
const SANDBOX_PLACEHOLDER: &str = "{sandbox}";

impl Catalog {
    pub(super) fn resolve_spec(
        &self,
        spec: &ProviderSpec,
        sandbox_base: Option<&str>,
    ) -> Result<Provider, OnrampError> {
        let fill = |s: &str| -> Result<String, OnrampError> {
            if !s.contains(SANDBOX_PLACEHOLDER) {
                return Ok(s.to_string());
            }
            let base = sandbox_base.ok_or(OnrampError::SandboxNotRunning)?;
            Ok(s.replace(SANDBOX_PLACEHOLDER, base.trim_end_matches('/')))
        };
        // No refresh token and no user with client credentials: offline_access and read:me mean
        // nothing there, so the platform's scopes are not offered.
        let platform =
            (spec.grant != crate::model::Grant::ClientCredentials).then(|| "platform".to_string());
        let scope_filter = ScopeFilter {
            products: platform
                .into_iter()
                .chain(
                    spec.products
                        .iter()
                        .map(|p| p.gateway_segment().to_string()),
                )
                .collect(),
            excluded: if spec.has_me_endpoint {
                Vec::new()
            } else {
                vec!["read:me".to_string()]
            },
        };
        let scopes: std::sync::Arc<[ScopeInfo]> = self
            .scopes
            .iter()
            .map(super::ScopeSpec::info)
            .filter(|s| scope_filter.offers(s))
            .collect();
        let offered = |name: &str| scopes.iter().any(|s| s.name == name);
        let product_scope = |name: &str| {
            scopes
                .iter()
                .any(|s| s.name == name && s.kind != ScopeKind::Platform)
        };
        let scope_presets = self
            .presets
            .iter()
            .filter_map(|p| {
                let kept: Vec<String> = p.scopes.iter().filter(|s| offered(s)).cloned().collect();
                kept.iter().any(|s| product_scope(s)).then(|| ScopePreset {
                    id: p.id.clone(),
                    label: p.label.clone(),
                    description: p.description.clone(),
                    scopes: kept,
                })
            })
            .collect();
        let test_calls: Vec<_> = self
            .test_calls
            .iter()
            .filter(|c| c.product.is_none_or(|p| spec.products.contains(&p)))
            .filter(|c| spec.has_me_endpoint || !c.requires_me_endpoint)
            .map(super::TestCallSpec::preset)
            .collect();
        let mut provider = Provider {
            id: spec.id.clone(),
            display_name: spec.display_name.clone(),
            tagline: spec.tagline.clone(),
            environment: spec.environment,
            authorize_url: fill(&spec.authorize_url)?,
            token_url: fill(&spec.token_url)?,
            audience: spec.audience.clone(),
            gateway_url: fill(&spec.gateway_url)?,
            products: spec
                .products
                .iter()
                .map(|p| Product {
                    id: *p,
                    display_name: p.display_name().to_string(),
                    gateway_path: format!("/ex/{}/{{cloudId}}", p.gateway_segment()),
                })
                .collect(),
            default_scopes: spec.default_scopes.clone(),
            scope_filter,
            own_scopes: Vec::new(),
            scopes,
            scope_presets,
            callbacks: spec.callbacks.clone(),
            console: spec.console.clone(),
            test_call_ids: test_calls.iter().map(|c| c.id.clone()).collect(),
            own_test_calls: Vec::new(),
            test_calls,
            notes: spec.notes.clone(),
            client_auth: spec.client_auth,
            pkce: spec.pkce,
            has_sites: !spec.products.is_empty(),
            accessible_resources_url: if spec.products.is_empty() {
                String::new()
            } else {
                match &spec.accessible_resources_url {
                    Some(url) => fill(url)?,
                    None => format!(
                        "{}{}",
                        fill(&spec.gateway_url)?.trim_end_matches('/'),
                        crate::gateway::ACCESSIBLE_RESOURCES_PATH
                    ),
                }
            },
            accessible_resources_fallback_url: spec
                .accessible_resources_fallback_url
                .as_deref()
                .map(&fill)
                .transpose()?,
            custom: None,
            authorize_params: spec
                .authorize_params
                .iter()
                .map(|(key, value)| crate::model::KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            suggested_scopes: Vec::new(),
            grant: spec.grant,
        };
        provider.suggested_scopes = crate::scopes::suggested(&provider);
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::catalog;
    use crate::model::{CallbackKind, ProductId};

    #[test]
    fn presets_are_filtered_per_provider() {
        let c = catalog();
        let jira = c.provider("jira", None).unwrap();
        let ids: Vec<_> = jira.scope_presets.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["read-only-smoke", "jira-read-write"]);
        let smoke = &jira.scope_presets[0];
        assert!(smoke.scopes.iter().all(|s| !s.contains("confluence")));
        let conf = c.provider("confluence", None).unwrap();
        assert!(conf.scope_presets.iter().any(|p| p.id == "confluence-read"));
        assert!(conf.scope_presets.iter().all(|p| p.id != "jira-read-write"));
    }

    #[test]
    fn atlassian_hosts_match_the_reference() {
        let c = catalog();
        let a = c.provider("atlassian", None).unwrap();
        assert_eq!(a.authorize_url, "https://auth.atlassian.com/authorize");
        assert_eq!(a.token_url, "https://auth.atlassian.com/oauth/token");
        assert_eq!(a.audience.as_deref(), Some("api.atlassian.com"));
        assert_eq!(a.gateway_url, "https://api.atlassian.com");
        let gov = c.provider("atlassian-government-cloud", None).unwrap();
        assert_eq!(
            gov.authorize_url,
            "https://auth.atlassian-us-gov-mod.com/authorize"
        );
        assert_eq!(
            gov.token_url,
            "https://auth.atlassian-us-gov-mod.com/oauth/token"
        );
        assert_eq!(
            gov.audience.as_deref(),
            Some("api.atlassian-us-gov-mod.com")
        );
        assert_eq!(gov.gateway_url, "https://api.atlassian-us-gov-mod.com");
        // /me on the AGC gateway is not established, so it is not offered.
        assert!(gov.test_calls.iter().all(|t| t.id != "me"));
        assert!(gov.scopes.iter().all(|s| s.name != "read:me"));
    }

    #[test]
    fn deep_link_is_marked_unconfirmed_for_real_atlassian() {
        let c = catalog();
        for id in [
            "atlassian",
            "jira",
            "confluence",
            "atlassian-government-cloud",
        ] {
            let p = c.provider(id, None).unwrap();
            let deep = p
                .callbacks
                .iter()
                .find(|cb| cb.kind == CallbackKind::DeepLink)
                .unwrap();
            assert_eq!(deep.evidence, crate::model::Evidence::Unconfirmed, "{id}");
        }
    }

    #[test]
    fn products_filter_scopes_and_test_calls() {
        let c = catalog();
        let jira = c.provider("jira", None).unwrap();
        assert!(jira.scopes.iter().all(|s| s.product != "confluence"));
        assert!(jira
            .test_calls
            .iter()
            .all(|t| t.product != Some(ProductId::Confluence)));
        assert!(jira.test_calls.iter().any(|t| t.id == "jira-myself"));
        let conf = c.provider("confluence", None).unwrap();
        assert!(conf.test_calls.iter().any(|t| t.id == "confluence-spaces"));
        assert!(conf
            .test_calls
            .iter()
            .all(|t| t.product != Some(ProductId::Jira)));
        assert_eq!(conf.products[0].gateway_path, "/ex/confluence/{cloudId}");
    }

    #[test]
    fn sandbox_needs_its_address_and_fills_it_in() {
        let c = catalog();
        assert!(matches!(
            c.provider("sandbox", None),
            Err(OnrampError::SandboxNotRunning)
        ));
        assert!(c.providers(None).iter().all(|p| p.id != "sandbox"));
        let s = c
            .provider("sandbox", Some("http://127.0.0.1:4000/"))
            .unwrap();
        assert_eq!(s.authorize_url, "http://127.0.0.1:4000/authorize");
        assert_eq!(s.token_url, "http://127.0.0.1:4000/oauth/token");
        assert_eq!(s.gateway_url, "http://127.0.0.1:4000");
    }
}
