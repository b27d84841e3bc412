//! Rules about chosen scopes: the guards shown in step 3, and "requested vs granted" after consent.

use std::collections::BTreeSet;

use crate::model::{
    AdviceCode, Provider, ScopeAccess, ScopeAdvice, ScopeGrant, ScopeKind, ScopeReport,
    ScopeWarning, Severity, Site, TestCallPreset,
};

/// Atlassian recommends fewer than 50 scopes per app (reference §1.1, §8.1).
pub const RECOMMENDED_MAX_SCOPES: u32 = 50;

/// Whether a set of scopes satisfies a test call: all scopes of at least one alternative.
pub fn satisfies(call: &TestCallPreset, scopes: &BTreeSet<&str>) -> bool {
    call.needs_scopes.is_empty()
        || call
            .needs_scopes
            .iter()
            .any(|alt| alt.iter().all(|s| scopes.contains(s.as_str())))
}

/// What step 3 preselects: the provider's default scopes plus the first (classic) alternative of
/// each test call, limited to offered scopes; a custom provider's own scopes are all preselected.
pub fn suggested(provider: &Provider) -> Vec<String> {
    if provider.custom.is_some() {
        return provider.scopes.iter().map(|s| s.name.clone()).collect();
    }
    let wanted = provider.default_scopes.iter().chain(
        provider
            .test_calls
            .iter()
            .filter_map(|c| c.needs_scopes.first())
            .flatten(),
    );
    let mut out: Vec<String> = Vec::new();
    for s in wanted {
        if provider.scopes.iter().any(|i| &i.name == s) && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Ids of the test calls a set of granted scopes allows.
pub fn runnable_test_calls(provider: &Provider, granted: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = granted.iter().map(String::as_str).collect();
    provider
        .test_calls
        .iter()
        .filter(|c| satisfies(c, &set))
        .map(|c| c.id.clone())
        .collect()
}

pub fn advise(provider: &Provider, chosen: &[String]) -> ScopeAdvice {
    let set: BTreeSet<&str> = chosen.iter().map(String::as_str).collect();
    let info = |name: &str| provider.scopes.iter().find(|s| s.name == name);
    let mut warnings = Vec::new();
    let atlassian_like = provider.has_sites;

    if atlassian_like && !set.contains("offline_access") {
        warnings.push(ScopeWarning {
            code: AdviceCode::OfflineAccessMissing,
            severity: Severity::Warning,
            message: "offline_access is not selected: no refresh token will be issued, so the connection stops working when the access token expires (about an hour on Atlassian).".into(),
            scopes: vec!["offline_access".into()],
        });
    }
    let count = set.len() as u32;
    if count > RECOMMENDED_MAX_SCOPES {
        warnings.push(ScopeWarning {
            code: AdviceCode::TooManyScopes,
            severity: Severity::Warning,
            message: format!("{count} scopes selected. Atlassian recommends fewer than {RECOMMENDED_MAX_SCOPES} per app; prefer classic scopes where they cover what you need."),
            scopes: Vec::new(),
        });
    }
    let unknown: Vec<String> = set
        .iter()
        .filter(|s| info(s).is_none())
        .map(|s| s.to_string())
        .collect();
    if !unknown.is_empty() && provider.custom.is_none() {
        warnings.push(ScopeWarning {
            code: AdviceCode::UnknownScopes,
            severity: Severity::Warning,
            message: format!("{} not in Onramp's catalog for {}: check the spelling; an unknown scope fails at the consent screen.", plural(&unknown, "is", "are"), provider.display_name),
            scopes: unknown,
        });
    }
    // Confluence v2 accepts only granular scopes (reference §6.2, §8.3).
    let classic_confluence: Vec<String> = set
        .iter()
        .filter(|s| {
            info(s).is_some_and(|i| i.product == "confluence" && i.kind == ScopeKind::Classic)
        })
        .map(|s| s.to_string())
        .collect();
    let granular_confluence = set.iter().any(|s| {
        info(s).is_some_and(|i| i.product == "confluence" && i.kind == ScopeKind::Granular)
    });
    let has_v2_calls = provider
        .test_calls
        .iter()
        .any(|c| c.path.starts_with("/wiki/api/v2/"));
    if has_v2_calls && !classic_confluence.is_empty() && !granular_confluence {
        warnings.push(ScopeWarning {
            code: AdviceCode::ConfluenceV2NeedsGranular,
            severity: Severity::Warning,
            message: "Only classic Confluence scopes are selected. Confluence's v2 API (/wiki/api/v2/…) rejects them with 401 \"scope does not match\"; add granular scopes such as read:space:confluence and read:page:confluence.".into(),
            scopes: classic_confluence,
        });
    }
    if set.contains("read:me") && atlassian_like {
        warnings.push(ScopeWarning {
            code: AdviceCode::UserIdentityApi,
            severity: Severity::Info,
            message: "read:me needs the User Identity API added to the app under Permissions in the developer console.".into(),
            scopes: vec!["read:me".into()],
        });
    }
    let risky: Vec<String> = set
        .iter()
        .filter(|s| {
            info(s).is_some_and(|i| {
                matches!(
                    i.access,
                    ScopeAccess::Write | ScopeAccess::Delete | ScopeAccess::Manage
                )
            })
        })
        .map(|s| s.to_string())
        .collect();
    if !risky.is_empty() {
        warnings.push(ScopeWarning {
            code: AdviceCode::ChangesData,
            severity: Severity::Info,
            message: format!("{} can change, delete or administer data. Keep {} only if your integration needs {}.", plural(&risky, "scope", "scopes"), if risky.len() == 1 { "it" } else { "them" }, if risky.len() == 1 { "it" } else { "them" }),
            scopes: risky.clone(),
        });
    }
    let enabled_test_calls = runnable_test_calls(provider, chosen);
    ScopeAdvice {
        count,
        recommended_max: RECOMMENDED_MAX_SCOPES,
        warnings,
        risky,
        enabled_test_calls,
    }
}

fn plural(items: &[String], one: &str, many: &str) -> String {
    if items.len() == 1 {
        format!("{} {one}", items[0])
    } else {
        format!("{} {many}", items.join(", "))
    }
}

/// Whether a scope is granted per site (product scopes) rather than to the account.
fn site_scoped(provider: &Provider, scope: &str) -> bool {
    provider
        .scopes
        .iter()
        .find(|s| s.name == scope)
        .is_some_and(|s| s.product == "jira" || s.product == "confluence")
}

/// Requested vs granted. Granted = the token response's `scope` (absent = as requested, RFC 6749
/// §5.1) and, for product scopes, the site's `scopes` from accessible-resources.
pub fn report(
    provider: &Provider,
    requested: &[String],
    token_scopes: &[String],
    sites: &[Site],
    site_source: Option<String>,
) -> ScopeReport {
    let requested_set: BTreeSet<&str> = requested.iter().map(String::as_str).collect();
    let in_token: BTreeSet<&str> = token_scopes.iter().map(String::as_str).collect();
    let on_sites: Option<BTreeSet<&str>> = (!sites.is_empty()).then(|| {
        sites
            .iter()
            .flat_map(|s| s.scopes.iter().map(String::as_str))
            .collect()
    });
    let granted_overall = |scope: &str| {
        in_token.contains(scope)
            && match (&on_sites, site_scoped(provider, scope)) {
                (Some(site), true) => site.contains(scope),
                _ => true,
            }
    };
    let granted: BTreeSet<&str> = requested_set
        .iter()
        .chain(in_token.iter())
        .copied()
        .filter(|s| granted_overall(s))
        .collect();
    let all: BTreeSet<&str> = requested_set.union(&in_token).copied().collect();
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for scope in all {
        let is_requested = requested_set.contains(scope);
        let on_site = match (&on_sites, site_scoped(provider, scope)) {
            (Some(site), true) => Some(site.contains(scope)),
            _ => None,
        };
        let ok = granted_overall(scope);
        let disables = if is_requested && !ok {
            missing.push(scope.to_string());
            provider
                .test_calls
                .iter()
                .filter(|c| satisfies(c, &requested_set) && !satisfies(c, &granted))
                .filter(|c| {
                    c.needs_scopes
                        .iter()
                        .any(|alt| alt.iter().any(|s| s == scope))
                })
                .map(|c| c.label.clone())
                .collect()
        } else {
            Vec::new()
        };
        rows.push(ScopeGrant {
            scope: scope.to_string(),
            requested: is_requested,
            in_token: in_token.contains(scope),
            on_site,
            disables,
        });
    }
    ScopeReport {
        rows,
        missing,
        site_source: on_sites.map(|_| site_source.unwrap_or_else(|| "the listed sites".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn provider(id: &str) -> Provider {
        Catalog::load()
            .unwrap()
            .provider(id, Some("http://127.0.0.1:1"))
            .unwrap()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn codes(a: &ScopeAdvice) -> Vec<AdviceCode> {
        a.warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn suggested_scopes_are_defaults_plus_what_test_calls_need() {
        let s = suggested(&provider("atlassian"));
        assert_eq!(
            s,
            [
                "offline_access",
                "read:me",
                "read:jira-user",
                "read:jira-work",
                "read:space:confluence",
                "read:page:confluence"
            ]
        );
        let jira = suggested(&provider("jira"));
        assert!(jira.iter().all(|x| !x.contains("confluence")));
        let agc = suggested(&provider("atlassian-government-cloud"));
        assert!(!agc.contains(&"read:me".to_string()), "no /me on AGC");
    }

    #[test]
    fn runnable_test_calls_follow_granted_scopes() {
        let p = provider("atlassian");
        let r = runnable_test_calls(&p, &s(&["read:jira-user"]));
        assert!(
            r.contains(&"jira-myself".to_string()) && r.contains(&"jira-server-info".to_string())
        );
        assert!(!r.contains(&"confluence-spaces".to_string()));
    }

    #[test]
    fn missing_offline_access_is_a_warning() {
        let a = advise(&provider("atlassian"), &s(&["read:jira-work"]));
        assert!(codes(&a).contains(&AdviceCode::OfflineAccessMissing));
        let b = advise(
            &provider("atlassian"),
            &s(&["read:jira-work", "offline_access"]),
        );
        assert!(!codes(&b).contains(&AdviceCode::OfflineAccessMissing));
    }

    #[test]
    fn classic_only_confluence_scopes_warn_about_v2() {
        let p = provider("confluence");
        let a = advise(
            &p,
            &s(&[
                "offline_access",
                "read:confluence-content.all",
                "read:confluence-space.summary",
            ]),
        );
        let w = a
            .warnings
            .iter()
            .find(|w| w.code == AdviceCode::ConfluenceV2NeedsGranular)
            .expect("v2 warning");
        assert_eq!(w.scopes.len(), 2);
        let b = advise(
            &p,
            &s(&[
                "offline_access",
                "read:confluence-content.all",
                "read:space:confluence",
            ]),
        );
        assert!(!codes(&b).contains(&AdviceCode::ConfluenceV2NeedsGranular));
    }

    #[test]
    fn more_than_fifty_scopes_is_a_warning() {
        let p = provider("jira");
        let many: Vec<String> = p.scopes.iter().take(51).map(|s| s.name.clone()).collect();
        let a = advise(&p, &many);
        assert_eq!(a.count, 51);
        assert!(codes(&a).contains(&AdviceCode::TooManyScopes));
        let fifty: Vec<String> = many[..50].to_vec();
        assert!(!codes(&advise(&p, &fifty)).contains(&AdviceCode::TooManyScopes));
    }

    #[test]
    fn write_delete_manage_scopes_are_marked() {
        let a = advise(
            &provider("atlassian"),
            &s(&[
                "offline_access",
                "read:jira-work",
                "write:jira-work",
                "delete:page:confluence",
                "manage:jira-project",
            ]),
        );
        assert_eq!(
            a.risky,
            s(&[
                "delete:page:confluence",
                "manage:jira-project",
                "write:jira-work"
            ])
        );
        assert!(codes(&a).contains(&AdviceCode::ChangesData));
    }

    #[test]
    fn unknown_scopes_are_named() {
        let a = advise(&provider("jira"), &s(&["offline_access", "read:jira-wrok"]));
        let w = a
            .warnings
            .iter()
            .find(|w| w.code == AdviceCode::UnknownScopes)
            .unwrap();
        assert_eq!(w.scopes, s(&["read:jira-wrok"]));
    }

    #[test]
    fn enabled_test_calls_follow_the_alternatives() {
        let p = provider("atlassian");
        let classic = advise(&p, &s(&["read:jira-user"]));
        assert!(classic
            .enabled_test_calls
            .contains(&"jira-myself".to_string()));
        let granular = advise(
            &p,
            &s(&[
                "read:application-role:jira",
                "read:group:jira",
                "read:user:jira",
                "read:avatar:jira",
            ]),
        );
        assert!(granular
            .enabled_test_calls
            .contains(&"jira-myself".to_string()));
        let partial = advise(&p, &s(&["read:user:jira"]));
        assert!(!partial
            .enabled_test_calls
            .contains(&"jira-myself".to_string()));
        // Calls that need no scope are always enabled.
        assert!(partial
            .enabled_test_calls
            .contains(&"jira-server-info".to_string()));
    }

    fn site(scopes: &[&str]) -> Site {
        Site {
            id: "c1".into(),
            name: "Acme".into(),
            url: "https://acme.example".into(),
            scopes: s(scopes),
            avatar_url: None,
            key: String::new(),
            products: Vec::new(),
        }
    }

    #[test]
    fn report_names_what_a_missing_scope_disables() {
        let p = provider("atlassian");
        let requested = s(&["offline_access", "read:jira-user", "read:space:confluence"]);
        let token = s(&["offline_access", "read:jira-user"]);
        let r = report(&p, &requested, &token, &[site(&["read:jira-user"])], None);
        assert_eq!(r.missing, s(&["read:space:confluence"]));
        let row = r
            .rows
            .iter()
            .find(|g| g.scope == "read:space:confluence")
            .unwrap();
        assert!(row.requested && !row.in_token);
        assert_eq!(row.on_site, Some(false));
        assert_eq!(row.disables, s(&["Confluence v2: first space"]));
        let offline = r.rows.iter().find(|g| g.scope == "offline_access").unwrap();
        assert_eq!(offline.on_site, None, "offline_access is not a site scope");
        assert!(offline.disables.is_empty());
    }

    #[test]
    fn report_uses_the_site_too() {
        let p = provider("atlassian");
        let requested = s(&["offline_access", "read:jira-user"]);
        // The token has it, but the chosen site does not: still missing there.
        let r = report(
            &p,
            &requested,
            &requested,
            &[site(&[])],
            Some("site Acme".into()),
        );
        assert_eq!(r.missing, s(&["read:jira-user"]));
        assert_eq!(r.site_source.as_deref(), Some("site Acme"));
        // No site known yet: only the token counts.
        let r = report(&p, &requested, &requested, &[], None);
        assert!(r.missing.is_empty());
        assert_eq!(r.site_source, None);
    }
}
