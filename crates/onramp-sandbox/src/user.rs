//! Plays the user in a browser, for tests of other crates (the engine's, the command line's):
//! loads the sandbox's consent page and answers it.

/// Loads the consent page at `authorize_url` and answers it (`"accept"` or `"deny"`); returns where
/// the sandbox redirects (the callback URL). Panics when the page is not the sandbox's.
pub async fn consent_as_user(authorize_url: &str, decision: &str) -> String {
    consent_with(&consent_client(), authorize_url, decision).await
}

/// The client [`consent_with`] needs (no proxy, redirects not followed). Building one loads the
/// system's root certificates, a few milliseconds of CPU: a caller that consents many times (the
/// benchmark, between the rounds it times) builds it once.
pub fn consent_client() -> reqwest::Client {
    client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// [`consent_as_user`] with a client from [`consent_client`].
pub async fn consent_with(client: &reqwest::Client, authorize_url: &str, decision: &str) -> String {
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
