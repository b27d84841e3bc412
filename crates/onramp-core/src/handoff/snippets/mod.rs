//! Runnable snippets: complete programs that refresh the token (with rotation) and make one gateway
//! call with the integration's real values. Secrets come from the environment, never from the text:
//!
//! - `ONRAMP_CLIENT_SECRET`: the app's client secret;
//! - `ONRAMP_REFRESH_TOKEN_FILE`: the file that holds the current refresh token. The rotated refresh
//!   token is written back to it (a temporary file in the same folder, mode 0600, renamed over it)
//!   **before** the new access token is used, so a crash can only lose the cheap access token;
//! - `ONRAMP_REFRESH_TOKEN`: the first refresh token, read only while that file is missing or empty.

mod curl;
mod node;
mod python;

use super::{HandoffValues, SnippetLanguage, TokenBody};
use crate::error::OnrampError;
use crate::model::{ClientAuth, Provider};
use crate::store::Integration;

/// The one call a snippet makes after the refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetCall {
    pub label: String,
    pub method: String,
    /// The full URL (gateway, product path and cloudId filled in).
    pub url: String,
}

/// The integration's first runnable test call (granted scopes once connected, else the chosen ones).
pub fn snippet_call(
    integration: &Integration,
    provider: &Provider,
) -> Result<SnippetCall, OnrampError> {
    let scopes = match &integration.connection {
        Some(c) => &c.granted_scopes,
        None => &integration.scopes,
    };
    let preset = super::pick_test_call(provider, scopes)?;
    let cloud_id = integration.site.as_ref().map(|s| s.id.as_str());
    let url = crate::gateway::test_call_url(provider, preset, cloud_id).map_err(|e| match e {
        OnrampError::NoSiteSelected => OnrampError::invalid(
            "site",
            format!(
                "\"{}\" goes through a site's cloudId: pick a site in step 5 first.",
                preset.label
            ),
        ),
        other => other,
    })?;
    Ok(SnippetCall {
        label: preset.label.clone(),
        method: preset.method.clone(),
        url,
    })
}

/// The program in `language`.
pub fn snippet(values: &HandoffValues, call: &SnippetCall, language: SnippetLanguage) -> String {
    match language {
        SnippetLanguage::Curl => curl::program(values, call),
        SnippetLanguage::Node => node::program(values, call),
        SnippetLanguage::Python => python::program(values, call),
    }
}

const ENV_DOC: &str = "Environment (secrets are never written into this file):
  ONRAMP_CLIENT_SECRET       the app's client secret
  ONRAMP_REFRESH_TOKEN_FILE  the file holding the current refresh token; the rotated one is written back
  ONRAMP_REFRESH_TOKEN       the first refresh token, read only while that file is missing or empty

Rotation: each refresh returns a NEW refresh token and disables the one sent. This program writes the
new one to ONRAMP_REFRESH_TOKEN_FILE (temporary file, mode 0600, renamed over it) BEFORE it uses the new
access token, so a crash can lose only the access token. One refresher per grant: a second program
refreshing the same grant (or Onramp itself) would invalidate this one's refresh token.";

fn header(values: &HandoffValues, call: &SnippetCall, comment: &str, run: &str) -> String {
    let mut text = format!(
        "Onramp hand-off: \"{}\" ({}).\nRefreshes the access token, then calls \"{}\": {} {}\nRun: {run}\n\n{ENV_DOC}",
        values.integration_name.replace(['\n', '\r'], " "),
        values.provider.name,
        call.label,
        call.method,
        call.url
    );
    if values.token_body == TokenBody::Json {
        text.push_str("\n\nThe token request is a JSON body with the client ID and secret in it, as Atlassian documents.");
    } else if values.client_auth == ClientAuth::Basic {
        text.push_str("\n\nThe token request is a form body; the client authenticates with HTTP Basic (RFC 6749 2.3.1).");
    } else {
        text.push_str(
            "\n\nThe token request is a form body with the client ID and secret in it (RFC 6749).",
        );
    }
    text.lines()
        .map(|l| {
            if l.is_empty() {
                comment.trim_end().to_string()
            } else {
                format!("{comment}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON string literal, which is also a valid JavaScript and Python string literal.
fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A bash single-quoted word.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, values};
    use super::*;

    fn fixture_snippet(language: SnippetLanguage) -> String {
        let i = fixture::integration();
        let p = fixture::provider();
        let call = snippet_call(&i, &p).unwrap();
        snippet(&values(&i, &p, None), &call, language)
    }

    #[test]
    fn curl_golden() {
        fixture::golden("fixture.curl.sh", &fixture_snippet(SnippetLanguage::Curl));
    }

    #[test]
    fn node_golden() {
        fixture::golden("fixture.node.mjs", &fixture_snippet(SnippetLanguage::Node));
    }

    #[test]
    fn python_golden() {
        fixture::golden(
            "fixture.python.py",
            &fixture_snippet(SnippetLanguage::Python),
        );
    }

    #[test]
    fn the_call_uses_the_picked_cloud_id_and_no_secret_is_inlined() {
        let i = fixture::integration();
        let p = fixture::provider();
        let call = snippet_call(&i, &p).unwrap();
        assert_eq!(
            call.url,
            "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/myself"
        );
        // Even when the values carry a secret, no snippet writes it out.
        let v = values(&i, &p, Some("the-secret".into()));
        for l in [
            SnippetLanguage::Curl,
            SnippetLanguage::Node,
            SnippetLanguage::Python,
        ] {
            assert!(!snippet(&v, &call, l).contains("the-secret"));
        }
    }

    #[test]
    fn without_a_site_a_product_call_asks_for_one() {
        let mut i = fixture::integration();
        i.site = None;
        let e = snippet_call(&i, &fixture::provider()).unwrap_err();
        assert!(e.to_string().contains("step 5"), "{e}");
    }

    #[test]
    fn the_three_programs_parse() {
        let dir = tempfile::tempdir().unwrap();
        let check = |name: &str, text: &str, cmd: &[&str]| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let out = std::process::Command::new(cmd[0])
                .args(&cmd[1..])
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("{} is needed for this test: {e}", cmd[0]));
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        check(
            "s.sh",
            &fixture_snippet(SnippetLanguage::Curl),
            &["bash", "-n"],
        );
        check(
            "s.mjs",
            &fixture_snippet(SnippetLanguage::Node),
            &["node", "--check"],
        );
        check(
            "s.py",
            &fixture_snippet(SnippetLanguage::Python),
            &["python3", "-m", "py_compile"],
        );
    }
}
