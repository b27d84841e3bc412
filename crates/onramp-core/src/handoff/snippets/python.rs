//! The Python snippet (standard library only).

use super::{header, lit, SnippetCall};
use crate::handoff::{HandoffValues, TokenBody};
use crate::model::ClientAuth;

pub(super) fn program(v: &HandoffValues, call: &SnippetCall) -> String {
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
