//! Where calls go: the URL of a test call (gateway, product, cloudId) and site discovery through
//! `accessible-resources`.

use super::RawResponse;
use crate::error::OnrampError;
use crate::model::{Provider, Site, TestCallPreset};

pub const ACCESSIBLE_RESOURCES_PATH: &str = "/oauth/token/accessible-resources";

/// The full URL of a test call: gateway + product path (with the cloudId) + the call's path.
pub fn test_call_url(
    provider: &Provider,
    preset: &TestCallPreset,
    cloud_id: Option<&str>,
) -> Result<String, OnrampError> {
    let base = provider.gateway_url.trim_end_matches('/');
    match preset.product {
        // Custom providers name a full URL.
        None if preset.path.starts_with("https://") || preset.path.starts_with("http://") => {
            Ok(preset.path.clone())
        }
        None => Ok(format!("{base}{}", preset.path)),
        Some(product) => {
            let cloud_id = cloud_id.ok_or(OnrampError::NoSiteSelected)?;
            if cloud_id.is_empty()
                || !cloud_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(OnrampError::invalid(
                    "cloudId",
                    format!("\"{cloud_id}\" is not a cloudId"),
                ));
            }
            Ok(format!(
                "{base}/ex/{}/{cloud_id}{}",
                product.gateway_segment(),
                preset.path
            ))
        }
    }
}

pub fn accessible_resources_url(provider: &Provider) -> String {
    format!(
        "{}{ACCESSIBLE_RESOURCES_PATH}",
        provider.gateway_url.trim_end_matches('/')
    )
}

/// The answer to `GET /oauth/token/accessible-resources`. Sites come in no particular order; one
/// site may appear once per product, so entries are merged by id with the union of their scopes.
pub fn parse_accessible_resources(raw: &RawResponse) -> Result<Vec<Site>, OnrampError> {
    let body = String::from_utf8_lossy(&raw.body).into_owned();
    if raw.status != 200 {
        return Err(OnrampError::UnexpectedResponse {
            status: raw.status,
            body,
        });
    }
    let sites: Vec<Site> =
        serde_json::from_str(&body).map_err(|e| OnrampError::UnexpectedResponse {
            status: raw.status,
            body: format!("accessible-resources is not the expected list of sites ({e}): {body}"),
        })?;
    Ok(merge_sites(sites))
}

/// Nango's rule (reference nango-atlassian.md §0.6, fixed in Nango #4883): the site's host must
/// start with exactly that label, case-insensitively, so `acme` matches `acme.atlassian.net` but not
/// `acme-1.atlassian.net`. Accepts `acme`, `acme.atlassian.net` or `https://acme.atlassian.net/`.
pub fn site_matches_subdomain(site_url: &str, subdomain: &str) -> bool {
    let wanted = subdomain.trim();
    if wanted.is_empty() {
        return true;
    }
    let wanted = wanted
        .split("://")
        .last()
        .unwrap_or(wanted)
        .split(['/', '.'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = url::Url::parse(site_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    host.split('.').next() == Some(wanted.as_str())
}

pub fn merge_sites(raw: Vec<Site>) -> Vec<Site> {
    let mut merged: Vec<Site> = Vec::new();
    for site in raw {
        match merged.iter_mut().find(|s| s.id == site.id) {
            Some(existing) => {
                for scope in site.scopes {
                    if !existing.scopes.contains(&scope) {
                        existing.scopes.push(scope);
                    }
                }
            }
            None => merged.push(site),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::gateway::send_once;

    fn preset(p: &Provider, id: &str) -> TestCallPreset {
        p.test_calls.iter().find(|t| t.id == id).unwrap().clone()
    }

    #[test]
    fn gateway_urls_per_product() {
        let c = Catalog::load().unwrap();
        let a = c.provider("atlassian", None).unwrap();
        assert_eq!(
            test_call_url(&a, &preset(&a, "jira-myself"), Some("1324a887-45db")).unwrap(),
            "https://api.atlassian.com/ex/jira/1324a887-45db/rest/api/3/myself"
        );
        assert_eq!(
            test_call_url(&a, &preset(&a, "confluence-spaces"), Some("abc")).unwrap(),
            "https://api.atlassian.com/ex/confluence/abc/wiki/api/v2/spaces?limit=1"
        );
        assert_eq!(
            test_call_url(&a, &preset(&a, "accessible-resources"), None).unwrap(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        let gov = c.provider("atlassian-government-cloud", None).unwrap();
        assert_eq!(
            test_call_url(&gov, &preset(&gov, "jira-server-info"), Some("c1")).unwrap(),
            "https://api.atlassian-us-gov-mod.com/ex/jira/c1/rest/api/3/serverInfo"
        );
    }

    #[test]
    fn product_calls_need_a_valid_cloud_id() {
        let c = Catalog::load().unwrap();
        let a = c.provider("atlassian", None).unwrap();
        let p = preset(&a, "jira-myself");
        assert!(matches!(
            test_call_url(&a, &p, None),
            Err(OnrampError::NoSiteSelected)
        ));
        assert!(test_call_url(&a, &p, Some("../admin")).is_err());
    }

    #[test]
    fn subdomain_filter_matches_the_host_label_exactly() {
        let url = "https://acme.atlassian.net";
        for ok in [
            "acme",
            "ACME",
            "acme.atlassian.net",
            "https://acme.atlassian.net/",
            " acme ",
            "",
        ] {
            assert!(site_matches_subdomain(url, ok), "{ok:?}");
        }
        for no in ["acm", "acme-1", "atlassian", "globex"] {
            assert!(!site_matches_subdomain(url, no), "{no:?}");
        }
        assert!(!site_matches_subdomain(
            "https://acme-1.atlassian.net",
            "acme"
        ));
    }

    #[test]
    fn sites_are_merged_by_id() {
        let site = |id: &str, scopes: &[&str]| Site {
            id: id.into(),
            name: id.into(),
            url: format!("https://{id}.example"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
        };
        let merged = merge_sites(vec![
            site("a", &["read:jira-work"]),
            site("b", &["read:page:confluence"]),
            site("a", &["read:space:confluence", "read:jira-work"]),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0].scopes,
            vec!["read:jira-work", "read:space:confluence"]
        );
    }

    #[tokio::test]
    async fn accessible_resources_parses_the_documented_shape() {
        let mut server = mockito::Server::new_async().await;
        let mock = server
            .mock("GET", ACCESSIBLE_RESOURCES_PATH)
            .match_header("authorization", "Bearer tok")
            .with_status(200)
            .with_body(r#"[{"id":"1324a887","name":"Site name","url":"https://your-domain.atlassian.net","scopes":["write:jira-work"],"avatarUrl":"https://x/flag.png"}]"#)
            .create_async()
            .await;
        let mut p = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        p.gateway_url = server.url();
        let raw = send_once(
            &reqwest::Client::new(),
            "GET",
            &accessible_resources_url(&p),
            &"tok".into(),
            None,
        )
        .await
        .unwrap();
        let sites = parse_accessible_resources(&raw).unwrap();
        mock.assert_async().await;
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].id, "1324a887");
        assert_eq!(sites[0].avatar_url.as_deref(), Some("https://x/flag.png"));
    }
}
