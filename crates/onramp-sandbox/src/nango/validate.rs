//! Request bodies checked as Nango's zod schemas check them (reference §1.2, §1.3, §1.5): strict
//! objects, the credentials union, the key and scope patterns. Errors are `400 invalid_body` with an
//! `errors` list of `{code, message, path}`; the messages are zod's where the reference shows them,
//! else marked "sandbox wording".

#![allow(clippy::result_large_err)] // axum's Response is the error: it is the answer.

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::invalid_body_errors;

pub(super) struct Credentials {
    pub kind: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<String>,
}

pub(super) struct CreateIntegration {
    pub unique_key: String,
    pub provider: String,
    pub display_name: Option<String>,
    pub forward_webhooks: Option<bool>,
    pub credentials: Option<Credentials>,
}

pub(super) struct PatchIntegration {
    pub unique_key: Option<String>,
    pub display_name: Option<String>,
    pub forward_webhooks: Option<bool>,
    pub credentials: Option<Credentials>,
}

pub(super) struct ImportConnection {
    pub provider_config_key: String,
    pub connection_id: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// ISO-8601, as Nango stores it after `z.coerce.date()`.
    pub expires_at: Option<String>,
    pub connection_config: Option<Value>,
    pub metadata: Option<Value>,
    pub tags: Option<Value>,
}

/// Nango's key check (§1.1): `^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`, any case.
pub(super) fn is_uuid_v4(key: &str) -> bool {
    let parts: Vec<&str> = key.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == 5
        && parts
            .iter()
            .zip(lens)
            .all(|(p, l)| p.len() == l && p.chars().all(|c| c.is_ascii_hexdigit()))
        && parts[2].starts_with('4')
        && parts[3]
            .chars()
            .next()
            .is_some_and(|c| "89abAB".contains(c))
}

struct Errors(Vec<Value>);

impl Errors {
    fn push(&mut self, code: &str, message: &str, path: &[&str]) {
        self.0
            .push(json!({"code": code, "message": message, "path": path}));
    }

    /// Zod's message for a missing or mistyped field (§1.5 shows it for a missing string).
    fn wrong_type(&mut self, expected: &str, value: Option<&Value>, path: &[&str]) {
        let received = match value {
            None => "undefined",
            Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "boolean",
            Some(Value::Number(_)) => "number",
            Some(Value::String(_)) => "string",
            Some(Value::Array(_)) => "array",
            Some(Value::Object(_)) => "object",
        };
        self.push(
            "invalid_type",
            &format!("Invalid input: expected {expected}, received {received}"),
            path,
        );
    }

    /// Strict objects reject unknown keys (`unrecognized_keys`, §1.5, §4).
    fn strict(&mut self, object: &Map<String, Value>, allowed: &[&str], path: &[&str]) {
        for key in object.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.push(
                "unrecognized_keys",
                &format!("Unrecognized key: \"{key}\""),
                path,
            );
        }
    }

    fn done<T>(self, value: T) -> Result<T, Response> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(invalid_body_errors(self.0))
        }
    }
}

fn matches(value: &str, allowed: impl Fn(char) -> bool) -> bool {
    !value.is_empty() && value.len() <= 255 && value.chars().all(allowed)
}

fn key_ok(key: &str) -> bool {
    matches(key, |c| c.is_ascii_alphanumeric() || "~:.@ _-".contains(c))
}

fn provider_ok(p: &str) -> bool {
    matches(p, |c| c.is_ascii_alphanumeric() || "_-".contains(c))
}

/// `^[0-9a-zA-Z:/_.*-]+(,[0-9a-zA-Z:/_.*-]+)*$` or "" (§1.2).
fn scopes_ok(s: &str) -> bool {
    s.is_empty()
        || s.split(',').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/_.*-".contains(c))
        })
}

fn object<'a>(
    body: &'a Value,
    errors: &mut Errors,
    path: &[&str],
) -> Option<&'a Map<String, Value>> {
    match body.as_object() {
        Some(o) => Some(o),
        None => {
            errors.wrong_type("object", Some(body), path);
            None
        }
    }
}

