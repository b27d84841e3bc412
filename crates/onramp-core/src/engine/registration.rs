//! Step 2, registration in the developer console: the callback choice, the client ID and the client
//! secret (checked together, the secret to the keychain), and the preflight that asks the provider
//! about them before any browser opens (the rules are in `crate::preflight`).

use super::*;
use crate::preflight::{self, CredentialCheck, Hop, Next, ProbeAnswer, ProbeOutcome, ProbeVerdict};

/// The last preflight of an integration and what it checked: it stays current until the client ID,
/// the secret or the token endpoint changes.
#[derive(Debug, Clone)]
pub(super) struct CheckedCredentials {
    token_url: String,
    check: CredentialCheck,
}

/// An error page is short; a login page may not be. Only this much of a page is read.
const PAGE_LIMIT: usize = 64 * 1024;

impl Engine {
    /// Whether the OS keychain can keep a secret, asked by the steps that store one (step 2, the
    /// Nango push) when they open, not at start-up. The probe writes, reads back and deletes an
    /// entry (a blocking D-Bus round trip); once it worked it is not repeated, while a failed one is
    /// tried again on the next ask (the user may have unlocked the keychain since).
    pub async fn keychain_status(&self) -> KeychainStatus {
        use std::sync::atomic::Ordering;
        if self.keychain_works.load(Ordering::Acquire) {
            return KeychainStatus {
                available: true,
                message: None,
            };
        }
        self.keychain_probes.fetch_add(1, Ordering::Relaxed);
        let vault = self.vault.clone();
        let status = tokio::task::spawn_blocking(move || vault.probe())
            .await
            .unwrap_or_else(|e| KeychainStatus {
                available: false,
                message: Some(format!("the keychain check crashed: {e}")),
            });
        if status.available {
            self.keychain_works.store(true, Ordering::Release);
        }
        status
    }

