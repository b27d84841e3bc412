//! Runnable snippets: complete programs that refresh the token (with rotation) and make one gateway
//! call with the integration's real values. Secrets come from the environment, never from the text:
//!
//! - `ONRAMP_CLIENT_SECRET`: the app's client secret;
//! - `ONRAMP_REFRESH_TOKEN_FILE`: the file that holds the current refresh token. The rotated refresh
//!   token is written back to it (a temporary file in the same folder, mode 0600, renamed over it)
//!   **before** the new access token is used, so a crash can only lose the cheap access token;
//! - `ONRAMP_REFRESH_TOKEN`: the first refresh token, read only while that file is missing or empty.

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
        SnippetLanguage::Curl => curl(values, call),
        SnippetLanguage::Node => node(values, call),
        SnippetLanguage::Python => python(values, call),
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

fn curl(v: &HandoffValues, call: &SnippetCall) -> String {
    let (content_type, body, auth_header) = match (v.token_body, v.client_auth) {
        (TokenBody::Json, _) => (
            "application/json",
            "jq -n '{grant_type: \"refresh_token\", client_id: env.CLIENT_ID, client_secret: env.ONRAMP_CLIENT_SECRET, refresh_token: env.USED_REFRESH_TOKEN}'",
            None,
        ),
        (TokenBody::Form, ClientAuth::RequestBody) => (
            "application/x-www-form-urlencoded",
            "jq -rjn '\"grant_type=refresh_token&client_id=\" + (env.CLIENT_ID|@uri) + \"&client_secret=\" + (env.ONRAMP_CLIENT_SECRET|@uri) + \"&refresh_token=\" + (env.USED_REFRESH_TOKEN|@uri)'",
            None,
        ),
        (TokenBody::Form, ClientAuth::Basic) => (
            "application/x-www-form-urlencoded",
            "jq -rjn '\"grant_type=refresh_token&refresh_token=\" + (env.USED_REFRESH_TOKEN|@uri)'",
            Some("basic=\"$(CLIENT_ID=\"$CLIENT_ID\" jq -rjn '(env.CLIENT_ID|@uri) + \":\" + (env.ONRAMP_CLIENT_SECRET|@uri)' | base64 -w0)\""),
        ),
    };
    format!(
        r#"#!/usr/bin/env bash
{doc}
#
# Needs bash, curl (7.55 or later) and jq. Secrets travel through the environment, stdin and
# /dev/fd, never through a command line that `ps` would show.
set -euo pipefail

TOKEN_URL={token_url}
CLIENT_ID={client_id}
CALL_METHOD={method}
CALL_URL={url}

# (No apostrophe in these messages: bash would read it as a quote inside "${{...}}".)
: "${{ONRAMP_CLIENT_SECRET:?Set ONRAMP_CLIENT_SECRET to the client secret of the app.}}"
: "${{ONRAMP_REFRESH_TOKEN_FILE:?Set ONRAMP_REFRESH_TOKEN_FILE to the file that keeps the refresh token.}}"
export ONRAMP_CLIENT_SECRET  # read by jq from the environment

refresh_token=""
if [[ -s "$ONRAMP_REFRESH_TOKEN_FILE" ]]; then
  refresh_token="$(tr -d '[:space:]' < "$ONRAMP_REFRESH_TOKEN_FILE")"
fi
if [[ -z "$refresh_token" ]]; then
  : "${{ONRAMP_REFRESH_TOKEN:?$ONRAMP_REFRESH_TOKEN_FILE is empty: set ONRAMP_REFRESH_TOKEN to the first refresh token.}}"
  refresh_token="$ONRAMP_REFRESH_TOKEN"
fi

# 1. Refresh.
{auth_setup}response="$(CLIENT_ID="$CLIENT_ID" USED_REFRESH_TOKEN="$refresh_token" {body} |
  curl --silent --show-error --request POST {auth_arg}\
    --header 'Content-Type: {content_type}' --header 'Accept: application/json' \
    --data-binary @- --write-out '\n%{{http_code}}' "$TOKEN_URL")"
status="${{response##*$'\n'}}"
answer="${{response%$'\n'*}}"
if [[ "$status" != 200 ]]; then
  echo "The token endpoint answered HTTP $status: $answer" >&2
  exit 1
fi
access_token="$(jq -er '.access_token' <<<"$answer")"
new_refresh_token="$(jq -r '.refresh_token // empty' <<<"$answer")"

# 2. Store the rotated refresh token BEFORE the new access token is used (mktemp creates it 0600;
#    an answer without a refresh token keeps the one sent).
tmp="$(mktemp "$(dirname -- "$ONRAMP_REFRESH_TOKEN_FILE")/.refresh-token.XXXXXX")"
printf '%s\n' "${{new_refresh_token:-$refresh_token}}" > "$tmp"
mv -f -- "$tmp" "$ONRAMP_REFRESH_TOKEN_FILE"

# 3. Call the API and print its JSON answer.
response="$(curl --silent --show-error --request "$CALL_METHOD" \
  --header @<(printf 'Authorization: Bearer %s\n' "$access_token") \
  --header 'Accept: application/json' --write-out '\n%{{http_code}}' "$CALL_URL")"
status="${{response##*$'\n'}}"
answer="${{response%$'\n'*}}"
if [[ "$status" -lt 200 || "$status" -ge 300 ]]; then
  echo "$CALL_METHOD $CALL_URL answered HTTP $status: $answer" >&2
  exit 1
fi
jq . <<<"$answer"
"#,
        doc = header(v, call, "# ", "bash this-file.sh"),
        token_url = sh(&v.token_url),
        client_id = sh(&v.client_id),
        method = sh(&call.method),
        url = sh(&call.url),
        auth_setup = match auth_header {
            Some(setup) => format!(
                "# HTTP Basic: the form-encoded client ID and secret (RFC 6749 2.3.1).\n{setup}\n"
            ),
            None => String::new(),
        },
        auth_arg = if auth_header.is_some() {
            "--header @<(printf 'Authorization: Basic %s\\n' \"$basic\") "
        } else {
            ""
        },
    )
}

