//! The bash + curl + jq snippet.

use super::{header, sh, SnippetCall};
use crate::handoff::{HandoffValues, TokenBody};
use crate::model::ClientAuth;

pub(super) fn program(v: &HandoffValues, call: &SnippetCall) -> String {
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
