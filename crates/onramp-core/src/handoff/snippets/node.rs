//! The Node snippet (≥ 20, global `fetch`, an ES module, no dependency).

use super::{header, lit, SnippetCall};
use crate::handoff::{HandoffValues, TokenBody};
use crate::model::ClientAuth;

pub(super) fn program(v: &HandoffValues, call: &SnippetCall) -> String {
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
