//! Plays the user in a browser, for tests of other crates (the engine's, the command line's):
//! loads the sandbox's consent page and answers it.

/// Loads the consent page at `authorize_url` and answers it (`"accept"` or `"deny"`); returns where
/// the sandbox redirects (the callback URL). Panics when the page is not the sandbox's.
pub async fn consent_as_user(authorize_url: &str, decision: &str) -> String {
    let client = client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "consent page");
    let html = page.text().await.unwrap();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).expect("request id") + marker.len();
    let request = &html[start..start + html[start..].find('"').unwrap()];
    let base = url::Url::parse(authorize_url).unwrap();
    let answer = client
        .post(base.join("/authorize/decision").unwrap())
        .form(&[("request", request), ("decision", decision)])
        .send()
        .await
        .unwrap();
    answer.headers()["location"].to_str().unwrap().to_string()
}

/// `reqwest::Client::builder()` for the sandbox's tests and [`consent_as_user`]. The workspace builds
/// reqwest without a default crypto provider (see `onramp_core::tls`, which the app uses; this crate
/// sits below it), and reqwest panics on a client built before one is installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
