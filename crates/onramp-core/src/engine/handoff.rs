//! The hand-off: the verified setup delivered to the user's backend (`.env` / JSON, runnable
//! snippets, the team definition). Thin: loads the integration, its provider and (only when asked)
//! the client secret, and calls the pure functions in `crate::handoff`.

use std::path::Path;

use super::*;
use crate::handoff::{self, HandoffExport, HandoffFormat, SnippetLanguage};

impl Engine {
    /// The integration's hand-off values as `.env` or JSON. The client secret is added only with
    /// `include_secret` (read from the keychain); tokens never are.
    pub async fn export_handoff(
        &self,
        id: &str,
        format: HandoffFormat,
        include_secret: bool,
    ) -> Result<HandoffExport, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        let secret = if include_secret {
            let vault = self.vault.clone();
            let owned = id.to_string();
            let secret = run_blocking(move || vault.get(&owned, SecretKind::ClientSecret)).await?;
            Some(secret.ok_or(OnrampError::ClientSecretMissing)?)
        } else {
            None
        };
        let values = handoff::values(&integration, &provider, secret);
        let stem = handoff::file_stem(&integration.name);
        let (contents, suggested_file_name) = match format {
            HandoffFormat::Env => (handoff::to_env(&values), format!("{stem}.env")),
            HandoffFormat::Json => (handoff::to_json(&values), format!("{stem}.handoff.json")),
        };
        Ok(HandoffExport {
            contents,
            holds_secret: values.client_secret.is_some(),
            suggested_file_name,
        })
    }

    /// Exports and writes to `path` (chosen by the user in a save dialog): mode 0600 from its creation
    /// when the file holds the client secret.
    pub async fn save_handoff(
        &self,
        id: &str,
        format: HandoffFormat,
        include_secret: bool,
        path: &Path,
    ) -> Result<HandoffExport, OnrampError> {
        let export = self.export_handoff(id, format, include_secret).await?;
        let (path, contents, private) = (
            path.to_path_buf(),
            export.contents.clone(),
            export.holds_secret,
        );
        run_blocking(move || {
            if private {
                handoff::write_private_file(&path, &contents)
            } else {
                handoff::env::write_public_file(&path, &contents)
            }
        })
        .await?;
        tracing::info!("hand-off of {id} saved (secret included: {private})");
        Ok(export)
    }

    /// A runnable program (refresh with rotation → the first runnable test call) with the
    /// integration's real values; secrets come from the environment.
    pub async fn snippet(
        &self,
        id: &str,
        language: SnippetLanguage,
    ) -> Result<String, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        if provider.grant == crate::model::Grant::ClientCredentials {
            // The snippets refresh a rotating refresh token; a service account has none.
            return Err(OnrampError::invalid(
                "snippet",
                "Runnable snippets for a service account (client credentials) are not written yet. In scripts, `onramp-cli token NAME` prints a fresh token, and the .env or JSON export carries the token URL and client ID.",
            ));
        }
        let call = handoff::snippet_call(&integration, &provider)?;
        let values = handoff::values(&integration, &provider, None);
        Ok(handoff::snippet(&values, &call, language))
    }

    /// The integration's team definition (no secrets, no tokens, no site).
    pub async fn export_definition(&self, id: &str) -> Result<String, OnrampError> {
        let integration = self.store.integration(id).await?;
        let provider = self.provider(&integration.provider_id).await?;
        Ok(handoff::to_definition(&integration, &provider))
    }

    /// Writes the team definition to `path` (chosen by the user in a save dialog); returns it.
    pub async fn save_definition(&self, id: &str, path: &Path) -> Result<String, OnrampError> {
        let text = self.export_definition(id).await?;
        let (path, contents) = (path.to_path_buf(), text.clone());
        run_blocking(move || handoff::env::write_public_file(&path, &contents)).await?;
        tracing::info!("definition of {id} saved");
        Ok(text)
    }

    /// Reads a definition file (chosen by the user in an open dialog) and imports it
    /// ([`Engine::import_definition`]). A file that cannot be read, or is larger than any
    /// definition (1 MiB), changes nothing.
    pub async fn import_definition_file(
        &self,
        path: &Path,
    ) -> Result<IntegrationView, OnrampError> {
        const LIMIT: u64 = 1 << 20;
        let owned = path.to_path_buf();
        let text = run_blocking(move || {
            let fail = |e: String| {
                OnrampError::invalid("definition file", format!("{}: {e}", owned.display()))
            };
            let size = std::fs::metadata(&owned)
                .map_err(|e| fail(e.to_string()))?
                .len();
            if size > LIMIT {
                return Err(fail("too large to be an Onramp definition file".into()));
            }
            std::fs::read_to_string(&owned).map_err(|e| fail(e.to_string()))
        })
        .await?;
        self.import_definition(&text).await
    }

    /// Creates a new integration from a definition file. It needs its own client secret and
    /// authorization. Everything is checked before anything is written: a bad file changes nothing.
    pub async fn import_definition(&self, text: &str) -> Result<IntegrationView, OnrampError> {
        let bad = |problem: String| OnrampError::invalid("definition file", problem);
        let definition = handoff::parse_definition(text)?;

        // The provider: a built-in one by id, a custom one by its description (reused when this
        // Onramp already has an identical one).
        let (provider, new_custom) = match &definition.custom_provider {
            Some(input) => {
                custom::validate(input).map_err(|e| {
                    bad(format!("The custom provider it describes is not valid: {e}."))
                })?;
                let saved = self.store.custom_providers().await?;
                match saved.iter().find(|c| &c.input == input) {
                    Some(existing) => (Arc::new(custom::to_provider(existing)), None),
                    None => {
                        let created = custom::CustomProvider {
                            id: format!("{}{}", custom::ID_PREFIX, new_id()),
                            input: input.clone(),
                        };
                        (Arc::new(custom::to_provider(&created)), Some(created))
                    }
                }
            }
            None => (
                self.provider(&definition.provider_id).await.map_err(|_| {
                    bad(format!("It uses the provider \"{}\", which this Onramp does not have (the sandbox only exists while Onramp runs it). Update Onramp or pick the provider by hand.", definition.provider_id))
                })?,
                None,
            ),
        };
        let callback = definition.callback;
        if !provider.callbacks.iter().any(|c| c.kind == callback.kind) {
            return Err(bad(format!(
                "{} does not offer the callback kind it names.",
                provider.display_name
            )));
        }
        if callback.kind == CallbackKind::Loopback && callback.loopback_port < 1024 {
            return Err(bad(
                "Its loopback port is below 1024; pick a port from 1024 to 65535.".into(),
            ));
        }
        if !definition.client_id.is_empty() {
            validate_credential("client ID", &definition.client_id)
                .map_err(|e| bad(format!("Its client ID is not valid: {e}.")))?;
        }
        let console_done = definition
            .console_done
            .into_iter()
            .filter(|done| provider.console.steps.iter().any(|s| &s.id == done))
            .collect();

        if let Some(created) = new_custom {
            self.store.save_custom_provider(created).await?;
        }
        let now = now_unix();
        let integration = Integration {
            id: new_id(),
            name: definition.name.trim().to_string(),
            provider_id: provider.id.clone(),
            client_id: definition.client_id,
            callback,
            scopes: without_repeats(definition.scopes),
            console_done,
            site: None,
            connection: None,
            has_client_secret: false,
            client_secret_revision: 0,
            scopes_reviewed: false,
            sandbox_instance: None,
            history: Vec::new(),
            handed_off: None,
            created_at: now,
            updated_at: now,
        };
        tracing::info!("importing a definition as integration {}", integration.id);
        // Not made current: the user is still on the integration they imported from, and opens the
        // new one when they choose (step 7 offers it).
        self.add_integration(integration, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::*;

    #[tokio::test]
    async fn the_secret_is_exported_only_when_asked_and_never_a_token() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        for format in [HandoffFormat::Env, HandoffFormat::Json] {
            let plain = seed
                .engine
                .export_handoff(&seed.id, format, false)
                .await
                .unwrap();
            assert!(!plain.holds_secret);
            assert!(!plain.contents.contains("secret-1"));
            let with = seed
                .engine
                .export_handoff(&seed.id, format, true)
                .await
                .unwrap();
            assert!(with.holds_secret);
            assert!(with.contents.contains("secret-1"));
            for token in ["at-1", "rt-1"] {
                assert!(
                    !with.contents.contains(token),
                    "{token} in {}",
                    with.contents
                );
            }
        }
        let env = seed
            .engine
            .export_handoff(&seed.id, HandoffFormat::Env, false)
            .await
            .unwrap();
        assert_eq!(env.suggested_file_name, "seeded.env");
        assert!(env.contents.contains("ONRAMP_CLIENT_ID='client-1'\n"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_saved_file_with_the_secret_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backend.env");
        let saved = seed
            .engine
            .save_handoff(&seed.id, HandoffFormat::Env, true, &path)
            .await
            .unwrap();
        assert!(saved.holds_secret);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), saved.contents);
    }

    #[tokio::test]
    async fn a_definition_round_trips_into_a_new_integration_without_secret_or_connection() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let text = seed.engine.export_definition(&seed.id).await.unwrap();
        let original = seed.engine.integration(&seed.id).await.unwrap();
        let last_before = seed.engine.store.last_integration_id().await.unwrap();
        let imported = seed.engine.import_definition(&text).await.unwrap();
        assert_ne!(imported.id, original.id);
        assert_eq!(
            seed.engine.store.last_integration_id().await.unwrap(),
            last_before,
            "importing does not change the integration reopened at the next start"
        );
        assert_eq!(
            (
                &imported.name,
                &imported.client_id,
                imported.callback,
                &imported.scopes
            ),
            (
                &original.name,
                &original.client_id,
                original.callback,
                &original.scopes
            )
        );
        assert_eq!(
            imported.provider_id, original.provider_id,
            "the identical custom provider is reused"
        );
        assert!(
            !imported.has_client_secret && imported.connection.is_none() && imported.site.is_none()
        );
        // Exported again, it is the same definition.
        assert_eq!(
            seed.engine.export_definition(&imported.id).await.unwrap(),
            text
        );

        // On another machine the custom provider is recreated from the file.
        let dir = tempfile::tempdir().unwrap();
        let other = Engine::new(EngineConfig {
            config_dir: dir.path().into(),
            sandbox: None,
            default_loopback_port: 47823,
        })
        .unwrap();
        let there = other.import_definition(&text).await.unwrap();
        let provider = other.provider(&there.provider_id).await.unwrap();
        assert_eq!(
            provider.custom,
            seed.engine
                .provider(&original.provider_id)
                .await
                .unwrap()
                .custom
        );
    }

    #[tokio::test]
    async fn a_definition_saved_to_a_file_imports_from_it_and_a_missing_file_changes_nothing() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("team.onramp.json");
        let text = seed.engine.save_definition(&seed.id, &path).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let before = seed.engine.store.integrations().await.unwrap().len();
        let imported = seed.engine.import_definition_file(&path).await.unwrap();
        assert_ne!(imported.id, seed.id);
        assert_eq!(
            seed.engine.store.integrations().await.unwrap().len(),
            before + 1
        );
        let e = seed
            .engine
            .import_definition_file(&dir.path().join("missing.json"))
            .await
            .unwrap_err();
        assert_eq!(e.to_ui().code, crate::model::ErrorCode::InvalidInput);
        assert_eq!(
            seed.engine.store.integrations().await.unwrap().len(),
            before + 1
        );
    }

    #[tokio::test]
    async fn a_bad_definition_changes_nothing() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let text = seed.engine.export_definition(&seed.id).await.unwrap();
        let snapshot = || async {
            (
                seed.engine.store.integrations().await.unwrap(),
                seed.engine.store.custom_providers().await.unwrap().len(),
                seed.engine.store.last_integration_id().await.unwrap(),
            )
        };
        let before = snapshot().await;
        let mut newer: serde_json::Value = serde_json::from_str(&text).unwrap();
        newer["version"] = 2.into();
        let mut bad_provider = newer.clone();
        bad_provider["version"] = 1.into();
        bad_provider["customProvider"]["tokenUrl"] = "not a url".into();
        let mut bad_callback = bad_provider.clone();
        bad_callback["customProvider"] = newer["customProvider"].clone();
        bad_callback["callback"]["kind"] = "loopback".into();
        bad_callback["callback"]["loopbackPort"] = 80.into();
        for (file, says) in [
            (
                "{\"format\": \"something.else\", \"version\": 1}".to_string(),
                "something.else",
            ),
            (newer.to_string(), "newer Onramp"),
            (bad_provider.to_string(), "custom provider"),
            (bad_callback.to_string(), "below 1024"),
            (text.replace("\"providerId\"", "\"provider\""), "providerId"),
        ] {
            match seed.engine.import_definition(&file).await.unwrap_err() {
                OnrampError::InvalidInput { field, problem } => {
                    assert_eq!(field, "definition file");
                    assert!(problem.contains(says), "{says}: {problem}");
                }
                other => panic!("{other}"),
            }
        }
        assert_eq!(snapshot().await, before);
    }

    #[tokio::test]
    async fn a_snippet_names_the_test_call_and_reads_secrets_from_the_environment() {
        let seed = seeded("http://127.0.0.1:9", 3000, 3600);
        let python = seed
            .engine
            .snippet(&seed.id, SnippetLanguage::Python)
            .await
            .unwrap();
        assert!(
            python.contains("CALL_URL = \"http://127.0.0.1:9/api\""),
            "{python}"
        );
        assert!(python.contains("os.environ.get(name"));
        assert!(!python.contains("secret-1") && !python.contains("rt-1"));
    }
}