fn string(
    o: &Map<String, Value>,
    field: &str,
    errors: &mut Errors,
    path: &[&str],
) -> Option<String> {
    match o.get(field) {
        Some(Value::String(s)) => Some(s.clone()),
        other => {
            errors.wrong_type("string", other, path);
            None
        }
    }
}

fn optional_string(
    o: &Map<String, Value>,
    field: &str,
    errors: &mut Errors,
    path: &[&str],
) -> Option<String> {
    o.get(field)?;
    string(o, field, errors, path)
}

fn unique_key(o: &Map<String, Value>, errors: &mut Errors) -> Option<String> {
    let key = string(o, "unique_key", errors, &["unique_key"])?;
    if !key_ok(&key) {
        // Exact (§1.2, from Nango's test).
        errors.push(
            "invalid_format",
            "Invalid string: must match pattern /^[a-zA-Z0-9~:.@ _-]+$/",
            &["unique_key"],
        );
    }
    Some(key)
}

/// The integration credentials union (§1.2): `{type, client_id, client_secret, scopes?, webhook_secret?}`, strict.
fn credentials(value: &Value, errors: &mut Errors) -> Option<Credentials> {
    let c = object(value, errors, &["credentials"])?;
    let kind = match c.get("type").and_then(Value::as_str) {
        Some(t @ ("OAUTH1" | "OAUTH2" | "TBA")) => t.to_string(),
        _ => {
            // Exact (§1.2 and §4: `invalid_union` at `credentials.type`).
            errors.push(
                "invalid_union",
                "invalid credentials object",
                &["credentials", "type"],
            );
            return None;
        }
    };
    errors.strict(
        c,
        &[
            "type",
            "client_id",
            "client_secret",
            "scopes",
            "webhook_secret",
        ],
        &["credentials"],
    );
    let client_id = string(c, "client_id", errors, &["credentials", "client_id"]);
    let client_secret = string(
        c,
        "client_secret",
        errors,
        &["credentials", "client_secret"],
    );
    for (field, v) in [("client_id", &client_id), ("client_secret", &client_secret)] {
        if v.as_deref() == Some("") {
            // Sandbox wording (zod's `min(1)` message is not in the reference).
            errors.push(
                "too_small",
                "Too small: expected string to have >=1 characters",
                &["credentials", field],
            );
        }
    }
    let scopes = match c.get("scopes") {
        None => None,
        Some(Value::String(s)) if scopes_ok(s) => Some(s.clone()),
        Some(_) => {
            // The code is §4's (an array of scopes); the message is sandbox wording.
            errors.push("invalid_union", "Invalid input", &["credentials", "scopes"]);
            None
        }
    };
    Some(Credentials {
        kind,
        client_id: client_id?,
        client_secret: client_secret?,
        scopes,
    })
}

pub(super) fn create_integration(body: &Value) -> Result<CreateIntegration, Response> {
    let mut errors = Errors(Vec::new());
    let Some(o) = object(body, &mut errors, &[]) else {
        return Err(invalid_body_errors(errors.0));
    };
    errors.strict(
        o,
        &[
            "unique_key",
            "provider",
            "display_name",
            "forward_webhooks",
            "credentials",
            "integration_config",
        ],
        &[],
    );
    let unique_key = unique_key(o, &mut errors);
    let provider = string(o, "provider", &mut errors, &["provider"]);
    if provider.as_deref().is_some_and(|p| !provider_ok(p)) {
        // Sandbox wording (the pattern is §1.2's).
        errors.push(
            "invalid_format",
            "Invalid string: must match pattern /^[a-zA-Z0-9_-]+$/",
            &["provider"],
        );
    }
    let display_name = optional_string(o, "display_name", &mut errors, &["display_name"]);
    let forward_webhooks = o.get("forward_webhooks").and_then(Value::as_bool);
    let credentials = o
        .get("credentials")
        .and_then(|c| credentials(c, &mut errors));
    let (Some(unique_key), Some(provider)) = (unique_key, provider) else {
        return Err(invalid_body_errors(errors.0));
    };
    errors.done(CreateIntegration {
        unique_key,
        provider,
        display_name,
        forward_webhooks,
        credentials,
    })
}

