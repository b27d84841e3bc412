//! Shared by the sandbox's HTTP tests: a sandbox on a random loopback port, a client that does not
//! follow redirects, and the steps of the flow (consent, exchange, refresh, API calls).
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use onramp_sandbox::{Sandbox, SandboxConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CALLBACK: &str = "http://127.0.0.1:8765/callback";
pub const JIRA: &str = "read:jira-work read:jira-user offline_access";

pub struct Fx {
    pub sb: Sandbox,
    pub http: reqwest::Client,
}

pub async fn start() -> Fx {
    start_with(|_| {}).await
}

pub async fn start_with(edit: impl FnOnce(&mut SandboxConfig)) -> Fx {
    let mut config = SandboxConfig {
        registered_callback_url: Some(CALLBACK.to_string()),
        ..SandboxConfig::default()
    };
    edit(&mut config);
    let sb = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts");
    let http = onramp_sandbox::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Fx { sb, http }
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn query_param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string()
}

pub fn request_id(html: &str) -> String {
    let marker = r#"<input type="hidden" name="request" value=""#;
    let start = html.find(marker).expect("request id in consent form") + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_string()
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Fx {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    pub fn authorize_url(&self, scope: &str, redirect_uri: &str, state: &str) -> String {
        format!(
            "{}/authorize?audience=onramp-sandbox&client_id={DEFAULT_CLIENT_ID}&scope={}&redirect_uri={}&state={}&response_type=code&prompt=consent",
            self.sb.base_url(),
            enc(scope),
            enc(redirect_uri),
            enc(state)
        )
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// GET /authorize and return the consent page's request id.
    pub async fn consent(&self, authorize_url: &str) -> String {
        let resp = self.get(authorize_url).await;
        assert_eq!(resp.status(), StatusCode::OK);
        request_id(&resp.text().await.unwrap())
    }

    pub async fn decide(&self, request: &str, decision: &str) -> reqwest::Response {
        self.http
            .post(self.url("/authorize/decision"))
            .form(&[("request", request), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    /// Full browser leg: authorize, accept, return the code from the callback.
    pub async fn code_for(&self, scope: &str) -> String {
        let id = self
            .consent(&self.authorize_url(scope, CALLBACK, "st"))
            .await;
        let resp = self.decide(&id, "accept").await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        query_param(&location(&resp), "code").unwrap()
    }

    pub async fn token_json(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn exchange(&self, code: &str) -> reqwest::Response {
        self.token_json(json!({
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": code,
            "redirect_uri": CALLBACK,
        }))
        .await
    }

    /// Authorize + accept + exchange; returns the token response body.
    pub async fn tokens(&self, scope: &str) -> Value {
        let code = self.code_for(scope).await;
        let resp = self.exchange(&code).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    pub async fn access(&self, scope: &str) -> String {
        self.tokens(scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_json(json!({
            "grant_type": "refresh_token",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "refresh_token": refresh_token,
        }))
        .await
    }

    pub async fn api(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

pub async fn body_json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

pub fn scope_mismatch() -> Value {
    json!({"code": 401, "message": "Unauthorized; scope does not match"})
}

/// The sandbox's Nango look-alike: a request with the given key (`None`: no Authorization header).
impl Fx {
    pub async fn nango(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(&format!("/nango{path}")));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// With the sandbox's own key.
    pub async fn nango_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let key = self.sb.nango_secret_key();
        self.nango(method, path, Some(&key), body).await
    }
}

pub fn nango_integration(key: &str) -> Value {
    json!({
        "unique_key": key,
        "provider": "jira",
        "display_name": "Jira",
        "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "cs", "scopes": "offline_access,read:jira-work"}
    })
}
