//! The same requests the engine makes, sent with a plain reqwest client: the floor the engine's
//! figures are divided by.

use serde_json::Value;

use onramp_sandbox::Sandbox;

/// Where the deep-link callback points (the engine's `DEEP_LINK_CALLBACK`).
const REDIRECT_URI: &str = onramp_core::engine::DEEP_LINK_CALLBACK;

pub struct RawClient {
    http: reqwest::Client,
    /// Answers the consent page between timed rounds (both sides use it): built once, since
    /// building a client loads the system's root certificates.
    pub consent: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: String,
    audience: String,
    pub access_token: String,
    refresh_token: String,
}

impl RawClient {
    pub fn new(sandbox: &Sandbox) -> RawClient {
        let c = sandbox.config();
        RawClient {
            http: onramp_core::tls::client_builder()
                .no_proxy()
                .build()
                .unwrap(),
            consent: onramp_sandbox::consent_client(),
            base: sandbox.base_url(),
            client_id: c.client_id,
            client_secret: c.client_secret,
            audience: c.audience,
            access_token: String::new(),
            refresh_token: String::new(),
        }
    }

    /// Plays the user on the consent page of an authorize URL made by hand (the engine's redirect
    /// URI, so it is the one registered); returns the code. Not timed.
    pub async fn fresh_code(&self, scopes: &[&str]) -> String {
        let authorize = url::Url::parse_with_params(
            &format!("{}/authorize", self.base),
            &[
                ("audience", self.audience.as_str()),
                ("client_id", &self.client_id),
                ("scope", &scopes.join(" ")),
                ("redirect_uri", REDIRECT_URI),
                ("state", "raw-benchmark-state"),
                ("response_type", "code"),
                ("prompt", "consent"),
            ],
        )
        .unwrap();
        let callback =
            onramp_sandbox::consent_with(&self.consent, authorize.as_str(), "accept").await;
        url::Url::parse(&callback)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code in the callback")
    }

    async fn token_request(&mut self, grant: &[(&str, &str)]) {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        form.extend_from_slice(grant);
        let answer: Value = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        self.access_token = answer["access_token"].as_str().unwrap().to_string();
        if let Some(rt) = answer["refresh_token"].as_str() {
            self.refresh_token = rt.to_string();
        }
    }

    /// The code exchange and the accessible-resources listing; returns how many sites it lists.
    pub async fn exchange_and_list_sites(&mut self, code: &str) -> usize {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
        let sites = self
            .get_json(&format!("{}/oauth/token/accessible-resources", self.base))
            .await;
        sites.as_array().map_or(0, Vec::len)
    }

    /// One refresh with the current (rotating) refresh token.
    pub async fn refresh(&mut self) {
        let rt = self.refresh_token.clone();
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
            .await;
    }

    /// A GET with the bearer token; the status and the body read to its end.
    pub async fn get(&self, url: &str) -> (u16, usize) {
        let answer = self
            .http
            .get(url)
            .bearer_auth(&self.access_token)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.bytes().await.unwrap().len())
    }

    async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .bearer_auth(&self.access_token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
