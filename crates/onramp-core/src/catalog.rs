//! The provider catalog, read from the TOML data files in `catalog/` (embedded at build time).
//!
//! Providers name the products they cover; scopes and test calls are shared files filtered by product,
//! so a fact about a scope or a call is written once.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::OnrampError;
use crate::model::{
    CallbackSupport, ClientAuth, ConsoleGuide, Environment, Product, ProductId, Provider,
    ScopeAccess, ScopeInfo, ScopeKind, ScopePreset, TestCallPreset,
};

/// The id of the provider preselected on first run.
pub const DEFAULT_PROVIDER_ID: &str = "sandbox";

/// Replaced by the sandbox's base URL (`http://127.0.0.1:PORT`) when a provider is resolved.
const SANDBOX_PLACEHOLDER: &str = "{sandbox}";

const PROVIDER_FILES: &[(&str, &str)] = &[
    (
        "sandbox.toml",
        include_str!("../catalog/providers/sandbox.toml"),
    ),
    (
        "atlassian.toml",
        include_str!("../catalog/providers/atlassian.toml"),
    ),
    ("jira.toml", include_str!("../catalog/providers/jira.toml")),
    (
        "confluence.toml",
        include_str!("../catalog/providers/confluence.toml"),
    ),
    (
        "atlassian-government-cloud.toml",
        include_str!("../catalog/providers/atlassian-government-cloud.toml"),
    ),
];
const SCOPES_FILE: &str = include_str!("../catalog/scopes.toml");
const TEST_CALLS_FILE: &str = include_str!("../catalog/test_calls.toml");
const PRESETS_FILE: &str = include_str!("../catalog/scope_presets.toml");

