//! Where calls go: the URL of a test call (gateway, product, cloudId) and site discovery through
//! `accessible-resources`.

use super::RawResponse;
use crate::error::OnrampError;
use crate::model::{ProductId, Provider, Site, SiteListing, TestCallPreset};

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

/// Where the provider lists its sites (the catalog's `accessible_resources_url`, else the gateway's).
pub fn accessible_resources_url(provider: &Provider) -> String {
    if !provider.accessible_resources_url.is_empty() {
        return provider.accessible_resources_url.clone();
    }
    format!(
        "{}{ACCESSIBLE_RESOURCES_PATH}",
        provider.gateway_url.trim_end_matches('/')
    )
}

/// Lists the sites: the provider's accessible-resources URL, and when it answers 404 and the
/// catalog names another host (Government Cloud, where the host is not established), that one,
/// saying so. `send` is one GET with the token (the engine's refreshes and retries included).
pub async fn list_accessible_resources<F, Fut>(
    provider: &Provider,
    send: F,
) -> Result<SiteListing, OnrampError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<RawResponse, OnrampError>>,
{
    let primary = accessible_resources_url(provider);
    let first = send(primary.clone()).await?;
    let fallback = match &provider.accessible_resources_fallback_url {
        Some(other) if first.status == 404 && other != &primary => other.clone(),
        _ => {
            return Ok(SiteListing {
                sites: parse_accessible_resources(&first)?,
                source_url: primary,
                note: None,
            })
        }
    };
    let second = send(fallback.clone()).await?;
    let host = |url: &str| {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| url.to_string())
    };
    if second.status != 200 {
        return Err(OnrampError::UnexpectedResponse {
            status: first.status,
            body: format!(
                "accessible-resources answered 404 at {} and HTTP {} at {}. Where {} serves it is not established.",
                host(&primary),
                second.status,
                host(&fallback),
                provider.display_name
            ),
        });
    }
    Ok(SiteListing {
        sites: parse_accessible_resources(&second)?,
        note: Some(format!(
            "{} answered 404 for accessible-resources, so Onramp asked {} instead, and this list comes from there. Where {} serves accessible-resources is not established: use {} in your own code.",
            host(&primary),
            host(&fallback),
            provider.display_name,
            fallback
        )),
        source_url: fallback,
    })
}

/// The answer to `GET /oauth/token/accessible-resources`. Sites come in no particular order, and a
/// cloudId may appear once per product: each entry is kept with its own scopes (only exact repeats
/// are dropped), named by [`site_key`], its products read from its scopes.
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

/// An entry's identity: its cloudId and its scope set (in any order). Two entries with one cloudId
/// and different scopes are two choices.
pub fn site_key(id: &str, scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    format!("{id}#{}", sorted.join(" "))
}

