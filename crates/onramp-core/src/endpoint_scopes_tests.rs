use super::*;

fn s(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn found(method: &str, path: &str) -> EndpointScopes {
    lookup(method, path).unwrap_or_else(|| panic!("{method} {path} not found"))
}

#[test]
fn the_data_loads_every_operation_of_the_four_specs() {
    let specs: std::collections::BTreeSet<&str> = all().iter().map(|o| o.spec.as_str()).collect();
    assert_eq!(
        specs.into_iter().collect::<Vec<_>>(),
        [
            "confluence-v1",
            "confluence-v2",
            "jira-platform-v3",
            "jira-software"
        ]
    );
    assert!(all().len() > 1000, "{} operations", all().len());
}

#[test]
fn a_jira_issue_key_matches_the_templated_segment() {
    let op = found("GET", "/rest/api/3/issue/PROJ-1");
    assert_eq!(op.path_template, "/rest/api/3/issue/{issueIdOrKey}");
    assert_eq!(op.operation_id, "getIssue");
    assert_eq!(op.spec, "jira-platform-v3");
    assert_eq!(op.classic, Some(s(&["read:jira-work"])));
    let granular = op.granular.unwrap();
    assert!(granular.contains(&"read:issue:jira".to_string()));
}

#[test]
fn a_gateway_path_and_a_full_url_with_a_query_find_the_same_operation() {
    let site = found("GET", "/rest/api/3/issue/PROJ-1/comment");
    let gateway = found(
        "GET",
        "/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/issue/PROJ-1/comment",
    );
    let url = found(
        "get",
        "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/issue/PROJ-1/comment?startAt=0&maxResults=5#top",
    );
    assert_eq!(
        site.path_template,
        "/rest/api/3/issue/{issueIdOrKey}/comment"
    );
    assert_eq!(gateway, site);
    assert_eq!(url, site);
}

#[test]
fn a_site_url_works_too() {
    let op = found("GET", "https://your-domain.atlassian.net/rest/api/3/myself");
    assert_eq!(op.operation_id, "getCurrentUser");
    assert_eq!(op.classic, Some(s(&["read:jira-user"])));
}

#[test]
fn a_literal_segment_beats_a_parameter() {
    assert_eq!(
        found("GET", "/rest/api/3/issue/createmeta").path_template,
        "/rest/api/3/issue/createmeta"
    );
    assert_eq!(
        found("GET", "/rest/api/3/issue/picker").path_template,
        "/rest/api/3/issue/picker"
    );
    assert_eq!(
        found("GET", "/rest/api/3/issue/createmet").path_template,
        "/rest/api/3/issue/{issueIdOrKey}"
    );
}

#[test]
fn confluence_v2_paths_carry_the_servers_prefix() {
    let op = found(
        "GET",
        "/ex/confluence/abc-123/wiki/api/v2/pages/98765?body-format=storage",
    );
    assert_eq!(op.path_template, "/wiki/api/v2/pages/{id}");
    assert_eq!(op.spec, "confluence-v2");
    assert_eq!(
        op.classic, None,
        "Confluence v2 publishes granular scopes only"
    );
    assert_eq!(op.granular, Some(s(&["read:page:confluence"])));
}

#[test]
fn confluence_v1_has_a_classic_and_a_granular_alternative() {
    let op = found("GET", "/wiki/rest/api/search?cql=type=page");
    assert_eq!(op.spec, "confluence-v1");
    assert_eq!(op.classic, Some(s(&["search:confluence"])));
    assert_eq!(op.granular, Some(s(&["read:content-details:confluence"])));
}

#[test]
fn jira_software_paths_are_found_with_their_granular_scopes() {
    let op = found("GET", "/ex/jira/c1/rest/agile/1.0/board/42/sprint");
    assert_eq!(op.spec, "jira-software");
    assert_eq!(op.path_template, "/rest/agile/1.0/board/{boardId}/sprint");
    assert_eq!(op.classic, None);
    assert_eq!(op.granular, Some(s(&["read:sprint:jira-software"])));
}

#[test]
fn the_ex_product_restricts_the_search() {
    assert!(lookup("GET", "/ex/confluence/c1/rest/api/3/issue/PROJ-1").is_none());
    assert!(lookup("GET", "/ex/jira/c1/wiki/api/v2/pages/1").is_none());
    assert!(lookup("GET", "/ex/jira/c1/rest/api/3/issue/PROJ-1").is_some());
}

#[test]
fn unknown_paths_and_wrong_methods_find_nothing() {
    assert!(lookup("GET", "/rest/api/3/no-such-thing/1").is_none());
    assert!(lookup("GET", "/").is_none());
    assert!(lookup("GET", "/ex/jira/c1").is_none());
    assert!(lookup("GET", "").is_none());
    assert!(lookup("PATCH", "/rest/api/3/issue/PROJ-1").is_none());
    assert!(lookup("FETCH", "/rest/api/3/myself").is_none());
}

#[test]
fn the_search_endpoint_being_removed_is_still_published_and_deprecated() {
    let op = found("GET", "/rest/api/3/search?jql=project=PROJ");
    assert!(op.deprecated);
    assert!(
        op.summary.starts_with("Currently being removed"),
        "{}",
        op.summary
    );
}

#[test]
fn the_method_is_matched_without_case() {
    assert_eq!(
        found("delete", "/rest/api/3/issue/PROJ-1").operation_id,
        "deleteIssue"
    );
}

#[test]
fn satisfied_by_names_the_alternative_and_what_is_missing() {
    let op = found("GET", "/rest/api/3/issue/PROJ-1");
    let classic = op.satisfied_by(&s(&["read:jira-work", "offline_access"]));
    assert_eq!(classic.verdict, Verdict::Classic);
    assert_eq!(classic.missing_classic, Some(vec![]));
    assert!(classic
        .missing_granular
        .as_ref()
        .unwrap()
        .contains(&"read:issue:jira".to_string()));

    let granular = op.satisfied_by(op.granular.as_ref().unwrap());
    assert_eq!(granular.verdict, Verdict::Granular);
    assert_eq!(granular.missing_classic, Some(s(&["read:jira-work"])));

    let both: Vec<String> = op
        .granular
        .clone()
        .unwrap()
        .into_iter()
        .chain(op.classic.clone().unwrap())
        .collect();
    assert_eq!(op.satisfied_by(&both).verdict, Verdict::Both);

    let neither = op.satisfied_by(&s(&["read:issue:jira"]));
    assert_eq!(neither.verdict, Verdict::Neither);
    assert_eq!(neither.missing_classic, Some(s(&["read:jira-work"])));
    assert!(!neither
        .missing_granular
        .unwrap()
        .contains(&"read:issue:jira".to_string()));
}

#[test]
fn an_alternative_the_spec_leaves_out_is_never_satisfied() {
    let op = found("GET", "/wiki/api/v2/pages/1");
    let check = op.satisfied_by(&s(&["read:confluence-content.all"]));
    assert_eq!(check.verdict, Verdict::Neither);
    assert_eq!(check.missing_classic, None);
    assert_eq!(check.missing_granular, Some(s(&["read:page:confluence"])));
}

#[test]
fn an_alternative_published_with_no_scope_is_satisfied_by_any_grant() {
    // The spec lists OAuth 2.0 with an empty scope list for both alternatives.
    let op = found("GET", "/rest/api/3/serverInfo");
    assert_eq!(op.classic, Some(vec![]));
    assert_eq!(op.satisfied_by(&[]).verdict, Verdict::Both);
}

#[test]
fn an_operation_without_published_scopes_says_so() {
    let op = found("GET", "/rest/atlassian-connect/1/app/module/dynamic");
    assert_eq!((op.classic.clone(), op.granular.clone()), (None, None));
    let check = op.satisfied_by(&s(&["read:jira-work"]));
    assert_eq!(check.verdict, Verdict::NotPublished);
    assert_eq!(check.missing_classic, None);
    assert_eq!(check.missing_granular, None);
}

#[test]
fn search_needs_every_word_and_filters_by_product() {
    let hits = search("issue comment", Some("jira"), 50);
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|o| o.product == "jira"));
    assert!(hits
        .iter()
        .any(|o| o.path_template == "/rest/api/3/issue/{issueIdOrKey}/comment"));
    for o in &hits {
        let text = format!("{} {} {}", o.path_template, o.summary, o.operation_id).to_lowercase();
        assert!(text.contains("issue") && text.contains("comment"), "{o:?}");
    }
    let by_id = search("GETPAGEBYID", None, 5);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].path_template, "/wiki/api/v2/pages/{id}");
    assert!(search("page", Some("jira"), 500)
        .iter()
        .all(|o| o.product == "jira"));
    assert_eq!(search("issue", None, 3).len(), 3);
    assert!(search("no such words anywhere", None, 10).is_empty());
}