pub(super) fn patch_integration(body: &Value) -> Result<PatchIntegration, Response> {
    let mut errors = Errors(Vec::new());
    let Some(o) = object(body, &mut errors, &[]) else {
        return Err(invalid_body_errors(errors.0));
    };
    errors.strict(
        o,
        &[
            "unique_key",
            "display_name",
            "forward_webhooks",
            "credentials",
            "integration_config",
        ],
        &[],
    );
    let unique_key = if o.contains_key("unique_key") {
        unique_key(o, &mut errors)
    } else {
        None
    };
    let display_name = optional_string(o, "display_name", &mut errors, &["display_name"]);
    let forward_webhooks = o.get("forward_webhooks").and_then(Value::as_bool);
    let credentials = o
        .get("credentials")
        .and_then(|c| credentials(c, &mut errors));
    errors.done(PatchIntegration {
        unique_key,
        display_name,
        forward_webhooks,
        credentials,
    })
}

/// `expires_at` through `z.coerce.date()` (§1.5, §4): an ISO-8601 string, or a number read as
/// milliseconds (so seconds land in 1970, as observed). A numeric string is refused.
fn expires_at(value: &Value, errors: &mut Errors) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let when = match value {
        Value::String(s) => time::OffsetDateTime::parse(s, &Rfc3339).ok(),
        Value::Number(n) => n.as_i64().and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok()
        }),
        _ => None,
    };
    match when.and_then(|w| w.format(&Rfc3339).ok()) {
        Some(iso) => Some(iso),
        None => {
            // §4 says only "expected date"; the rest of the message is sandbox wording.
            errors.push(
                "invalid_type",
                "Invalid input: expected date, received Date",
                &["credentials", "expires_at"],
            );
            None
        }
    }
}

pub(super) fn import_connection(body: &Value) -> Result<ImportConnection, Response> {
    let mut errors = Errors(Vec::new());
    let Some(o) = object(body, &mut errors, &[]) else {
        return Err(invalid_body_errors(errors.0));
    };
    errors.strict(
        o,
        &[
            "provider_config_key",
            "metadata",
            "connection_config",
            "webhook_url_override",
            "connection_id",
            "credentials",
            "end_user",
            "tags",
        ],
        &[],
    );
    let provider_config_key = string(
        o,
        "provider_config_key",
        &mut errors,
        &["provider_config_key"],
    );
    let connection_id = optional_string(o, "connection_id", &mut errors, &["connection_id"]);
    for field in ["metadata", "connection_config", "tags"] {
        if let Some(v) = o.get(field).filter(|v| !v.is_object()) {
            errors.wrong_type("object", Some(v), &[field]);
        }
    }
    let mut access_token = None;
    let mut refresh_token = None;
    let mut expires = None;
    match o.get("credentials").and_then(Value::as_object) {
        None => errors.wrong_type("object", o.get("credentials"), &["credentials"]),
        Some(c) => match c.get("type").and_then(Value::as_str) {
            Some("OAUTH2") => {
                // Strict: `raw`, `expires_in`, `token_type`, `scope` are refused (§1.5, §4).
                errors.strict(
                    c,
                    &[
                        "type",
                        "access_token",
                        "refresh_token",
                        "expires_at",
                        "config_override",
                    ],
                    &["credentials"],
                );
                access_token = string(
                    c,
                    "access_token",
                    &mut errors,
                    &["credentials", "access_token"],
                );
                refresh_token = optional_string(
                    c,
                    "refresh_token",
                    &mut errors,
                    &["credentials", "refresh_token"],
                );
                expires = c.get("expires_at").and_then(|v| expires_at(v, &mut errors));
            }
            Some(other) => {
                return Err(super::invalid_body_message(&format!(
                    "Provider OAUTH2 does not support {other} auth"
                )))
            }
            // Sandbox wording (zod's discriminated-union message is not in the reference).
            None => errors.push("invalid_union", "Invalid input", &["credentials", "type"]),
        },
    }
    let (Some(provider_config_key), Some(access_token)) = (provider_config_key, access_token)
    else {
        return Err(invalid_body_errors(errors.0));
    };
    errors.done(ImportConnection {
        provider_config_key,
        connection_id,
        access_token,
        refresh_token,
        expires_at: expires,
        connection_config: o.get("connection_config").cloned(),
        metadata: o.get("metadata").cloned(),
        tags: o.get("tags").cloned(),
    })
}
