//! Step 2, registration in the developer console: the callback choice, the client ID and the client
//! secret (checked together, the secret to the keychain).

use super::*;

impl Engine {
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
        if let Some(secret) = secret {
            let (vault, owned_id) = (self.vault.clone(), id.to_string());
            run_blocking(move || vault.set(&owned_id, SecretKind::ClientSecret, &secret)).await?;
            tracing::info!("client secret for integration {id} stored in the keychain");
        }
        self.change_integration(id, move |i| {
            i.client_id = client_id;
            i.has_client_secret |= stored_secret;
        })
        .await?;
        self.integration(id).await
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
}
