//! Step 1, providers: the built-in catalog and the user's custom OAuth 2.0 / OpenID servers.

use super::*;

impl Engine {
    /// The provider by id, shared: a built-in one is handed out without copying its scope list
    /// (every step and every API call asks for it).
    pub async fn provider(&self, provider_id: &str) -> Result<Arc<Provider>, OnrampError> {
        if provider_id.starts_with(custom::ID_PREFIX) {
            let saved = self.store.custom_providers().await?;
            return saved
                .iter()
                .find(|c| c.id == provider_id)
                .map(|c| Arc::new(custom::to_provider(c)))
                .ok_or_else(|| OnrampError::UnknownProvider(provider_id.to_string()));
        }
        match self.built_in_providers.iter().find(|p| p.id == provider_id) {
            Some(built) => Ok(Arc::clone(built)),
            // Not built: unknown, or the sandbox's while it does not run (the catalog says which).
            None => self
                .catalog
                .provider(provider_id, self.sandbox_base())
                .map(Arc::new),
        }
    }

    /// Built-in providers, then the user's custom ones (only the built-in ones when the store
    /// cannot be read: `bootstrap` reports that).
    pub async fn providers(&self) -> Vec<Provider> {
        let mut all: Vec<Provider> = self
            .built_in_providers
            .iter()
            .map(|p| Provider::clone(p))
            .collect();
        match self.store.custom_providers().await {
            Ok(saved) => all.extend(saved.iter().map(custom::to_provider)),
            Err(e) => tracing::warn!("custom providers could not be read: {e}"),
        }
        all
    }

    /// Saves a custom provider (new when `id` is `None`). Integrations using it keep working.
    pub async fn save_custom_provider(
        &self,
        id: Option<String>,
        input: CustomProviderInput,
    ) -> Result<Provider, OnrampError> {
        custom::validate(&input)?;
        let id = match id {
            Some(id) => {
                self.provider(&id).await?;
                id
            }
            None => format!("{}{}", custom::ID_PREFIX, new_id()),
        };
        let saved = custom::CustomProvider {
            id: id.clone(),
            input,
        };
        self.store.save_custom_provider(saved).await?;
        tracing::info!("custom provider {id} saved");
        self.provider(&id).await.map(Arc::unwrap_or_clone)
    }

    /// Every scope of the catalog with what it means, once: providers name theirs with
    /// `Provider.scope_filter`. Asked by the UI when step 3 first needs it.
    pub fn scope_catalog(&self) -> Vec<crate::model::ScopeInfo> {
        self.catalog.scope_infos()
    }

    /// Removes a custom provider that no integration uses (saved integrations are never broken).
    pub async fn delete_custom_provider(&self, id: &str) -> Result<(), OnrampError> {
        self.store.delete_custom_provider(id).await
    }

    pub async fn discover_provider(
        &self,
        issuer: &str,
    ) -> Result<CustomProviderInput, OnrampError> {
        custom::discover(&self.http, issuer).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh engine with the sandbox at a made-up address (nothing is asked of it).
    fn engine_with_sandbox() -> (Engine, tempfile::TempDir) {
        crate::vault::use_mock_keychain();
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(EngineConfig {
            config_dir: dir.path().into(),
            sandbox: Some(SandboxLink {
                app: SandboxApp {
                    base_url: "http://127.0.0.1:4000".into(),
                    app_name: "sandbox".into(),
                    client_id: "app".into(),
                    client_secret: "app-secret".into(),
                    service_account_client_id: "sa".into(),
                    service_account_client_secret: "sa-secret".into(),
                },
                instance_id: "run-1".into(),
                register_callback: Box::new(|_| {}),
            }),
            default_loopback_port: 47823,
        })
        .unwrap();
        (engine, dir)
    }

    /// The first payload stays small (359 KB when every provider carried its own scopes and test
    /// calls); what each provider offers resolves in the catalogs sent once, to exactly what the
    /// engine's rules use.
    #[tokio::test]
    async fn the_first_bootstrap_stays_small_and_providers_resolve_in_the_shared_catalogs() {
        let (engine, _dir) = engine_with_sandbox();
        let boot = engine.bootstrap().await;
        let json = serde_json::to_string(&boot).unwrap();
        let catalog = engine.scope_catalog();
        let catalog_json = serde_json::to_string(&catalog).unwrap();
        println!(
            "bootstrap payload: {} bytes; scope catalog: {} bytes",
            json.len(),
            catalog_json.len()
        );
        assert!(json.len() <= 40 * 1024, "{} bytes", json.len());
        assert!(boot.providers.iter().any(|p| p.id == "sandbox"));
        for p in &boot.providers {
            let scopes: Vec<_> = catalog
                .iter()
                .filter(|s| p.scope_filter.offers(s))
                .chain(&p.own_scopes)
                .collect();
            assert!(!scopes.is_empty(), "{}", p.id);
            assert_eq!(scopes, p.scopes.iter().collect::<Vec<_>>(), "{}", p.id);
            let calls: Vec<_> = p
                .test_call_ids
                .iter()
                .map(|id| boot.test_calls.iter().find(|c| &c.id == id).unwrap())
                .chain(&p.own_test_calls)
                .collect();
            assert_eq!(calls, p.test_calls.iter().collect::<Vec<_>>(), "{}", p.id);
        }
    }

    /// Built-in providers are built once and served as they are; custom ones stay live.
    #[tokio::test]
    async fn providers_are_built_once_and_custom_ones_appear_when_saved() {
        let (engine, _dir) = engine_with_sandbox();
        assert_eq!(
            engine.provider("jira").await.unwrap(),
            engine.provider("jira").await.unwrap()
        );
        let before = engine.providers().await;
        assert_eq!(before, engine.providers().await);
        assert!(matches!(
            engine.provider("nope").await,
            Err(OnrampError::UnknownProvider(_))
        ));

        let saved = engine
            .save_custom_provider(
                None,
                CustomProviderInput {
                    name: "Mine".into(),
                    authorize_url: "https://auth.example.com/authorize".into(),
                    token_url: "https://auth.example.com/token".into(),
                    scopes: vec!["openid".into(), "things:read".into()],
                    extra_params: vec![],
                    client_auth: crate::model::ClientAuth::RequestBody,
                    pkce: true,
                    test_call_url: None,
                    issuer: None,
                },
            )
            .await
            .unwrap();
        // A custom provider's scopes are not in the shared catalog: they travel with it.
        let own: Vec<_> = saved.own_scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(own, ["openid", "things:read"]);
        assert_eq!(saved.own_test_calls, saved.test_calls);
        let after = engine.providers().await;
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after.last(), Some(&saved));
        assert_eq!(*engine.provider(&saved.id).await.unwrap(), saved);
    }
}
