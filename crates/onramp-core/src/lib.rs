//! Onramp's engine. Everything that is a rule lives here, free of Tauri, so it can be unit-tested:
//!
//! - [`catalog`]: providers, scopes and test calls, read from the data files in `catalog/`;
//! - [`endpoint_scopes`]: which scopes a Jira or Confluence REST call needs, from Atlassian's specs;
//! - [`endpoint_advice`]: that, for one integration: the API console's verdict, the scope picker's proposal;
//! - [`oauth`]: authorize URL, pending flows (state), callback parsing, code exchange, refresh;
//! - [`loopback`]: the one-shot `127.0.0.1:<port>/callback` listener;
//! - [`vault`]: secrets in the OS keychain, nowhere else; [`secrets`]: in memory, in types that never print;
//! - [`store`]: non-secret data (integrations, history, custom providers) in an embedded SQLite
//!   database, safe with two Onramp processes; imports the old `settings.json` once;
//! - [`gateway`]: site discovery and test calls through the API gateway;
//! - [`handoff`]: the verified setup for the user's backend (.env, JSON, snippets, team definition);
//! - [`health`]: an integration's health on the home, and its refresh token's age;
//! - [`tls`]: rustls with ring, installed before any HTTP client is built;
//! - [`engine`]: the facade the shell calls, one method per user action;
//! - [`model`], [`error`] and [`error_code`]: the types, the one error shape the UI sees and its codes.

pub mod catalog;
pub mod custom;
pub mod desktop_entry;
pub mod diagnosis;
pub mod endpoint_advice;
pub mod endpoint_scopes;
pub mod engine;
pub mod error;
pub mod error_code;
pub mod events;
pub mod gateway;
pub mod handoff;
pub mod health;
pub mod lifecycle;
pub mod links;
pub mod loopback;
pub mod model;
pub mod nango;
pub mod oauth;
pub mod oauth_error;
pub mod preflight;
pub mod scopes;
pub mod secrets;
pub mod steps;
pub mod store;
pub mod tls;
pub mod vault;

pub use engine::{Engine, EngineConfig};
pub use error::OnrampError;

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    now_unix_ms() / 1000
}

/// Milliseconds since the Unix epoch: retry times, and the jitter derived from them.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod bindings {
    //! The UI's TypeScript types are generated from `model`. This test regenerates them into a
    //! temporary folder and fails when `ui/src/lib/bindings/` differs; run
    //! `ONRAMP_WRITE_BINDINGS=1 cargo test -p onramp-core bindings` to update them.
    use crate::model::*;
    use std::path::{Path, PathBuf};
    use ts_rs::{Config, TS};

    fn export_all(dir: &Path) {
        let cfg = Config::new().with_out_dir(dir);
        Bootstrap::export_all(&cfg).unwrap();
        IntegrationPatch::export_all(&cfg).unwrap();
        AuthProgress::export_all(&cfg).unwrap();
        TestCallResult::export_all(&cfg).unwrap();
        AuthorizationStarted::export_all(&cfg).unwrap();
        ScopeAdvice::export_all(&cfg).unwrap();
        ScopeReport::export_all(&cfg).unwrap();
        CustomProviderInput::export_all(&cfg).unwrap();
        NangoTarget::export_all(&cfg).unwrap();
        ApiRequest::export_all(&cfg).unwrap();
        RetryNotice::export_all(&cfg).unwrap();
        crate::events::EngineEvent::export_all(&cfg).unwrap();
        IntegrationSummary::export_all(&cfg).unwrap();
        crate::health::Health::export_all(&cfg).unwrap();
        crate::handoff::HandoffFormat::export_all(&cfg).unwrap();
        crate::handoff::SnippetLanguage::export_all(&cfg).unwrap();
        crate::handoff::HandoffExport::export_all(&cfg).unwrap();
        crate::endpoint_scopes::EndpointScopes::export_all(&cfg).unwrap();
        crate::endpoint_scopes::ScopeSatisfaction::export_all(&cfg).unwrap();
        crate::endpoint_scopes::ScopePreference::export_all(&cfg).unwrap();
        crate::endpoint_scopes::ProposedScopes::export_all(&cfg).unwrap();
        crate::endpoint_advice::EndpointAdvice::export_all(&cfg).unwrap();
        crate::endpoint_advice::ScopeProposal::export_all(&cfg).unwrap();
        crate::gateway::RateLimitStatus::export_all(&cfg).unwrap();
        crate::preflight::CredentialCheck::export_all(&cfg).unwrap();
        SiteListing::export_all(&cfg).unwrap();
        KeychainStatus::export_all(&cfg).unwrap();
        // Reached through UiError and ScopeWarning too; listed because the UI imports them.
        ErrorCode::export_all(&cfg).unwrap();
        AdviceCode::export_all(&cfg).unwrap();
    }

    fn files(dir: &Path) -> Vec<(String, String)> {
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read_to_string(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    #[test]
    fn ui_bindings_are_current() {
        let target: PathBuf =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
        let fresh = tempfile::tempdir().unwrap();
        export_all(fresh.path());
        let mut generated = files(fresh.path());
        let names: Vec<String> = generated
            .iter()
            .map(|(n, _)| n.trim_end_matches(".ts").to_string())
            .collect();
        let index: String = names
            .iter()
            .map(|n| format!("export type * from \"./{n}\";\n"))
            .collect();
        generated.push(("index.ts".into(), index));
        generated.sort();
        if std::env::var("ONRAMP_WRITE_BINDINGS").is_ok() {
            let _ = std::fs::remove_dir_all(&target);
            std::fs::create_dir_all(&target).unwrap();
            for (name, text) in &generated {
                std::fs::write(target.join(name), text).unwrap();
            }
        }
        assert_eq!(
            files(&target),
            generated,
            "ui/src/lib/bindings is stale: run ONRAMP_WRITE_BINDINGS=1 cargo test -p onramp-core bindings"
        );
    }
}
