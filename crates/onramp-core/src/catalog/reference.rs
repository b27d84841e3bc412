//! The scope data checked against the vendored extract of Atlassian's reference, and that extract
//! against the shared reference when it is present.
//!
//! The scope data now comes from Atlassian's OpenAPI documents (`scripts/scopes-from-specs.py`); the
//! extract (Dec 2025) is an independent witness: every scope it lists must still be in the data with the
//! same product, kind and description, unless it is listed in [`STALE`] with the reason.

use super::tests::catalog;
use crate::model::ScopeKind;
use std::collections::HashSet;

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

const REFERENCE_EXTRACT: &str = include_str!("../../catalog/reference/atlassian-scopes.md");

/// Scopes of the extract that no current spec declares or requires, so the catalog no longer offers them.
const STALE: &[(&str, &str)] = &[(
    "readonly:analytics.content:confluence",
    "In no spec: Confluence v1's analytics operations name read:confluence-content.summary (Current) \
     and read:analytics.content:confluence (Beta); whether the latter replaces it is not published.",
)];

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
            from_reference.insert(name.clone());
            if STALE.iter().any(|(stale, _)| *stale == name) {
                assert!(
                    c.scopes.iter().all(|s| s.name != name),
                    "{name} is listed as stale but still offered"
                );
                continue;
            }
            let s =
                c.scopes.iter().find(|s| s.name == name).unwrap_or_else(|| {
                    panic!("{name} ({heading}) missing and not listed as stale")
                });
            assert_eq!(s.product, product, "{name}");
            assert_eq!(s.kind, kind, "{name}");
            assert_eq!(
                s.description, description,
                "{name}: the spec's description differs from the reference"
            );
        }
    }
    for (stale, _) in STALE {
        assert!(
            from_reference.contains(*stale),
            "{stale} is not in the extract"
        );
    }
    // Everything else in the catalog comes from a spec or is one of the hand-written scopes.
    for s in c
        .scopes
        .iter()
        .filter(|s| !from_reference.contains(&s.name))
    {
        assert!(
            !s.from.is_empty() || s.source.is_some(),
            "{} comes from neither a spec nor a hand-written source",
            s.name
        );
    }
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