    /// How many keychain probes this engine has run (tests).
    #[cfg(any(test, feature = "test-support"))]
    pub fn keychain_probes(&self) -> usize {
        self.keychain_probes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Step 2's form: the client ID and, when given, the client secret, checked together before
    /// anything is stored (pasted whitespace around them is dropped). The secret goes to the keychain;
    /// the settings only record that one exists.
    pub async fn save_credentials(
        &self,
        id: &str,
        client_id: &str,
        secret: Option<SecretString>,
    ) -> Result<IntegrationView, OnrampError> {
        let integration = self.store.integration(id).await?;
        let client_id = client_id.trim().to_string();
        let secret = secret
            .map(|s| SecretString::from(s.expose_secret().trim()))
            .filter(|s| !s.expose_secret().is_empty());
        let secret_text = secret.as_ref().map(ExposeSecret::expose_secret);
        validate_credential("client ID", &client_id)?;
        match secret_text {
            None if !integration.has_client_secret => {
                return Err(OnrampError::invalid(
                    "client secret",
                    "Enter the client secret from the console's Settings page.",
                ))
            }
            None => {}
            Some(secret) => {
                validate_credential("client secret", secret)?;
                if secret == client_id {
                    return Err(OnrampError::invalid(
                        "client secret",
                        "The client ID and the secret are the same: they look swapped or duplicated. Copy each from its own field in the console.",
                    ));
                }
            }
        }
        // The sandbox's credentials are known: catch them pasted into each other's field.
        if let Some(sandbox) = &self.config.sandbox {
            if integration.provider_id == DEFAULT_PROVIDER_ID
                && (client_id == sandbox.app.client_secret
                    || secret_text == Some(sandbox.app.client_id.as_str()))
            {
                return Err(OnrampError::invalid(
                    "client ID",
                    "The client ID and the secret look swapped: paste the sandbox app page's Client ID into the Client ID field and its Secret into the Secret field.",
                ));
            }
        }
        let stored_secret = secret.is_some();
        if stored_secret {
            // A new secret makes the last preflight stale.
            self.forget_credential_check(id);
        }
        if let Some(secret) = secret {
            let (vault, owned_id) = (self.vault.clone(), id.to_string());
            run_blocking(move || vault.set(&owned_id, SecretKind::ClientSecret, &secret)).await?;
            tracing::info!("client secret for integration {id} stored in the keychain");
        }
        // After the keychain took the secret: every process's copy of the old one is now stale
        // (`ClientSecretCache`). Should this write fail, saving again bumps it.
        self.client_secrets.forget(id);
        self.change_integration(id, move |i| {
            i.client_id = client_id;
            i.has_client_secret |= stored_secret;
            if stored_secret {
                i.client_secret_revision += 1;
            }
        })
        .await?;
        self.integration(id).await
    }

    /// "Check these credentials": one token probe and one authorize probe, once per click (never
    /// repeated on its own). Each answer is rejected / accepted / inconclusive, with what it proves.
    pub async fn check_credentials(&self, id: &str) -> Result<CredentialCheck, OnrampError> {
        let (integration, provider, secret) = self.checkable(id).await?;
        let server = crate::oauth_error::Server::of(&provider);
        let token_answer = self.token_probe(&integration, &provider, &secret).await;
        let token_endpoint = preflight::classify_token_probe(&server, &token_answer);
        let authorize = self
            .authorize_probe(&integration, &provider, &server)
            .await?;
        let check = CredentialCheck {
            client_id: integration.client_id.clone(),
            checked_at: now_unix(),
            token_endpoint,
            authorize: Some(authorize),
        };
        tracing::info!(
            "credentials of integration {id} checked: token endpoint {:?}, authorize {:?}",
            check.token_endpoint.verdict,
            check.authorize.as_ref().map(|a| a.verdict)
        );
        self.remember_credential_check(id, &provider, check.clone());
        Ok(check)
    }

    /// Before the browser opens: the token probe, when the credentials were never checked, changed
    /// since, or were rejected last time (the user may have fixed the console). A rejection stops
    /// the authorization here, with why and what to do.
    pub(super) async fn check_before_authorizing(
        &self,
        id: &str,
        integration: &Integration,
        provider: &Provider,
    ) -> Result<(), OnrampError> {
        let current = self.current_credential_check(integration, provider);
        if current.is_some_and(|c| c.token_endpoint.verdict != ProbeVerdict::Rejected) {
            return Ok(());
        }
        let (_, _, secret) = self.checkable(id).await?;
        let server = crate::oauth_error::Server::of(provider);
        let answer = self.token_probe(integration, provider, &secret).await;
        let token_endpoint = preflight::classify_token_probe(&server, &answer);
        tracing::info!(
            "token endpoint checked before authorizing integration {id}: {:?}",
            token_endpoint.verdict
        );
        self.remember_credential_check(
            id,
            provider,
            CredentialCheck {
                client_id: integration.client_id.clone(),
                checked_at: now_unix(),
                token_endpoint: token_endpoint.clone(),
                authorize: None,
            },
        );
        if token_endpoint.verdict == ProbeVerdict::Rejected {
            return Err(OnrampError::CredentialsRejected(Box::new(token_endpoint)));
        }
        Ok(())
    }

    /// The integration, its provider and its secret, once both credentials are there.
    async fn checkable(
        &self,
        id: &str,
    ) -> Result<(Integration, Arc<Provider>, SecretString), OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        if integration.client_id.is_empty() {
            return Err(OnrampError::invalid(
                "client ID",
                "Save the client ID from the developer console first.",
            ));
        }
        if !integration.has_client_secret {
            return Err(OnrampError::ClientSecretMissing);
        }
        let vault = self.vault.clone();
        let owned_id = id.to_string();
        let secret = run_blocking(move || vault.get(&owned_id, SecretKind::ClientSecret))
            .await?
            .ok_or(OnrampError::ClientSecretMissing)?;
        Ok((integration, provider, secret))
    }