/// A provider as written in its data file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: String,
    pub display_name: String,
    pub tagline: String,
    pub environment: Environment,
    pub authorize_url: String,
    pub token_url: String,
    pub audience: Option<String>,
    pub gateway_url: String,
    pub products: Vec<ProductId>,
    pub has_me_endpoint: bool,
    /// Send a PKCE (S256) challenge. Off for Atlassian: its 3LO apps do not support PKCE, and a
    /// stray `code_verifier` at the token endpoint is untested (reference §4.1).
    #[serde(default)]
    pub pkce: bool,
    #[serde(default)]
    pub client_auth: ClientAuth,
    pub default_scopes: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// Extra authorize parameters, e.g. `prompt = "consent"`.
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    pub callbacks: Vec<CallbackSupport>,
    pub console: ConsoleGuide,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSpec {
    name: String,
    product: String,
    kind: ScopeKind,
    access: ScopeAccess,
    description: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetSpec {
    id: String,
    label: String,
    description: String,
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct PresetsFile {
    preset: Vec<PresetSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCallSpec {
    id: String,
    #[serde(default)]
    product: Option<ProductId>,
    label: String,
    method: String,
    path: String,
    needs: Vec<Vec<String>>,
    #[serde(default)]
    requires_me_endpoint: bool,
    description: String,
}

#[derive(Deserialize)]
struct ScopesFile {
    scope: Vec<ScopeSpec>,
}

#[derive(Deserialize)]
struct TestCallsFile {
    call: Vec<TestCallSpec>,
}

/// All providers, scopes and test calls. Built once at start-up.
#[derive(Debug, Clone)]
pub struct Catalog {
    providers: Vec<ProviderSpec>,
    scopes: Vec<ScopeSpec>,
    test_calls: Vec<TestCallSpec>,
    presets: Vec<PresetSpec>,
}

impl Catalog {
    /// Parses the embedded data files. They are part of the build, so a parse error is a bug that the
    /// catalog tests catch; it is still reported as an error rather than a panic.
    pub fn load() -> Result<Catalog, OnrampError> {
        let mut providers = Vec::new();
        for (file, text) in PROVIDER_FILES {
            let spec: ProviderSpec =
                toml::from_str(text).map_err(|e| OnrampError::Catalog(format!("{file}: {e}")))?;
            providers.push(spec);
        }
        let scopes: ScopesFile = toml::from_str(SCOPES_FILE)
            .map_err(|e| OnrampError::Catalog(format!("scopes.toml: {e}")))?;
        let calls: TestCallsFile = toml::from_str(TEST_CALLS_FILE)
            .map_err(|e| OnrampError::Catalog(format!("test_calls.toml: {e}")))?;
        let presets: PresetsFile = toml::from_str(PRESETS_FILE)
            .map_err(|e| OnrampError::Catalog(format!("scope_presets.toml: {e}")))?;
        Ok(Catalog {
            providers,
            scopes: scopes.scope,
            test_calls: calls.call,
            presets: presets.preset,
        })
    }

    pub fn provider_ids(&self) -> impl Iterator<Item = &str> {
        self.providers.iter().map(|p| p.id.as_str())
    }

    pub fn spec(&self, provider_id: &str) -> Result<&ProviderSpec, OnrampError> {
        self.providers
            .iter()
            .find(|p| p.id == provider_id)
            .ok_or_else(|| OnrampError::UnknownProvider(provider_id.to_string()))
    }

    /// Every provider, resolved. The sandbox is left out when it is not running.
    pub fn providers(&self, sandbox_base: Option<&str>) -> Vec<Provider> {
        self.providers
            .iter()
            .filter_map(|spec| self.resolve_spec(spec, sandbox_base).ok())
            .collect()
    }

    pub fn provider(
        &self,
        provider_id: &str,
        sandbox_base: Option<&str>,
    ) -> Result<Provider, OnrampError> {
        self.resolve_spec(self.spec(provider_id)?, sandbox_base)
    }

    fn resolve_spec(
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
        let in_provider = |product: &str| {
            product == "platform" || spec.products.iter().any(|p| p.gateway_segment() == product)
        };
        let scopes: Vec<ScopeInfo> = self
            .scopes
            .iter()
            .filter(|s| in_provider(&s.product))
            .filter(|s| spec.has_me_endpoint || s.name != "read:me")
            .map(|s| ScopeInfo {
                name: s.name.clone(),
                product: s.product.clone(),
                kind: s.kind,
                access: s.access,
                description: s.description.clone(),
                note: s.note.clone(),
            })
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
        let test_calls = self
            .test_calls
            .iter()
            .filter(|c| c.product.is_none_or(|p| spec.products.contains(&p)))
            .filter(|c| spec.has_me_endpoint || !c.requires_me_endpoint)
            .map(|c| TestCallPreset {
                id: c.id.clone(),
                product: c.product,
                label: c.label.clone(),
                method: c.method.clone(),
                path: c.path.clone(),
                needs_scopes: c.needs.clone(),
                description: c.description.clone(),
            })
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
            scopes,
            scope_presets,
            callbacks: spec.callbacks.clone(),
            console: spec.console.clone(),
            test_calls,
            notes: spec.notes.clone(),
            client_auth: spec.client_auth,
            pkce: spec.pkce,
            has_sites: !spec.products.is_empty(),
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
        };
        provider.suggested_scopes = crate::scopes::suggested(&provider);
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallbackKind;
    use std::collections::HashSet;

    fn catalog() -> Catalog {
        Catalog::load().expect("catalog data files parse")
    }

    #[test]
    fn every_data_file_parses_and_ids_are_unique() {
        let c = catalog();
        let ids: Vec<_> = c.provider_ids().collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate provider id in {ids:?}");
        for id in [
            "sandbox",
            "atlassian",
            "jira",
            "confluence",
            "atlassian-government-cloud",
        ] {
            assert!(ids.contains(&id), "{id} missing from the catalog");
        }
    }

    #[test]
    fn scopes_are_unique_and_described() {
        let c = catalog();
        let mut seen = HashSet::new();
        for s in &c.scopes {
            assert!(seen.insert(&s.name), "scope {} listed twice", s.name);
            assert!(
                !s.description.trim().is_empty(),
                "{} lacks a description",
                s.name
            );
            assert!(
                ["platform", "jira", "confluence"].contains(&s.product.as_str()),
                "{} has unknown product {}",
                s.name,
                s.product
            );
        }
    }

    #[test]
    fn test_calls_and_presets_only_name_scopes_in_the_catalog() {
        let c = catalog();
        let names: HashSet<_> = c.scopes.iter().map(|s| s.name.as_str()).collect();
        for call in &c.test_calls {
            for scope in call.needs.iter().flatten() {
                assert!(
                    names.contains(scope.as_str()),
                    "{} needs unknown scope {scope}",
                    call.id
                );
            }
        }
        for preset in &c.presets {
            for scope in &preset.scopes {
                assert!(
                    names.contains(scope.as_str()),
                    "preset {} names unknown scope {scope}",
                    preset.id
                );
            }
        }
    }

    /// `(scope, description)` rows of one table of the vendored reference extract.
    fn reference_rows(text: &str, heading: &str) -> Vec<(String, String)> {
        let section = text
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let section = section
            .split("\n## ")
            .next()
            .unwrap()
            .split("\n### ")
            .next()
            .unwrap();
        section
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("| `")?;
                let (name, rest) = rest.split_once("` | ")?;
                Some((
                    name.to_string(),
                    rest.trim_end().trim_end_matches('|').trim().to_string(),
                ))
            })
            .collect()
    }

    const REFERENCE_EXTRACT: &str = include_str!("../catalog/reference/atlassian-scopes.md");

    #[test]
    fn catalog_agrees_with_the_reference_lists() {
        let c = catalog();
        let sections = [
            ("### 8.2 Jira classic scopes", "jira", ScopeKind::Classic, 6),
            ("## Appendix A", "jira", ScopeKind::Granular, 180),
            ("## Appendix B", "confluence", ScopeKind::Classic, 16),
            ("## Appendix C", "confluence", ScopeKind::Granular, 25),
        ];
        let mut from_reference = HashSet::new();
        for (heading, product, kind, count) in sections {
            let rows = reference_rows(REFERENCE_EXTRACT, heading);
            assert_eq!(
                rows.len(),
                count,
                "{heading}: the reference lists {count} scopes"
            );
            for (name, description) in rows {
                let s = c
                    .scopes
                    .iter()
                    .find(|s| s.name == name)
                    .unwrap_or_else(|| panic!("{name} ({heading}) missing"));
                assert_eq!(s.product, product, "{name}");
                assert_eq!(s.kind, kind, "{name}");
                assert_eq!(
                    s.description, description,
                    "{name}: description differs from the reference"
                );
                from_reference.insert(name);
            }
        }
        // Everything else in the catalog is one of the few scopes the reference names outside the tables.
        let others: Vec<_> = c
            .scopes
            .iter()
            .filter(|s| !from_reference.contains(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            others,
            [
                "offline_access",
                "read:me",
                "read:board-scope:jira-software",
                "read:sprint:jira-software"
            ]
        );
    }

    #[test]
    fn vendored_extract_matches_the_shared_reference() {
        // The shared reference sits beside the repository (developer machines and CI); the vendored
        // extract must be a faithful copy of its scope tables.
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/atlassian-oauth.md");
        let Ok(text) = std::fs::read_to_string(&shared) else {
            eprintln!(
                "{} not present; checked the vendored extract only",
                shared.display()
            );
            return;
        };
        for heading in [
            "### 8.2 Jira classic scopes",
            "## Appendix A",
            "## Appendix B",
            "## Appendix C",
        ] {
            assert_eq!(
                reference_rows(&text, heading),
                reference_rows(REFERENCE_EXTRACT, heading),
                "{heading}"
            );
        }
    }

    #[test]
    fn access_follows_the_scope_verb() {
        for s in &catalog().scopes {
            let verb = s.name.split(':').next().unwrap();
            let expected = match verb {
                "write" | "send" => ScopeAccess::Write,
                "delete" => ScopeAccess::Delete,
                "manage" => ScopeAccess::Manage,
                _ => ScopeAccess::Read,
            };
            assert_eq!(s.access, expected, "{}", s.name);
        }
    }

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
    fn every_provider_asks_for_offline_access_and_consent() {
        let c = catalog();
        for spec in &c.providers {
            assert!(
                spec.default_scopes.iter().any(|s| s == "offline_access"),
                "{} lacks offline_access by default",
                spec.id
            );
            assert_eq!(
                spec.authorize_params.get("prompt").map(String::as_str),
                Some("consent"),
                "{} must send prompt=consent",
                spec.id
            );
            assert!(
                !spec.console.steps.is_empty(),
                "{} has no console steps",
                spec.id
            );
            assert!(
                spec.callbacks
                    .iter()
                    .any(|c| c.kind == CallbackKind::Loopback),
                "{} offers no loopback callback",
                spec.id
            );
        }
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

    #[test]
    fn no_removed_jira_search_endpoint_in_presets() {
        let c = catalog();
        for call in &c.test_calls {
            let path = call.path.split('?').next().unwrap();
            assert_ne!(
                path, "/rest/api/3/search",
                "{} uses the removed endpoint",
                call.id
            );
            assert_ne!(
                path, "/rest/api/2/search",
                "{} uses the removed endpoint",
                call.id
            );
        }
    }
}
