//! The hand-off values as a `.env` file or as versioned JSON, and the writer for a file that holds
//! the client secret (mode 0600 from its creation).
//!
//! `.env` variables (a variable whose value is unknown is left out, with a comment saying why):
//!
//! | variable | value |
//! |---|---|
//! | `ONRAMP_PROVIDER_ID`, `ONRAMP_PROVIDER_NAME` | the provider (`atlassian`, "Atlassian Cloud (Jira + Confluence)") |
//! | `ONRAMP_AUTHORIZE_URL` | where the user consents |
//! | `ONRAMP_AUTHORIZE_PARAMS` | extra authorize parameters as a query string (`prompt=consent`) |
//! | `ONRAMP_AUDIENCE` | the `audience` authorize parameter (`api.atlassian.com`) |
//! | `ONRAMP_TOKEN_URL` | the token endpoint (code exchange and refresh) |
//! | `ONRAMP_TOKEN_REQUEST_BODY` | `json` (Atlassian) or `form` (RFC 6749) |
//! | `ONRAMP_CLIENT_AUTH` | `request_body` (client ID and secret in the body) or `basic` (HTTP Basic) |
//! | `ONRAMP_CLIENT_ID` | the app's client ID |
//! | `ONRAMP_CLIENT_SECRET` | only when the user chose to include it |
//! | `ONRAMP_REDIRECT_URI` | the callback URL registered in the developer console |
//! | `ONRAMP_SCOPES` | the scopes, separated by spaces |
//! | `ONRAMP_CLOUD_ID`, `ONRAMP_SITE_NAME`, `ONRAMP_SITE_URL` | the picked site |
//! | `ONRAMP_API_BASE_URL` | the API gateway (`https://api.atlassian.com`) |
//! | `ONRAMP_<PRODUCT>_BASE_URL` | each product through the gateway: `ONRAMP_JIRA_BASE_URL=https://api.atlassian.com/ex/jira/<cloudId>`, `ONRAMP_CONFLUENCE_BASE_URL` |
//!
//! Tokens are never exported; the snippets read `ONRAMP_REFRESH_TOKEN` / `ONRAMP_REFRESH_TOKEN_FILE`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{HandoffValues, TokenBody};
use crate::error::OnrampError;
use crate::model::ClientAuth;
use crate::secrets::ExposeSecret;

/// The JSON file's `format`.
pub const JSON_FORMAT: &str = "onramp.handoff";
/// The JSON file's `version`.
pub const JSON_VERSION: u32 = 1;

/// The values as a `.env` file (dotenv syntax that `source`/`set -a` in bash reads the same way).
pub fn to_env(values: &HandoffValues) -> String {
    let mut out = String::new();
    let mut line = |name: &str, value: &str| {
        out.push_str(&format!("{name}={}\n", quote(value)));
    };
    line("ONRAMP_PROVIDER_ID", &values.provider.id);
    line("ONRAMP_PROVIDER_NAME", &values.provider.name);
    line("ONRAMP_AUTHORIZE_URL", &values.authorize_url);
    if !values.authorize_params.is_empty() {
        line("ONRAMP_AUTHORIZE_PARAMS", &query_string(values));
    }
    if let Some(a) = &values.audience {
        line("ONRAMP_AUDIENCE", a);
    }
    line("ONRAMP_TOKEN_URL", &values.token_url);
    line(
        "ONRAMP_TOKEN_REQUEST_BODY",
        match values.token_body {
            TokenBody::Json => "json",
            TokenBody::Form => "form",
        },
    );
    line(
        "ONRAMP_CLIENT_AUTH",
        match values.client_auth {
            ClientAuth::RequestBody => "request_body",
            ClientAuth::Basic => "basic",
        },
    );
    line("ONRAMP_CLIENT_ID", &values.client_id);
    if let Some(secret) = &values.client_secret {
        line("ONRAMP_CLIENT_SECRET", secret.expose_secret());
    }
    line("ONRAMP_REDIRECT_URI", &values.redirect_uri);
    line("ONRAMP_SCOPES", &values.scopes.join(" "));
    if let Some(site) = &values.site {
        line("ONRAMP_CLOUD_ID", &site.cloud_id);
        line("ONRAMP_SITE_NAME", &site.name);
        line("ONRAMP_SITE_URL", &site.url);
    }
    if !values.gateway_url.is_empty() {
        line("ONRAMP_API_BASE_URL", &values.gateway_url);
    }
    for p in &values.products {
        if let Some(base) = &p.base_url {
            let name = format!(
                "ONRAMP_{}_BASE_URL",
                p.product.gateway_segment().to_ascii_uppercase()
            );
            line(&name, base);
        }
    }
    let mut header = format!(
        "# Onramp hand-off for \"{}\" ({}).\n# Variable names: see Onramp's README (\"The hand-off\").\n",
        one_line(&values.integration_name),
        one_line(&values.provider.name)
    );
    if values.client_secret.is_some() {
        header.push_str(
            "# This file holds the client secret: keep it private (mode 0600), never commit it.\n",
        );
    } else {
        header.push_str(
            "# The client secret is not in this file: set ONRAMP_CLIENT_SECRET yourself.\n",
        );
    }
    if values.site.is_none() && !values.products.is_empty() {
        header.push_str("# No site is picked yet (step 5): ONRAMP_CLOUD_ID and the product base URLs are left out.\n");
    }
    header.push_str("# Tokens are never exported.\n\n");
    header + &out
}