    /// A code exchange with a made-up code, sent exactly as the real exchange is (form body, the
    /// provider's client authentication, the registered callback URL).
    async fn token_probe(
        &self,
        integration: &Integration,
        provider: &Provider,
        secret: &SecretString,
    ) -> ProbeAnswer {
        let made_up_code = format!("onramp-preflight-{}", new_id());
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", made_up_code),
            ("redirect_uri", redirect_uri_for(&integration.callback)),
        ];
        if provider.pkce {
            form.push((
                "code_verifier",
                format!("onramp-preflight-verifier-{}{}", new_id(), new_id()),
            ));
        }
        let mut request = self.http.post(&provider.token_url);
        match provider.client_auth {
            crate::model::ClientAuth::RequestBody => {
                form.push(("client_id", integration.client_id.clone()));
                form.push(("client_secret", secret.expose_secret().to_string()));
            }
            crate::model::ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded before Basic.
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request = request.basic_auth(
                    encode(&integration.client_id),
                    Some(encode(secret.expose_secret())),
                );
            }
        }
        let response = request
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await;
        match response {
            Ok(r) => {
                let status = r.status().as_u16();
                // A 2xx body might hold tokens: it is never kept.
                let body = if (200..300).contains(&status) {
                    String::new()
                } else {
                    read_limited(r).await
                };
                ProbeAnswer::Http { status, body }
            }
            Err(e) => failure(&e),
        }
    }

    /// The authorize URL as the browser would open it (a throwaway state, no flow registered), sent
    /// without cookies; redirects followed by hand up to `MAX_AUTHORIZE_HOPS`.
    async fn authorize_probe(
        &self,
        integration: &Integration,
        provider: &Provider,
        server: &crate::oauth_error::Server,
    ) -> Result<ProbeOutcome, OnrampError> {
        let redirect_uri = redirect_uri_for(&integration.callback);
        // Before step 3 the scopes Onramp would suggest stand in for the chosen ones.
        let scopes = if integration.scopes.is_empty() {
            provider.suggested_scopes.clone()
        } else {
            integration.scopes.clone()
        };
        let request = oauth::build_authorize_url(&oauth::AuthorizeParams {
            provider,
            client_id: &integration.client_id,
            redirect_uri: &redirect_uri,
            scopes: &scopes,
        })?;
        let mut hops: Vec<Hop> = Vec::new();
        let mut url = request.url;
        loop {
            let response = match self.probe_http.get(&url).send().await {
                Ok(r) => r,
                Err(e) => {
                    let failure = failure(&e);
                    return Ok(preflight::classify_authorize_probe(
                        server,
                        &redirect_uri,
                        Err(&failure),
                    ));
                }
            };
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let hop = Hop {
                url: url.clone(),
                status: response.status().as_u16(),
                location: location.filter(|_| response.status().is_redirection()),
            };
            let next = preflight::next_hop(&hop, &redirect_uri);
            let is_redirect = hop.location.is_some();
            hops.push(hop);
            match next {
                Next::Follow(target) if hops.len() < preflight::MAX_AUTHORIZE_HOPS => url = target,
                _ if is_redirect => {
                    return Ok(preflight::classify_authorize_probe(
                        server,
                        &redirect_uri,
                        Ok((&hops, "")),
                    ))
                }
                _ => {
                    let page = read_limited(response).await;
                    return Ok(preflight::classify_authorize_probe(
                        server,
                        &redirect_uri,
                        Ok((&hops, &page)),
                    ));
                }
            }
        }
    }

    fn remember_credential_check(&self, id: &str, provider: &Provider, check: CredentialCheck) {
        self.credential_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id.to_string(),
                CheckedCredentials {
                    token_url: provider.token_url.clone(),
                    check,
                },
            );
    }

    pub(super) fn forget_credential_check(&self, id: &str) {
        self.credential_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The last preflight, if the client ID and token endpoint are still the ones it checked (a
    /// new secret drops it in `save_credentials`).
    pub(super) fn current_credential_check(
        &self,
        integration: &Integration,
        provider: &Provider,
    ) -> Option<CredentialCheck> {
        self.credential_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&integration.id)
            .filter(|c| {
                c.check.client_id == integration.client_id && c.token_url == provider.token_url
            })
            .map(|c| c.check.clone())
    }

    /// The sandbox plays the developer console too: the callback URL an integration uses is
    /// "registered" there, like pasting it into Atlassian's console. Real providers are not touched.
    pub(super) fn register_sandbox_callback(&self, integration: &Integration) {
        if let Some(sandbox) = &self.config.sandbox {
            if integration.provider_id == DEFAULT_PROVIDER_ID {
                (sandbox.register_callback)(&redirect_uri_for(&integration.callback));
            }
        }
    }
}

