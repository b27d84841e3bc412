//! "What do I need to call X?" for one integration: the API console's verdict on a request being
//! typed (step 6), and the scope picker's proposal for chosen operations (step 3). The facts come
//! from [`crate::endpoint_scopes`]; this module adds the provider (its products) and the
//! integration (its granted or chosen scopes).

use std::collections::BTreeSet;

use serde::Serialize;
use ts_rs::TS;

use crate::endpoint_scopes::{
    self, EndpointScopes, ProposedScopes, ScopePreference, ScopeSatisfaction,
};
use crate::model::{ProductId, Provider};

/// Most operations one search returns: the picker shows a short list, not the 1,069 operations.
pub const SEARCH_LIMIT: usize = 40;

/// The API console's note beside a request being typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAdvice {
    /// The operation the method and path call; None: no operation of Atlassian's published specs
    /// matches (not an error: internal or newer endpoints exist).
    pub operation: Option<EndpointScopes>,
    /// The operation's alternatives against the connection's granted scopes; None without an
    /// operation or without a connection.
    pub satisfaction: Option<ScopeSatisfaction>,
    /// Whether the specs apply at all: false for a custom provider (they describe Atlassian).
    pub applies: bool,
    /// The path names a product operation but goes to the gateway without that product's
    /// `/ex/<product>/<cloudId>` prefix, where it would not be found.
    pub missing_prefix: bool,
    /// When the granted scopes cover neither alternative: how to get a token that has them, which
    /// depends on the grant (a user's consent changes with a new authorization; a service account's
    /// scopes are fixed in its credential).
    pub missing_scope_remedy: Option<String>,
}

/// How a missing scope is added, by grant.
fn missing_scope_remedy(provider: &Provider) -> String {
    match provider.grant {
        crate::model::Grant::ClientCredentials => "Expect 401 \"scope does not match\". A service account's scopes are fixed in its credential: in admin.atlassian.com (Directory → Service accounts) create a new OAuth 2.0 credential with one of these, then save its client ID and secret in step 2.".into(),
        crate::model::Grant::AuthorizationCode => "Expect 401 \"scope does not match\". Add one of these in step 3, then authorize again: scopes only change with a new consent.".into(),
    }
}

/// Whether the provider speaks Atlassian's APIs (every catalog provider; not a custom one).
fn atlassian_apis(provider: &Provider) -> bool {
    provider.custom.is_none() && !provider.products.is_empty()
}

/// The product ids a provider offers, as `operations.json` names them.
fn products(provider: &Provider) -> Vec<&'static str> {
    provider
        .products
        .iter()
        .map(|p| p.id.gateway_segment())
        .collect()
}

/// The operation a console request calls, and whether `granted` (None: not connected) covers it.
/// `path` is relative to `product`'s gateway path when a product is given, else to the gateway.
pub fn advise(
    provider: &Provider,
    method: &str,
    product: Option<ProductId>,
    path: &str,
    granted: Option<&[String]>,
) -> EndpointAdvice {
    if !atlassian_apis(provider) {
        return EndpointAdvice {
            operation: None,
            satisfaction: None,
            applies: false,
            missing_prefix: false,
            missing_scope_remedy: None,
        };
    }
    let path = path.trim();
    // The product's gateway prefix restricts the lookup to that product; the cloudId is not needed.
    let full = match product {
        Some(p) => format!(
            "/ex/{}/-/{}",
            p.gateway_segment(),
            path.trim_start_matches('/')
        ),
        None => path.to_string(),
    };
    let operation = endpoint_scopes::lookup(method.trim(), &full)
        .filter(|op| products(provider).contains(&op.product.as_str()));
    let satisfaction = operation
        .as_ref()
        .zip(granted)
        .map(|(op, granted)| op.satisfied_by(granted));
    let missing_scope_remedy = satisfaction
        .as_ref()
        .is_some_and(|s| s.verdict == endpoint_scopes::Verdict::Neither)
        .then(|| missing_scope_remedy(provider));
    EndpointAdvice {
        missing_prefix: product.is_none() && !path.starts_with("/ex/") && operation.is_some(),
        missing_scope_remedy,
        operation,
        satisfaction,
        applies: true,
    }
}

