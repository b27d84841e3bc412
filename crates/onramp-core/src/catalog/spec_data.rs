//! The generated scope data (`scopes.toml`) and operation data (`operations.json`) checked against each
//! other and against `specs-provenance.json`, so they stay consistent without the specs themselves
//! (which are not committed; `scripts/scopes-from-specs.py --check` compares with them).

use super::tests::catalog;
use super::ScopeSpec;
use crate::endpoint_scopes::{all, EndpointScopes};
use crate::model::ScopeKind;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

const PROVENANCE: &str = include_str!("../../catalog/specs-provenance.json");
const SPECS: [&str; 4] = [
    "jira-platform-v3",
    "jira-software",
    "confluence-v2",
    "confluence-v1",
];
const NO_DESCRIPTION: &str = "Atlassian's specs require this scope but publish no description.";

fn provenance() -> Value {
    serde_json::from_str(PROVENANCE).expect("specs-provenance.json parses")
}

fn generated(scopes: &[ScopeSpec]) -> Vec<&ScopeSpec> {
    scopes.iter().filter(|s| s.source.is_none()).collect()
}

/// `(spec, method, path, scope)` of the classic scopes the specs list inside a granular alternative.
fn classic_in_granular() -> HashSet<(String, String, String, String)> {
    provenance()["classicScopesInGranularAlternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let f = |k: &str| m[k].as_str().unwrap().to_string();
            (f("spec"), f("method"), f("pathTemplate"), f("scope"))
        })
        .collect()
}

#[test]
fn every_scope_an_operation_requires_is_in_the_catalog_with_its_product_and_kind() {
    let c = catalog();
    let by_name: HashMap<&str, &ScopeSpec> =
        c.scopes.iter().map(|s| (s.name.as_str(), s)).collect();
    let allowed_mixed = classic_in_granular();
    let mut mixed_seen = HashSet::new();
    for op in all() {
        let lists = [
            (ScopeKind::Classic, &op.classic),
            (ScopeKind::Granular, &op.granular),
        ];
        for (kind, list) in lists {
            for name in list.iter().flatten() {
                let s = by_name
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("{} needs {name}, not in the catalog", op.label()));
                assert_eq!(s.product, op.product, "{name} ({})", op.label());
                if s.kind != kind {
                    let key = (
                        op.spec.clone(),
                        op.method.clone(),
                        op.path_template.clone(),
                        name.clone(),
                    );
                    assert!(
                        kind == ScopeKind::Granular && allowed_mixed.contains(&key),
                        "{name} is {:?} but listed as {kind:?} by {}",
                        s.kind,
                        op.label()
                    );
                    mixed_seen.insert(key);
                }
            }
        }
    }
    assert_eq!(
        mixed_seen, allowed_mixed,
        "the provenance lists stale exceptions"
    );
}

#[test]
fn every_generated_scope_comes_from_a_spec_and_its_counts_hold() {
    let c = catalog();
    let mut required_by: HashMap<&str, usize> = HashMap::new();
    for op in all() {
        let names: HashSet<&String> = op.classic.iter().chain(&op.granular).flatten().collect();
        for name in names {
            *required_by.entry(name.as_str()).or_default() += 1;
        }
    }
    for s in generated(&c.scopes) {
        assert!(!s.from.is_empty(), "{} comes from no spec", s.name);
        for spec in &s.from {
            assert!(
                SPECS.contains(&spec.as_str()),
                "{}: unknown spec {spec}",
                s.name
            );
        }
        assert!(
            s.declared_in.iter().all(|d| s.from.contains(d)),
            "{}",
            s.name
        );
        assert_eq!(
            s.required_by,
            required_by.get(s.name.as_str()).copied().unwrap_or(0),
            "{}: required_by disagrees with operations.json",
            s.name
        );
        assert!(
            s.required_by > 0 || !s.declared_in.is_empty(),
            "{} is neither declared nor required",
            s.name
        );
        assert_ne!(s.kind, ScopeKind::Platform, "{}", s.name);
        // Atlassian's description, or an honest marker that it published none.
        assert_eq!(
            s.description_published,
            !s.declared_in.is_empty(),
            "{}",
            s.name
        );
        assert_eq!(
            s.description_from.is_some(),
            s.description_published,
            "{}",
            s.name
        );
        if !s.description_published {
            assert_eq!(s.description, NO_DESCRIPTION, "{}", s.name);
        }
    }
}

#[test]
fn hand_written_scopes_are_kept_apart_with_their_source() {
    let c = catalog();
    let hand: Vec<&str> = c
        .scopes
        .iter()
        .filter(|s| s.source.is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(hand, ["offline_access", "read:me"]);
    for s in c.scopes.iter().filter(|s| s.source.is_some()) {
        assert!(s.from.is_empty() && s.declared_in.is_empty(), "{}", s.name);
        assert_eq!(s.kind, ScopeKind::Platform, "{}", s.name);
    }
}

#[test]
fn counts_match_the_provenance_of_each_spec() {
    let c = catalog();
    let p = provenance();
    for spec in SPECS {
        let entry = &p["specs"][spec];
        for field in ["repository", "commit", "date", "path", "infoVersion"] {
            assert!(
                entry[field].as_str().is_some_and(|v| !v.is_empty()),
                "{spec}: {field} missing"
            );
        }
        let sha = entry["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{spec}"
        );
        let operations = all().iter().filter(|o| o.spec == spec).count();
        assert_eq!(
            entry["operations"].as_u64(),
            Some(operations as u64),
            "{spec}"
        );
        let scopes = generated(&c.scopes)
            .iter()
            .filter(|s| s.from.iter().any(|f| f == spec))
            .count();
        assert_eq!(entry["scopes"].as_u64(), Some(scopes as u64), "{spec}");
    }
}

#[test]
fn operations_are_unique_and_their_paths_carry_the_gateway_prefix() {
    let mut seen = HashSet::new();
    let prefix = |op: &EndpointScopes| match op.spec.as_str() {
        "jira-platform-v3" => "/rest/",
        "jira-software" => "/rest/",
        "confluence-v2" => "/wiki/api/v2/",
        "confluence-v1" => "/wiki/",
        other => panic!("unknown spec {other}"),
    };
    for op in all() {
        assert!(
            seen.insert((
                op.product.clone(),
                op.method.clone(),
                op.path_template.clone()
            )),
            "{} twice",
            op.label()
        );
        assert!(
            op.path_template.starts_with(prefix(op)),
            "{}: {}",
            op.spec,
            op.label()
        );
        let product = if op.spec.starts_with("jira") {
            "jira"
        } else {
            "confluence"
        };
        assert_eq!(op.product, product, "{}", op.label());
    }
}

#[test]
fn test_calls_name_the_scopes_the_specs_publish() {
    // Each test call's `needs` alternatives are those of its operation, in some order.
    let c = catalog();
    for call in c.test_calls.iter().filter(|c| c.product.is_some()) {
        let op = crate::endpoint_scopes::lookup(&call.method, &call.path)
            .unwrap_or_else(|| panic!("{}: {} {} in no spec", call.id, call.method, call.path));
        let mut published: Vec<Vec<String>> =
            op.classic.iter().chain(&op.granular).cloned().collect();
        let mut needs = call.needs.clone();
        for list in published.iter_mut().chain(needs.iter_mut()) {
            list.sort();
        }
        // An alternative published with no scope means any token will do: `needs = []`.
        if published.iter().any(Vec::is_empty) {
            published.clear();
        }
        published.sort();
        needs.sort();
        assert_eq!(needs, published, "{}", call.id);
    }
}