/// A failed request as the classifier sees it (the URL in reqwest's text holds no secret).
fn failure(e: &reqwest::Error) -> ProbeAnswer {
    if e.is_timeout() {
        ProbeAnswer::TimedOut
    } else {
        ProbeAnswer::Unreachable(crate::oauth::describe_reqwest_error(e))
    }
}

/// At most `PAGE_LIMIT` bytes of an answer's body, as text.
async fn read_limited(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= PAGE_LIMIT {
            body.truncate(PAGE_LIMIT);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Client IDs and secrets are opaque strings without whitespace.
pub fn validate_credential(field: &str, value: &str) -> Result<(), OnrampError> {
    if value.trim().is_empty() {
        return Err(OnrampError::invalid(
            field,
            format!("The {field} is empty."),
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(OnrampError::invalid(
            field,
            format!("The {field} contains spaces or line breaks: copy it again with the console's copy button."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;
    use crate::model::ErrorCode;

    /// Start-up makes no keychain round trip; the steps that store a secret ask, a failed probe is
    /// tried again on the next ask, and a working keychain is probed once.
    #[tokio::test]
    async fn the_keychain_is_probed_when_a_step_asks_and_once_it_works() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let engine = &seed.engine;
        engine.bootstrap().await;
        assert_eq!(engine.keychain_probes(), 0, "bootstrap probes nothing");
        crate::vault::fail_next_write(
            "probe",
            SecretKind::AccessToken,
            crate::vault::MockFailure::Locked,
        );
        let locked = engine.keychain_status().await;
        assert!(!locked.available);
        assert!(locked.message.is_some_and(|m| !m.is_empty()));
        assert!(engine.keychain_status().await.available, "unlocked since");
        assert!(engine.keychain_status().await.available);
        assert_eq!(
            engine.keychain_probes(),
            2,
            "not probed again once it worked"
        );
    }

    #[tokio::test]
    async fn credentials_are_checked_together_before_anything_is_stored() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let engine = &seed.engine;
        let code = |r: Result<IntegrationView, OnrampError>| r.unwrap_err().to_ui().detail;
        assert!(code(
            engine
                .save_credentials(&seed.id, "", Some("s".into()))
                .await
        )
        .contains("empty"));
        assert!(code(
            engine
                .save_credentials(&seed.id, "id-2", Some("not a secret".into()))
                .await
        )
        .contains("spaces"));
        assert!(code(
            engine
                .save_credentials(&seed.id, "same", Some("same".into()))
                .await
        )
        .contains("swapped"));
        assert_eq!(
            engine.integration(&seed.id).await.unwrap().client_id,
            "client-1",
            "a refused form changes nothing"
        );
        assert_eq!(
            Vault
                .get(&seed.id, SecretKind::ClientSecret)
                .unwrap()
                .revealed()
                .as_deref(),
            Some("secret-1")
        );
        // Pasted with a trailing newline: trimmed, then stored.
        let view = engine
            .save_credentials(&seed.id, " id-2\n", Some("secret-2\n".into()))
            .await
            .unwrap();
        assert_eq!(view.client_id, "id-2");
        assert_eq!(
            Vault
                .get(&seed.id, SecretKind::ClientSecret)
                .unwrap()
                .revealed()
                .as_deref(),
            Some("secret-2")
        );
        // A secret is already stored: the ID alone can change.
        let view = engine
            .save_credentials(&seed.id, "id-3", None)
            .await
            .unwrap();
        assert!(view.has_client_secret && view.client_id == "id-3");
    }

    /// "Check these credentials" runs both probes once; the check before authorizing runs the
    /// token probe only when the credentials are unchecked, changed or were rejected, and a
    /// rejection keeps the browser closed.
    #[tokio::test]
    async fn preflight_before_the_browser_opens() {
        use mockito::Matcher;
        let mut server = mockito::Server::new_async().await;
        let exchange = |secret: &str| {
            Matcher::AllOf(vec![
                Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
                Matcher::UrlEncoded("client_id".into(), "client-1".into()),
                Matcher::UrlEncoded("client_secret".into(), secret.into()),
            ])
        };
        let wrong = server
            .mock("POST", "/oauth/token")
            .match_body(exchange("secret-1"))
            .with_status(401)
            .with_header("content-type", "application/json")
            .with_body(r#"{"error":"invalid_client"}"#)
            .expect(2)
            .create_async()
            .await;
        let right = server
            .mock("POST", "/oauth/token")
            .match_body(exchange("secret-2"))
            .with_status(400)
            .with_header("content-type", "application/json")
            .with_body(r#"{"error":"invalid_grant","error_description":"bad code"}"#)
            .expect(1)
            .create_async()
            .await;
        let authorize = server
            .mock("GET", "/authorize")
            .match_query(Matcher::UrlEncoded("client_id".into(), "client-1".into()))
            .with_status(302)
            .with_header("location", "/login?continue=x")
            .expect(1)
            .create_async()
            .await;
        let seed = seeded(&server.url(), 3000, 3600);
        let engine = &seed.engine;

        let check = engine.check_credentials(&seed.id).await.unwrap();
        assert_eq!(check.token_endpoint.verdict, ProbeVerdict::Rejected);
        let authorize_outcome = check.authorize.unwrap();
        assert_eq!(authorize_outcome.verdict, ProbeVerdict::Inconclusive);
        assert!(authorize_outcome.summary.starts_with("Needs login"));
        let view = engine.integration(&seed.id).await.unwrap();
        assert_eq!(
            view.credential_check.unwrap().token_endpoint.verdict,
            ProbeVerdict::Rejected,
            "the view shows the last check"
        );

        // Rejected last time: checked again before authorizing, and the browser stays closed.
        let sink = RecordingSink::default();
        let err = match engine.start_authorization(&seed.id, &sink).await {
            Err(e) => e.to_ui(),
            Ok(_) => panic!("started with rejected credentials"),
        };
        assert_eq!(err.code, ErrorCode::CredentialsRejected);
        assert!(
            err.detail.contains("The browser was not opened"),
            "{}",
            err.detail
        );
        assert!(
            !err.detail.contains("secret-1")
                && !err.facts.iter().any(|f| f.value.contains("secret-1"))
        );
        assert!(sink.take().is_empty(), "no authorization started");
        assert!(!engine.flows.cancel(&seed.id), "no pending flow");

        // A new secret makes the check stale: checked once, accepted, then not again.
        let view = engine
            .save_credentials(&seed.id, "client-1", Some("secret-2".into()))
            .await
            .unwrap();
        assert!(view.credential_check.is_none());
        engine
            .start_authorization(&seed.id, &RecordingSink::default())
            .await
            .unwrap();
        engine
            .start_authorization(&seed.id, &RecordingSink::default())
            .await
            .unwrap();
        wrong.assert_async().await;
        right.assert_async().await;
        authorize.assert_async().await;
        let check = engine
            .integration(&seed.id)
            .await
            .unwrap()
            .credential_check
            .unwrap();
        assert_eq!(check.token_endpoint.verdict, ProbeVerdict::Accepted);
        assert!(
            check.authorize.is_none(),
            "only the token endpoint before authorizing"
        );
    }
}