/// Operations of the provider's products matching `query` (method, path, summary or operationId),
/// at most `limit` (capped at [`SEARCH_LIMIT`]). A pasted request (`/rest/api/3/issue/PROJ-1`, a
/// gateway URL, optionally after its method) finds the operation it calls first, concrete ids and
/// all. An empty query lists nothing.
pub fn search(provider: &Provider, query: &str, limit: usize) -> Vec<EndpointScopes> {
    if !atlassian_apis(provider) || query.trim().is_empty() {
        return Vec::new();
    }
    let limit = limit.min(SEARCH_LIMIT);
    let offered = products(provider);
    let mut found: Vec<EndpointScopes> = called_by(query)
        .into_iter()
        .filter(|op| offered.contains(&op.product.as_str()))
        .collect();
    let product = (offered.len() == 1).then(|| offered[0]);
    for op in endpoint_scopes::search(query, product, usize::MAX) {
        if found.len() >= limit {
            break;
        }
        if offered.contains(&op.product.as_str()) && !found.contains(&op) {
            found.push(op);
        }
    }
    found.truncate(limit);
    found
}

/// The operations a pasted request calls: with its method when given, else with each method.
fn called_by(query: &str) -> Vec<EndpointScopes> {
    let query = query.trim();
    let (method, path) = match query.split_once(char::is_whitespace) {
        Some((m, p)) if crate::gateway::METHODS.contains(&m.to_ascii_uppercase().as_str()) => {
            (Some(m), p.trim())
        }
        _ => (None, query),
    };
    if !(path.starts_with('/') || path.starts_with("http://") || path.starts_with("https://")) {
        return Vec::new();
    }
    match method {
        Some(m) => endpoint_scopes::lookup(m, path).into_iter().collect(),
        None => crate::gateway::METHODS
            .iter()
            .filter_map(|m| endpoint_scopes::lookup(m, path))
            .collect(),
    }
}

/// The scope picker's proposal, and the selection that applying it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScopeProposal {
    /// The chosen operations found, in the order given.
    pub operations: Vec<EndpointScopes>,
    /// Chosen "METHOD /path" labels that are not operations of this provider's products.
    pub unknown: Vec<String>,
    /// The smallest scope set, each scope with the chosen operations that need it.
    pub proposed: ProposedScopes,
    /// Scopes kept from the current selection although no chosen operation needs them:
    /// `offline_access` (the refresh token), the provider's defaults, and other platform scopes
    /// such as `read:me` that no product API operation names.
    pub kept: Vec<String>,
    /// Currently chosen scopes that applying would drop.
    pub dropped: Vec<String>,
    /// The whole selection after applying: proposed + kept, without repeats.
    pub apply: Vec<String>,
}

/// The smallest scope set for the chosen operations (labels "METHOD /path/template"), and what
/// applying it to `current` keeps and drops.
pub fn propose(
    provider: &Provider,
    labels: &[String],
    prefer: ScopePreference,
    current: &[String],
) -> ScopeProposal {
    let offered = products(provider);
    let mut operations = Vec::new();
    let mut unknown = Vec::new();
    for label in labels {
        let found = atlassian_apis(provider)
            .then(|| {
                endpoint_scopes::all()
                    .iter()
                    .find(|op| op.label() == *label && offered.contains(&op.product.as_str()))
            })
            .flatten();
        match found {
            Some(op) if !operations.contains(op) => operations.push(op.clone()),
            Some(_) => {}
            None => unknown.push(label.clone()),
        }
    }
    let proposed = endpoint_scopes::smallest_scope_set(&operations, prefer);
    let platform = |name: &str| {
        provider
            .scopes
            .iter()
            .any(|s| s.name == name && s.product == "platform")
    };
    // offline_access first: without it the connection ends with the access token.
    let mut wanted_always: Vec<String> = Vec::new();
    if provider.scopes.iter().any(|i| i.name == "offline_access") {
        wanted_always.push("offline_access".into());
    }
    wanted_always.extend(provider.default_scopes.iter().cloned());
    wanted_always.extend(current.iter().filter(|s| platform(s)).cloned());
    let mut kept: Vec<String> = Vec::new();
    let proposed_names: BTreeSet<&str> = proposed.scopes.iter().map(|s| s.name.as_str()).collect();
    for scope in wanted_always {
        if !proposed_names.contains(scope.as_str()) && !kept.contains(&scope) {
            kept.push(scope);
        }
    }
    let apply: Vec<String> = kept
        .iter()
        .cloned()
        .chain(proposed.scopes.iter().map(|s| s.name.clone()))
        .collect();
    let dropped = current
        .iter()
        .filter(|s| !apply.contains(s))
        .cloned()
        .collect();
    ScopeProposal {
        operations,
        unknown,
        proposed,
        kept,
        dropped,
        apply,
    }
}

#[cfg(test)]
#[path = "endpoint_advice_tests.rs"]
mod tests;