/// The values as pretty JSON: `{"format": "onramp.handoff", "version": 1, …}`.
pub fn to_json(values: &HandoffValues) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        format: &'static str,
        version: u32,
        #[serde(flatten)]
        values: &'a HandoffValues,
    }
    let mut text = serde_json::to_string_pretty(&Doc {
        format: JSON_FORMAT,
        version: JSON_VERSION,
        values,
    })
    .expect("hand-off values serialize");
    text.push('\n');
    text
}

/// Writes `contents` to `path` with mode 0600 from the file's creation (no moment when another user
/// could read it). An existing file is truncated and set to 0600 again.
pub fn write_private_file(path: &Path, contents: &str) -> Result<(), OnrampError> {
    let fail = |e: std::io::Error| OnrampError::invalid("file", format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    // `mode` applies only when the file is created: an existing file keeps its mode otherwise.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    file.write_all(contents.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// Writes a file without a secret (normal permissions).
pub fn write_public_file(path: &Path, contents: &str) -> Result<(), OnrampError> {
    std::fs::write(path, contents)
        .map_err(|e| OnrampError::invalid("file", format!("{}: {e}", path.display())))
}

fn query_string(values: &HandoffValues) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for kv in &values.authorize_params {
        q.append_pair(&kv.key, &kv.value);
    }
    q.finish()
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Single quotes (nothing inside is special, for dotenv and bash alike); a value with a single quote
/// or a line break is double-quoted with `\`, `"`, `$` and `` ` `` escaped and line breaks as `\n`.
fn quote(value: &str) -> String {
    if !value.contains(['\'', '\n', '\r']) {
        return format!("'{value}'");
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, values};
    use super::*;

    #[test]
    fn env_golden() {
        let v = values(&fixture::integration(), &fixture::provider(), None);
        fixture::golden("fixture.env", &to_env(&v));
    }

    #[test]
    fn json_golden() {
        let v = values(&fixture::integration(), &fixture::provider(), None);
        fixture::golden("fixture.handoff.json", &to_json(&v));
    }

    #[test]
    fn the_secret_is_left_out_by_default_and_added_when_asked() {
        let i = fixture::integration();
        let without = values(&i, &fixture::provider(), None);
        assert!(!to_env(&without).contains("ONRAMP_CLIENT_SECRET="));
        assert!(!to_json(&without).contains("clientSecret"));
        let with = values(&i, &fixture::provider(), Some("s3cr$t'x".into()));
        assert!(to_env(&with).contains("ONRAMP_CLIENT_SECRET=\"s3cr\\$t'x\"\n"));
        let json: serde_json::Value = serde_json::from_str(&to_json(&with)).unwrap();
        assert_eq!(json["clientSecret"], "s3cr$t'x");
        assert_eq!(
            (json["format"].as_str(), json["version"].as_u64()),
            (Some(JSON_FORMAT), Some(1))
        );
    }

    #[test]
    fn quoted_values_read_back_the_same_in_bash() {
        let tricky = "a'b \"c\" $HOME `x` \\ end";
        let script = format!("X={}\nprintf '%s' \"$X\"", quote(tricky));
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), tricky);
        assert_eq!(quote("https://x/y?a=b&c"), "'https://x/y?a=b&c'");
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_0600_from_creation_and_after_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("handoff.env");
        write_private_file(&path, "ONRAMP_CLIENT_SECRET='a'\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        // An existing, world-readable file is truncated and made private again.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&path, "short\n").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    }
}
