//! The team definition: what a teammate needs to set up the same integration on their machine —
//! name, provider (a custom provider in full), client ID, callback, scopes, the developer-console
//! checklist. Never a secret, a token, a site or a connection: the importer brings their own secret
//! and authorizes themselves.
//!
//! ```json
//! { "format": "onramp.definition", "version": 1, "name": "…", "providerId": "atlassian",
//!   "customProvider": null, "clientId": "…", "callback": { "kind": "loopback", "loopbackPort": 47823 },
//!   "scopes": ["offline_access", …], "consoleDone": ["create", …] }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::OnrampError;
use crate::model::{CallbackSettings, CustomProviderInput, Provider};
use crate::store::Integration;

pub const FORMAT: &str = "onramp.definition";
/// The newest version this Onramp writes and reads.
pub const VERSION: u64 = 1;

const FIELD: &str = "definition file";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub format: String,
    pub version: u64,
    pub name: String,
    pub provider_id: String,
    /// For a custom provider: everything needed to recreate it.
    #[serde(default)]
    pub custom_provider: Option<CustomProviderInput>,
    /// Not a secret: the app's public identifier (empty when not entered yet).
    #[serde(default)]
    pub client_id: String,
    pub callback: CallbackSettings,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Developer-console checklist items already done (ids of the provider's console steps).
    #[serde(default)]
    pub console_done: Vec<String>,
}

/// The integration's definition as pretty JSON.
pub fn to_definition(integration: &Integration, provider: &Provider) -> String {
    let definition = Definition {
        format: FORMAT.into(),
        version: VERSION,
        name: integration.name.clone(),
        provider_id: provider.id.clone(),
        custom_provider: provider.custom.clone(),
        client_id: integration.client_id.clone(),
        callback: integration.callback,
        scopes: integration.scopes.clone(),
        console_done: integration.console_done.clone(),
    };
    let mut text = serde_json::to_string_pretty(&definition).expect("a definition serializes");
    text.push('\n');
    text
}

/// Reads a definition file. Checks the format, the version and every field that needs no provider;
/// the engine checks the rest (provider, callback kind) before it changes anything.
pub fn parse_definition(text: &str) -> Result<Definition, OnrampError> {
    let bad = |problem: String| OnrampError::invalid(FIELD, problem);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(format!("This is not JSON ({e}). Choose the .json file Onramp exported with \"Export definition\"."))
    })?;
    let Some(object) = value.as_object() else {
        return Err(bad("The file holds JSON, but not an object. Choose the .json file Onramp exported with \"Export definition\".".into()));
    };
    match object.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(super::env::JSON_FORMAT) => {
            return Err(bad("This is a hand-off file (values for a backend), not a team definition. Choose the file made with \"Export definition\".".into()))
        }
        Some(other) => {
            return Err(bad(format!("The file's format is \"{other}\", not \"{FORMAT}\": it was not exported by Onramp's \"Export definition\".")))
        }
        None => {
            return Err(bad(format!("The file has no \"format\": \"{FORMAT}\", so it is not an Onramp definition. Choose the file made with \"Export definition\".")))
        }
    }
    match object.get("version").and_then(|v| v.as_u64()) {
        Some(VERSION) => {}
        Some(v) if v > VERSION => {
            return Err(bad(format!("The file is version {v}, made by a newer Onramp; this one reads version {VERSION}. Update Onramp, then import it again.")))
        }
        _ => {
            return Err(bad(format!("The file's \"version\" is missing or not a version this Onramp knows (it reads {VERSION}). Export the definition again.")))
        }
    }
    let definition: Definition = serde_json::from_value(value).map_err(|e| {
        bad(format!(
            "A field is missing or has the wrong type: {e}. Export the definition again."
        ))
    })?;
    if definition.name.trim().is_empty() {
        return Err(bad("The integration's \"name\" is empty.".into()));
    }
    if definition.provider_id.trim().is_empty() {
        return Err(bad("The \"providerId\" is empty.".into()));
    }
    if definition.provider_id.starts_with(crate::custom::ID_PREFIX)
        && definition.custom_provider.is_none()
    {
        return Err(bad("The integration uses a custom provider, but the file does not describe it (\"customProvider\" is missing). Export the definition again with this Onramp.".into()));
    }
    if let Some(s) = definition
        .scopes
        .iter()
        .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
    {
        return Err(bad(format!(
            "\"{s}\" is not a scope name: scope names have no spaces."
        )));
    }
    if definition.client_id.chars().any(char::is_whitespace) {
        return Err(bad("The \"clientId\" contains spaces.".into()));
    }
    Ok(definition)
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn definition_golden_holds_no_secret_site_or_token() {
        let text = to_definition(&fixture::integration(), &fixture::provider());
        fixture::golden("fixture.definition.json", &text);
        for absent in [
            "secret",
            "token",
            "site",
            "cloud",
            "connection",
            "acme.atlassian.net",
        ] {
            assert!(
                !text.to_ascii_lowercase().contains(absent),
                "{absent} in {text}"
            );
        }
    }

    #[test]
    fn a_definition_reads_back_as_written() {
        let i = fixture::integration();
        let parsed = parse_definition(&to_definition(&i, &fixture::provider())).unwrap();
        assert_eq!(
            (
                parsed.name,
                parsed.provider_id,
                parsed.callback,
                parsed.scopes,
                parsed.console_done
            ),
            (i.name, i.provider_id, i.callback, i.scopes, i.console_done)
        );
    }

    fn problem(text: &str) -> String {
        match parse_definition(text).unwrap_err() {
            OnrampError::InvalidInput { field, problem } => {
                assert_eq!(field, FIELD);
                problem
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_malformed_file_says_what_is_wrong() {
        let good = to_definition(&fixture::integration(), &fixture::provider());
        let with = |key: &str, value: serde_json::Value| {
            let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
            v[key] = value;
            v.to_string()
        };
        assert!(problem("{ not json").contains("not JSON"));
        assert!(problem("[1, 2]").contains("not an object"));
        assert!(problem("{}").contains("no \"format\""));
        assert!(problem(&with("format", "onramp.handoff".into())).contains("hand-off file"));
        assert!(problem(&with("format", "nango.config".into())).contains("\"nango.config\""));
        assert!(problem(&with("version", 2.into())).contains("newer Onramp"));
        assert!(problem(&with("version", "one".into())).contains("\"version\""));
        assert!(problem(&with("name", " ".into())).contains("\"name\" is empty"));
        assert!(problem(&with("callback", "loopback".into())).contains("wrong type"));
        assert!(
            problem(&with("scopes", serde_json::json!(["read:me", "a b"]))).contains("\"a b\"")
        );
        assert!(problem(&with("providerId", "custom-1234".into())).contains("customProvider"));
    }
}