/// The products an entry's scopes are for: Jira (`…:jira`, `…jira-…`), Confluence likewise.
pub fn products_of(scopes: &[String]) -> Vec<ProductId> {
    [ProductId::Jira, ProductId::Confluence]
        .into_iter()
        .filter(|p| {
            let name = p.gateway_segment();
            scopes.iter().any(|s| s.contains(name))
        })
        .collect()
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

/// Drops exact repeats (same cloudId, same scopes) and fills in each entry's key and products. An
/// entry that shares its cloudId with another but not its scopes stays: it is another product's.
pub fn merge_sites(raw: Vec<Site>) -> Vec<Site> {
    let mut merged: Vec<Site> = Vec::new();
    for mut site in raw {
        site.key = site_key(&site.id, &site.scopes);
        site.products = products_of(&site.scopes);
        if !merged.iter().any(|s| s.key == site.key) {
            merged.push(site);
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

    fn site(id: &str, scopes: &[&str]) -> Site {
        Site {
            id: id.into(),
            name: id.into(),
            url: format!("https://{id}.example"),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
            key: String::new(),
            products: vec![],
        }
    }

    /// One cloudId listed for Jira and again for Confluence is two entries, each with its own
    /// scopes and product; only an exact repeat (scopes in another order) is dropped.
    #[test]
    fn a_site_is_a_cloud_id_and_its_scopes() {
        let merged = merge_sites(vec![
            site("a", &["read:jira-work", "write:jira-work"]),
            site("b", &["read:page:confluence"]),
            site("a", &["read:page:confluence"]),
            site("a", &["write:jira-work", "read:jira-work"]),
        ]);
        assert_eq!(merged.len(), 3);
        let a: Vec<&Site> = merged.iter().filter(|s| s.id == "a").collect();
        assert_eq!(a.len(), 2, "one per product");
        assert_ne!(a[0].key, a[1].key);
        assert_eq!(a[0].products, vec![ProductId::Jira]);
        assert_eq!(a[1].products, vec![ProductId::Confluence]);
        assert_eq!(a[0].key, "a#read:jira-work write:jira-work");
        assert_eq!(merge_sites(merged.clone()), merged, "stable");
        let both = merge_sites(vec![site("c", &["read:jira-work", "read:page:confluence"])]);
        assert_eq!(
            both[0].products,
            vec![ProductId::Jira, ProductId::Confluence]
        );
    }

    /// Government Cloud: the catalog's host answers 404, the other one is asked and the listing
    /// says so; a 200 at the first host asks nothing more.
    #[tokio::test]
    async fn a_404_at_the_documented_host_tries_the_other_and_says_so() {
        let mut server = mockito::Server::new_async().await;
        let api = server
            .mock("GET", "/api/oauth/token/accessible-resources")
            .with_status(404)
            .expect(1)
            .create_async()
            .await;
        let auth = server
            .mock("GET", "/auth/oauth/token/accessible-resources")
            .match_header("authorization", "Bearer tok")
            .with_status(200)
            .with_body(r#"[{"id":"c1","name":"Agency","url":"https://agency.atlassian-us-gov-mod.net","scopes":["read:jira-work"]}]"#)
            .expect(1)
            .create_async()
            .await;
        let mut gov = Catalog::load()
            .unwrap()
            .provider("atlassian-government-cloud", None)
            .unwrap();
        assert_eq!(
            gov.accessible_resources_url,
            "https://api.atlassian-us-gov-mod.com/oauth/token/accessible-resources"
        );
        assert_eq!(
            gov.accessible_resources_fallback_url.as_deref(),
            Some("https://auth.atlassian-us-gov-mod.com/oauth/token/accessible-resources")
        );
        gov.accessible_resources_url = format!("{}/api{ACCESSIBLE_RESOURCES_PATH}", server.url());
        gov.accessible_resources_fallback_url =
            Some(format!("{}/auth{ACCESSIBLE_RESOURCES_PATH}", server.url()));
        let http = crate::tls::client();
        let send = |url: String| {
            let http = http.clone();
            async move { send_once(&http, "GET", &url, &"tok".into(), None).await }
        };
        let listing = list_accessible_resources(&gov, send).await.unwrap();
        api.assert_async().await;
        auth.assert_async().await;
        assert_eq!(listing.sites[0].id, "c1");
        assert!(listing
            .source_url
            .ends_with("/auth/oauth/token/accessible-resources"));
        let note = listing.note.unwrap();
        assert!(
            note.contains("answered 404") && note.contains("not established"),
            "{note}"
        );

        // Commercial Atlassian has no other host: its 404 is an error, asked once.
        let mut commercial = Catalog::load()
            .unwrap()
            .provider("atlassian", None)
            .unwrap();
        assert!(commercial.accessible_resources_fallback_url.is_none());
        commercial.accessible_resources_url = gov.accessible_resources_url.clone();
        let missing = server
            .mock("GET", "/api/oauth/token/accessible-resources")
            .with_status(404)
            .expect(1)
            .create_async()
            .await;
        let send = |url: String| {
            let http = http.clone();
            async move { send_once(&http, "GET", &url, &"tok".into(), None).await }
        };
        assert!(list_accessible_resources(&commercial, send).await.is_err());
        missing.assert_async().await;
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
        assert_eq!(
            accessible_resources_url(&p),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        p.accessible_resources_url = format!("{}{ACCESSIBLE_RESOURCES_PATH}", server.url());
        let raw = send_once(
            &crate::tls::client(),
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
