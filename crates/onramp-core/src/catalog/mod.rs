//! The provider catalog, read from the TOML data files in `catalog/` (embedded at build time).
//!
//! Providers name the products they cover; scopes and test calls are shared files filtered by product,
//! so a fact about a scope or a call is written once.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::OnrampError;
use crate::model::{
    CallbackSupport, ClientAuth, ConsoleGuide, Environment, ProductId, Provider, ScopeAccess,
    ScopeInfo, ScopeKind, TestCallPreset,
};

pub(crate) mod packed;
#[cfg(test)]
mod reference;
mod resolve;
#[cfg(test)]
mod spec_data;

/// The id of the provider preselected on first run.
pub const DEFAULT_PROVIDER_ID: &str = "sandbox";

const PROVIDER_FILES: &[(&str, &str)] = &[
    (
        "sandbox.toml",
        include_str!("../../catalog/providers/sandbox.toml"),
    ),
    (
        "atlassian.toml",
        include_str!("../../catalog/providers/atlassian.toml"),
    ),
    (
        "jira.toml",
        include_str!("../../catalog/providers/jira.toml"),
    ),
    (
        "confluence.toml",
        include_str!("../../catalog/providers/confluence.toml"),
    ),
    (
        "atlassian-government-cloud.toml",
        include_str!("../../catalog/providers/atlassian-government-cloud.toml"),
    ),
    (
        "atlassian-service-account.toml",
        include_str!("../../catalog/providers/atlassian-service-account.toml"),
    ),
    (
        "sandbox-service-account.toml",
        include_str!("../../catalog/providers/sandbox-service-account.toml"),
    ),
];
/// The few scopes no spec lists (`offline_access`, `read:me`), each with its source.
const HAND_SCOPES_FILE: &str = include_str!("../../catalog/scopes-hand.toml");
const TEST_CALLS_FILE: &str = include_str!("../../catalog/test_calls.toml");
const PRESETS_FILE: &str = include_str!("../../catalog/scope_presets.toml");

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
    /// `client_credentials` for a service account (then no authorize URL and no callbacks).
    #[serde(default)]
    pub grant: crate::model::Grant,
    /// Where accessible-resources is asked; `{gateway}/oauth/token/accessible-resources` when unset.
    #[serde(default)]
    pub accessible_resources_url: Option<String>,
    /// Asked when `accessible_resources_url` answers 404 (the host is not established).
    #[serde(default)]
    pub accessible_resources_fallback_url: Option<String>,
    /// Where the two URLs above come from.
    #[serde(default)]
    pub accessible_resources_source: Option<String>,
}

/// A scope as written in `scopes.toml` or `scopes-hand.toml`. The provenance fields (`from`,
/// `declared_in`, ...) are read only by the catalog tests, which keep the data consistent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(test), allow(dead_code))]
struct ScopeSpec {
    name: String,
    product: String,
    kind: ScopeKind,
    access: ScopeAccess,
    description: String,
    #[serde(default)]
    note: Option<String>,
    /// False when no spec's security scheme describes the scope; `description` then says so.
    #[serde(default = "published")]
    description_published: bool,
    /// The spec whose description is used (the first that has one).
    #[serde(default)]
    description_from: Option<String>,
    /// Generated scopes: the specs that declare or require the scope. Empty for hand-written ones.
    #[serde(default)]
    from: Vec<String>,
    /// The specs whose security scheme lists the scope.
    #[serde(default)]
    declared_in: Vec<String>,
    /// How many operations in `operations.json` name the scope.
    #[serde(default)]
    required_by: usize,
    /// Hand-written scopes: where the fact comes from.
    #[serde(default)]
    source: Option<String>,
}

impl ScopeSpec {
    /// The scope as the UI and the rules see it (without its provenance).
    fn info(&self) -> ScopeInfo {
        ScopeInfo {
            name: self.name.clone(),
            product: self.product.clone(),
            kind: self.kind,
            access: self.access,
            description: self.description.clone(),
            note: self.note.clone(),
        }
    }
}

fn published() -> bool {
    true
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
    /// A JSON body, for a read that Atlassian publishes as a POST (a count by JQL).
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    requires_me_endpoint: bool,
    description: String,
}