fn node(v: &HandoffValues, call: &SnippetCall) -> String {
    let request = match (v.token_body, v.client_auth) {
        (TokenBody::Json, _) => {
            r#"  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const body = JSON.stringify({
    grant_type: "refresh_token",
    client_id: CLIENT_ID,
    client_secret: clientSecret,
    refresh_token: refreshToken,
  });"#
        }
        (TokenBody::Form, ClientAuth::RequestBody) => {
            r#"  const headers = { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" };
  const body = new URLSearchParams({
    grant_type: "refresh_token",
    client_id: CLIENT_ID,
    client_secret: clientSecret,
    refresh_token: refreshToken,
  }).toString();"#
        }
        (TokenBody::Form, ClientAuth::Basic) => {
            r#"  const basic = Buffer.from(
    `${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(clientSecret)}`,
  ).toString("base64");
  const headers = {
    "Content-Type": "application/x-www-form-urlencoded",
    Accept: "application/json",
    Authorization: `Basic ${basic}`,
  };
  const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString();"#
        }
    };
    format!(
        r#"#!/usr/bin/env node
{doc}
//
// Node 20 or later (global fetch), no dependency. An ES module: save it as .mjs.
import {{ closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync }} from "node:fs";
import {{ dirname, join, resolve }} from "node:path";
import {{ randomBytes }} from "node:crypto";

const TOKEN_URL = {token_url};
const CLIENT_ID = {client_id};
const CALL_METHOD = {method};
const CALL_URL = {url};

function need(name, why) {{
  const value = process.env[name];
  if (!value) {{
    console.error(`Set ${{name}}: ${{why}}`);
    process.exit(2);
  }}
  return value;
}}

function readRefreshToken(file) {{
  let token = "";
  try {{
    token = readFileSync(file, "utf8").trim();
  }} catch (e) {{
    if (e.code !== "ENOENT") throw e;
  }}
  return token || need("ONRAMP_REFRESH_TOKEN", `${{file}} is empty: give the first refresh token.`);
}}

// Temporary file (mode 0600) in the same folder, flushed, then renamed over the old one.
function storeRefreshToken(file, token) {{
  const tmp = join(dirname(resolve(file)), `.refresh-token.${{randomBytes(6).toString("hex")}}`);
  const fd = openSync(tmp, "wx", 0o600);
  try {{
    writeSync(fd, `${{token}}\n`);
    fsyncSync(fd);
  }} finally {{
    closeSync(fd);
  }}
  renameSync(tmp, file);
}}

const clientSecret = need("ONRAMP_CLIENT_SECRET", "the app's client secret.");
const tokenFile = need("ONRAMP_REFRESH_TOKEN_FILE", "the file that keeps the refresh token.");
const refreshToken = readRefreshToken(tokenFile);

// 1. Refresh.
async function refresh() {{
{request}
  const response = await fetch(TOKEN_URL, {{ method: "POST", headers, body }});
  const text = await response.text();
  if (!response.ok) {{
    console.error(`The token endpoint answered HTTP ${{response.status}}: ${{text}}`);
    process.exit(1);
  }}
  return JSON.parse(text);
}}
const tokens = await refresh();

// 2. Store the rotated refresh token BEFORE the new access token is used (an answer without a
//    refresh token keeps the one sent).
storeRefreshToken(tokenFile, tokens.refresh_token || refreshToken);

// 3. Call the API and print its JSON answer.
const response = await fetch(CALL_URL, {{
  method: CALL_METHOD,
  headers: {{ Authorization: `Bearer ${{tokens.access_token}}`, Accept: "application/json" }},
}});
const text = await response.text();
if (!response.ok) {{
  console.error(`${{CALL_METHOD}} ${{CALL_URL}} answered HTTP ${{response.status}}: ${{text}}`);
  process.exit(1);
}}
console.log(JSON.stringify(JSON.parse(text), null, 2));
"#,
        doc = header(v, call, "// ", "node this-file.mjs"),
        token_url = lit(&v.token_url),
        client_id = lit(&v.client_id),
        method = lit(&call.method),
        url = lit(&call.url),
    )
}