#[test]
fn search_puts_the_closest_match_first() {
    assert_eq!(
        search("POST /rest/api/3/issue", Some("jira"), 3)[0].operation_id,
        "createIssue"
    );
    assert_eq!(
        search("get issue", Some("jira"), 3)[0].operation_id,
        "getIssue"
    );
    assert_eq!(
        search("create issue", Some("jira"), 3)[0].operation_id,
        "createIssue"
    );
    assert_eq!(
        search("/rest/api/3/myself", None, 3)[0].operation_id,
        "getCurrentUser"
    );
}

#[test]
fn search_lists_deprecated_operations_last() {
    let hits = search("issue", Some("jira"), 1000);
    let first_deprecated = hits.iter().position(|o| o.deprecated).unwrap();
    assert!(hits[first_deprecated..].iter().all(|o| o.deprecated));
}

#[test]
fn the_smallest_set_prefers_the_kind_asked_for_and_explains_each_scope() {
    let chosen = [
        found("GET", "/rest/api/3/issue/PROJ-1"),
        found("GET", "/rest/api/3/issue/PROJ-1/comment"),
        found("GET", "/rest/api/3/myself"),
        found("GET", "/rest/agile/1.0/board/1/sprint"),
    ];
    let classic = smallest_scope_set(&chosen, ScopePreference::Classic);
    let names: Vec<&str> = classic.scopes.iter().map(|s| s.name.as_str()).collect();
    // The agile operation has no classic alternative, so its granular scope is used.
    assert_eq!(
        names,
        [
            "read:jira-user",
            "read:jira-work",
            "read:sprint:jira-software"
        ]
    );
    let work = &classic.scopes[1];
    assert_eq!(
        work.needed_by,
        [
            "GET /rest/api/3/issue/{issueIdOrKey}",
            "GET /rest/api/3/issue/{issueIdOrKey}/comment"
        ]
    );
    assert_eq!(classic.choices[3].1, ChosenAlternative::Granular);
    assert!(classic.not_published.is_empty());

    let granular = smallest_scope_set(&chosen, ScopePreference::Granular);
    assert!(granular
        .choices
        .iter()
        .all(|(_, c)| *c == ChosenAlternative::Granular));
    let user = granular
        .scopes
        .iter()
        .find(|s| s.name == "read:user:jira")
        .unwrap();
    assert_eq!(user.needed_by.len(), 3, "{user:?}");
    // The union holds every scope of every chosen alternative, and nothing else.
    for op in &chosen {
        let names: Vec<String> = granular.scopes.iter().map(|s| s.name.clone()).collect();
        assert_ne!(op.satisfied_by(&names).verdict, Verdict::Neither);
    }
}

#[test]
fn the_smallest_set_falls_back_to_classic_and_lists_unpublished_operations() {
    let chosen = [
        found("GET", "/rest/api/3/plans/plan"),
        found("GET", "/rest/atlassian-connect/1/app/module/dynamic"),
    ];
    let proposed = smallest_scope_set(&chosen, ScopePreference::Granular);
    assert_eq!(proposed.scopes.len(), 1);
    assert_eq!(proposed.scopes[0].name, "read:jira-work");
    assert_eq!(proposed.choices[0].1, ChosenAlternative::Classic);
    assert_eq!(
        proposed.not_published,
        ["GET /rest/atlassian-connect/1/app/module/dynamic"]
    );
}

#[test]
fn the_smallest_set_of_nothing_is_empty() {
    let proposed = smallest_scope_set(&[], ScopePreference::Classic);
    assert!(proposed.scopes.is_empty() && proposed.choices.is_empty());
}