impl TestCallSpec {
    fn preset(&self) -> TestCallPreset {
        TestCallPreset {
            id: self.id.clone(),
            product: self.product,
            label: self.label.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            needs_scopes: self.needs.clone(),
            body: self.body.clone(),
            description: self.description.clone(),
        }
    }
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
        let hand: ScopesFile = toml::from_str(HAND_SCOPES_FILE)
            .map_err(|e| OnrampError::Catalog(format!("scopes-hand.toml: {e}")))?;
        // Scopes generated from Atlassian's OpenAPI documents by `scripts/scopes-from-specs.py`,
        // packed by build.rs.
        let scopes_text = packed::unpack(packed::SCOPES_TOML)
            .map_err(|e| OnrampError::Catalog(format!("scopes.toml: {e}")))?;
        let generated: ScopesFile = toml::from_str(&scopes_text)
            .map_err(|e| OnrampError::Catalog(format!("scopes.toml: {e}")))?;
        let calls: TestCallsFile = toml::from_str(TEST_CALLS_FILE)
            .map_err(|e| OnrampError::Catalog(format!("test_calls.toml: {e}")))?;
        let presets: PresetsFile = toml::from_str(PRESETS_FILE)
            .map_err(|e| OnrampError::Catalog(format!("scope_presets.toml: {e}")))?;
        Ok(Catalog {
            providers,
            scopes: hand.scope.into_iter().chain(generated.scope).collect(),
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

    /// Every scope of the catalog, once: what `Provider.scope_filter` selects from.
    pub fn scope_infos(&self) -> Vec<ScopeInfo> {
        self.scopes.iter().map(ScopeSpec::info).collect()
    }

    /// Every test call of the catalog, once: what `Provider.test_call_ids` name.
    pub fn test_call_presets(&self) -> Vec<TestCallPreset> {
        self.test_calls.iter().map(TestCallSpec::preset).collect()
    }

    pub fn provider(
        &self,
        provider_id: &str,
        sandbox_base: Option<&str>,
    ) -> Result<Provider, OnrampError> {
        self.resolve_spec(self.spec(provider_id)?, sandbox_base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallbackKind;
    use std::collections::HashSet;

    pub(super) fn catalog() -> Catalog {
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
    fn a_test_call_body_is_json_and_never_on_a_get() {
        let c = catalog();
        for call in c.test_calls.iter().filter(|c| c.body.is_some()) {
            assert_ne!(call.method, "GET", "{}", call.id);
            let body = call.body.as_deref().unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(body).is_ok(),
                "{}: {body}",
                call.id
            );
        }
        assert!(c
            .test_calls
            .iter()
            .any(|c| c.id == "jira-approximate-count"));
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

    #[test]
    fn access_follows_the_scope_verb() {
        for s in &catalog().scopes {
            let verb = s.name.split(':').next().unwrap();
            let expected = match verb {
                "write" | "send" | "redact" => ScopeAccess::Write,
                "delete" => ScopeAccess::Delete,
                "manage" | "moderate" => ScopeAccess::Manage,
                _ => ScopeAccess::Read,
            };
            assert_eq!(s.access, expected, "{}", s.name);
        }
    }

    /// A 3LO provider asks for a refresh token and consent; a client-credentials one has neither
    /// an authorize URL, a callback nor a refresh token to ask for.
    #[test]
    fn every_provider_asks_for_offline_access_and_consent() {
        let c = catalog();
        for spec in &c.providers {
            if spec.grant == crate::model::Grant::ClientCredentials {
                assert!(
                    spec.authorize_url.is_empty() && spec.callbacks.is_empty(),
                    "{}",
                    spec.id
                );
                assert!(spec.default_scopes.is_empty(), "{}", spec.id);
                assert!(!spec.console.steps.is_empty(), "{}", spec.id);
                let p = c.provider(&spec.id, Some("http://127.0.0.1:1")).unwrap();
                assert!(
                    p.scopes.iter().all(|s| s.product != "platform"),
                    "{}",
                    spec.id
                );
                continue;
            }
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
