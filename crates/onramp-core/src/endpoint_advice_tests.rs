use super::*;
use crate::catalog::Catalog;
use crate::endpoint_scopes::Verdict;

fn provider(id: &str) -> Provider {
    Catalog::load().unwrap().provider(id, None).unwrap()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_typed_request_is_matched_and_checked_against_the_granted_scopes() {
    let p = provider("atlassian");
    let granted = strings(&["offline_access", "read:jira-work"]);
    let read = advise(
        &p,
        "get",
        Some(ProductId::Jira),
        "/rest/api/3/issue/PROJ-1",
        Some(&granted),
    );
    assert_eq!(read.operation.as_ref().unwrap().operation_id, "getIssue");
    assert_eq!(read.satisfaction.unwrap().verdict, Verdict::Classic);
    let write = advise(
        &p,
        "POST",
        Some(ProductId::Jira),
        "/rest/api/3/issue",
        Some(&granted),
    );
    assert_eq!(read.missing_scope_remedy, None, "nothing missing");
    assert!(write
        .missing_scope_remedy
        .as_deref()
        .is_some_and(|r| r.contains("authorize again")));
    // A service account cannot consent again: its credential carries the scopes.
    let service_account = advise(
        &provider("atlassian-service-account"),
        "POST",
        Some(ProductId::Jira),
        "/rest/api/3/issue",
        Some(&granted),
    );
    let remedy = service_account.missing_scope_remedy.unwrap();
    assert!(remedy.contains("new OAuth 2.0 credential"), "{remedy}");
    assert!(!remedy.contains("authorize again"), "{remedy}");
    let s = write.satisfaction.unwrap();
    assert_eq!(s.verdict, Verdict::Neither);
    assert_eq!(s.missing_classic, Some(strings(&["write:jira-work"])));
    // The gateway form (no product chosen) finds the same operation.
    let gateway = advise(
        &p,
        "GET",
        None,
        "/ex/jira/{cloudId}/rest/api/3/issue/PROJ-1",
        None,
    );
    assert!(!gateway.missing_prefix && !read.missing_prefix);
    // A Jira path sent to the gateway itself misses /ex/jira/{cloudId}: said, not hidden.
    let bare = advise(&p, "GET", None, "/rest/api/3/myself", None);
    assert!(bare.missing_prefix);
    assert_eq!(bare.operation.unwrap().product, "jira");
    assert_eq!(gateway.operation.unwrap().operation_id, "getIssue");
    assert_eq!(
        gateway.satisfaction, None,
        "not connected: nothing to compare"
    );
}

#[test]
fn an_unknown_path_or_another_products_path_has_no_operation() {
    let p = provider("jira");
    let unknown = advise(
        &p,
        "GET",
        Some(ProductId::Jira),
        "/rest/api/3/nothing-here",
        Some(&[]),
    );
    assert!(unknown.applies && unknown.operation.is_none() && unknown.satisfaction.is_none());
    // The Jira provider has no Confluence: a Confluence path is not its operation.
    let other = advise(
        &p,
        "GET",
        None,
        "/ex/confluence/c1/wiki/api/v2/spaces",
        Some(&[]),
    );
    assert!(other.operation.is_none());
}

#[test]
fn a_custom_provider_gets_no_atlassian_advice() {
    let mut p = provider("atlassian");
    p.custom = Some(crate::model::CustomProviderInput {
        name: "Look-alike".into(),
        authorize_url: "https://auth.example.com/authorize".into(),
        token_url: "https://auth.example.com/token".into(),
        scopes: vec![],
        extra_params: vec![],
        client_auth: crate::model::ClientAuth::Basic,
        pkce: true,
        test_call_url: None,
        issuer: None,
    });
    assert!(!advise(&p, "GET", None, "/rest/api/3/myself", None).applies);
    assert!(search(&p, "issue", 10).is_empty());
}

#[test]
fn search_is_limited_to_the_providers_products() {
    let confluence = provider("confluence");
    let found = search(&confluence, "page", 10);
    assert!(!found.is_empty() && found.len() <= 10);
    assert!(found.iter().all(|op| op.product == "confluence"));
    let jira = provider("jira");
    assert!(search(&jira, "page", 40)
        .iter()
        .all(|op| op.product == "jira"));
    let both = provider("atlassian");
    let mixed = search(&both, "get", SEARCH_LIMIT);
    assert_eq!(mixed.len(), SEARCH_LIMIT, "capped");
    assert_eq!(
        search(&both, "get", 1000).len(),
        SEARCH_LIMIT,
        "never more than the cap"
    );
    assert!(
        search(&both, "  ", 10).is_empty(),
        "an empty query lists nothing"
    );
    // By operationId and by summary.
    assert_eq!(
        search(&jira, "countIssues", 5)[0].path_template,
        "/rest/api/3/search/approximate-count"
    );
    assert!(search(&jira, "create issue", 5)
        .iter()
        .any(|op| op.operation_id == "createIssue"));
}

fn labels(names: &[&str]) -> Vec<String> {
    strings(names)
}

#[test]
fn the_proposal_covers_every_chosen_operation_and_applying_keeps_offline_access() {
    let p = provider("atlassian");
    let chosen = labels(&[
        "GET /rest/api/3/issue/{issueIdOrKey}",
        "GET /wiki/api/v2/pages/{id}",
    ]);
    let current = strings(&[
        "offline_access",
        "read:me",
        "read:jira-user",
        "write:jira-work",
    ]);
    for prefer in [ScopePreference::Classic, ScopePreference::Granular] {
        let proposal = propose(&p, &chosen, prefer, &current);
        assert_eq!(proposal.operations.len(), 2);
        assert!(proposal.unknown.is_empty());
        for op in &proposal.operations {
            let s = op.satisfied_by(&proposal.apply);
            assert_ne!(
                s.verdict,
                Verdict::Neither,
                "{} covered ({prefer:?})",
                op.label()
            );
        }
        // Nothing needed is dropped, nothing unneeded is proposed: each scope has a user.
        assert!(proposal
            .proposed
            .scopes
            .iter()
            .all(|s| !s.needed_by.is_empty()));
        assert_eq!(
            &proposal.apply[..2],
            &strings(&["offline_access", "read:me"])[..]
        );
        assert_eq!(proposal.kept, strings(&["offline_access", "read:me"]));
        assert!(proposal.dropped.contains(&"write:jira-work".to_string()));
    }
    let classic = propose(&p, &chosen, ScopePreference::Classic, &current);
    let names: Vec<&str> = classic
        .proposed
        .scopes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    // Confluence v2 publishes no classic alternative: its granular scope even when classic is preferred.
    assert_eq!(names, ["read:jira-work", "read:page:confluence"]);
    let granular = propose(&p, &chosen, ScopePreference::Granular, &[]);
    assert!(granular
        .proposed
        .scopes
        .iter()
        .all(|s| s.name != "read:jira-work"));
    assert_eq!(
        granular.kept,
        strings(&["offline_access"]),
        "kept even when not chosen now"
    );
}

#[test]
fn unknown_and_unpublished_operations_are_listed_apart() {
    let p = provider("jira");
    let chosen = labels(&[
        "GET /wiki/api/v2/pages/{id}",
        "GET /rest/api/3/myself",
        "GET /rest/api/3/myself",
    ]);
    let proposal = propose(&p, &chosen, ScopePreference::Classic, &[]);
    assert_eq!(
        proposal.unknown,
        labels(&["GET /wiki/api/v2/pages/{id}"]),
        "not a Jira operation"
    );
    assert_eq!(proposal.operations.len(), 1, "a repeat counts once");
    let unpublished = endpoint_scopes::all()
        .iter()
        .find(|op| op.product == "jira" && op.classic.is_none() && op.granular.is_none())
        .expect("the specs have operations without OAuth 2.0 scopes");
    let proposal = propose(&p, &[unpublished.label()], ScopePreference::Granular, &[]);
    assert_eq!(proposal.proposed.not_published, vec![unpublished.label()]);
    assert!(proposal.proposed.scopes.is_empty());
}

#[test]
fn a_pasted_request_finds_the_operation_it_calls_first() {
    let p = provider("atlassian");
    let found = search(&p, "/rest/api/3/issue/PROJ-7", 10);
    let ids: Vec<&str> = found.iter().map(|op| op.operation_id.as_str()).collect();
    // GET, PUT and DELETE of one issue, in the order of the methods; nothing else matches ids.
    assert_eq!(ids, ["getIssue", "editIssue", "deleteIssue"]);
    let url = "POST https://api.atlassian.com/ex/confluence/c1/wiki/api/v2/pages";
    assert_eq!(search(&p, url, 5)[0].operation_id, "createPage");
    // The Jira provider: a Confluence request is not its operation.
    assert!(search(&provider("jira"), url, 5).is_empty());
}