fn python(v: &HandoffValues, call: &SnippetCall) -> String {
    let request = match (v.token_body, v.client_auth) {
        (TokenBody::Json, _) => {
            r#"    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    body = json.dumps({
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }).encode()"#
        }
        (TokenBody::Form, ClientAuth::RequestBody) => {
            r#"    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }).encode()"#
        }
        (TokenBody::Form, ClientAuth::Basic) => {
            r#"    pair = urllib.parse.quote(CLIENT_ID, safe="") + ":" + urllib.parse.quote(client_secret, safe="")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
    }
    body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode()"#
        }
    };
    format!(
        r#"#!/usr/bin/env python3
{doc}
#
# Python 3.8 or later, standard library only.
import base64
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

TOKEN_URL = {token_url}
CLIENT_ID = {client_id}
CALL_METHOD = {method}
CALL_URL = {url}


def need(name, why):
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"Set {{name}}: {{why}}")
    return value


def read_refresh_token(path):
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except FileNotFoundError:
        token = ""
    return token or need("ONRAMP_REFRESH_TOKEN", f"{{path}} is empty: give the first refresh token.")


def store_refresh_token(path, token):
    """Temporary file (mkstemp: mode 0600) in the same folder, flushed, then renamed over the old one."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".refresh-token.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def send(request, what):
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"{{what}} answered HTTP {{e.code}}: {{e.read().decode(errors='replace')}}")


def refresh(client_secret, refresh_token):
{request}
    request = urllib.request.Request(TOKEN_URL, data=body, headers=headers, method="POST")
    return send(request, "The token endpoint")


def main():
    client_secret = need("ONRAMP_CLIENT_SECRET", "the app's client secret.")
    token_file = need("ONRAMP_REFRESH_TOKEN_FILE", "the file that keeps the refresh token.")
    refresh_token = read_refresh_token(token_file)

    # 1. Refresh.
    tokens = refresh(client_secret, refresh_token)

    # 2. Store the rotated refresh token BEFORE the new access token is used (an answer without a
    #    refresh token keeps the one sent).
    store_refresh_token(token_file, tokens.get("refresh_token") or refresh_token)

    # 3. Call the API and print its JSON answer.
    request = urllib.request.Request(
        CALL_URL,
        headers={{"Authorization": "Bearer " + tokens["access_token"], "Accept": "application/json"}},
        method=CALL_METHOD,
    )
    print(json.dumps(send(request, f"{{CALL_METHOD}} {{CALL_URL}}"), indent=2))


if __name__ == "__main__":
    main()
"#,
        doc = header(v, call, "# ", "python3 this-file.py"),
        token_url = lit(&v.token_url),
        client_id = lit(&v.client_id),
        method = lit(&call.method),
        url = lit(&call.url),
    )
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
