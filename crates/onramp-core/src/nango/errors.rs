//! Nango's error answers (nango-api-and-preflight.md §1.1–1.5, §4) as [`NangoProblem`]s, and the
//! words for each: what is wrong and what to do. Nango's own `code` and `message` are kept in the
//! detail; they never contain the secret key or a token.

use serde_json::Value;

use crate::model::ErrorCode;

/// Which call of the push answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Provider,
    ReadIntegration,
    CreateIntegration,
    UpdateIntegration,
    ImportConnection,
    ReadConnection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NangoProblem {
    /// No Nango secret key in the keychain for this integration.
    KeyMissing,
    /// 401: `missing_auth_header`, `malformed_auth_header`, `invalid_secret_key_format`,
    /// `unknown_account` (§1.1).
    KeyRejected { code: String },
    /// 403 `forbidden` "Insufficient scope. Required: …" (§1.1).
    KeyLacksScope { message: String },
    /// The server could not be reached.
    Unreachable { base_url: String, message: String },
    /// A 404 that is not one of Nango's known answers: a wrong base URL, or a Nango without these
    /// routes (`/integrations` writes arrived in May 2025, `/connections` in August 2025, §1.4, §1.5).
    RouteMissing { path: String },
    /// 400 "Invalid provider" (§1.2); or a 404 from `GET /providers/{name}` (not established, see
    /// `map_answer`).
    ProviderUnknown { provider: String },
    /// The key belongs to an integration of another provider (read back, or 400 "incompatible
    /// credentials auth type and provider auth", §1.2, §1.3).
    ProviderMismatch {
        key: String,
        found: Option<String>,
        wanted: String,
    },
    /// 400 "Unique key already exists" (§1.2, §4): created by someone else between Onramp's read and
    /// its create.
    IntegrationExists,
    /// 404 "Integration does not exist" on import (§1.5), or "Integration \"…\" does not exist"
    /// on update (§1.3): deleted meanwhile.
    IntegrationMissing,
    /// Another 400 `invalid_body` (§1.2, §1.5): `path: message` of each error.
    InvalidBody { details: String },
    /// 400 `resource_capped` (Cloud plan limit, §1.5).
    ConnectionLimit { message: String },
    /// 429 `too_many_request`, with `Retry-After` seconds (§1.1).
    RateLimited { retry_after: Option<u64> },
    /// 5xx `server_error` (§1.2, §1.3, §1.5).
    ServerError { message: String },
    /// The read-back's `cloudId` is not the picked site's (§1.5 item 6, §1.7 step 4).
    CloudIdMismatch {
        expected: String,
        site_url: String,
        found: Option<String>,
    },
    /// The token has no expiry: Nango would never refresh it (`no_expires_at`, §1.5).
    NoExpiry,
    /// Onramp holds no refresh token to hand over (already handed off, or no offline_access).
    NoRefreshToken,
    /// Anything else: the status and Nango's code/message.
    Other { step: String, answer: String },
}

/// Nango's error envelope: `{error:{code, message?, errors?}}` (§1.1).
fn fields(body: &str) -> (String, String, Vec<(String, String)>) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let errors = e["errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|x| {
                    let path = x["path"]
                        .as_array()
                        .map(|p| {
                            p.iter()
                                .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    (path, text(&x["message"]))
                })
                .collect()
        })
        .unwrap_or_default();
    (text(&e["code"]), text(&e["message"]), errors)
}

/// A non-success answer of one push step as an `OnrampError::Nango`.
pub fn map_answer(
    step: Step,
    status: u16,
    body: &str,
    retry_after: Option<u64>,
) -> crate::error::OnrampError {
    let (code, message, errors) = fields(body);
    let has = |m: &str| message == m || errors.iter().any(|(_, e)| e == m);
    let problem = match status {
        401 => NangoProblem::KeyRejected {
            code: if code.is_empty() {
                "unknown".into()
            } else {
                code.clone()
            },
        },
        403 if code == "forbidden" => NangoProblem::KeyLacksScope {
            message: message.clone(),
        },
        429 => NangoProblem::RateLimited { retry_after },
        500..=599 => NangoProblem::ServerError {
            message: if message.is_empty() {
                format!("HTTP {status}")
            } else {
                message.clone()
            },
        },
        400 if has("Invalid provider") => NangoProblem::ProviderUnknown {
            provider: String::new(),
        },
        400 if has("Unique key already exists") => NangoProblem::IntegrationExists,
        400 if has("incompatible credentials auth type and provider auth")
            || (message.starts_with("Provider ") && message.contains("does not support")) =>
        {
            NangoProblem::ProviderMismatch {
                key: String::new(),
                found: None,
                wanted: String::new(),
            }
        }
        400 if code == "resource_capped" => NangoProblem::ConnectionLimit {
            message: message.clone(),
        },
        400 if code == "invalid_body" => NangoProblem::InvalidBody {
            details: if errors.is_empty() {
                message.clone()
            } else {
                errors
                    .iter()
                    .map(|(p, m)| {
                        if p.is_empty() {
                            m.clone()
                        } else {
                            format!("{p}: {m}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        },
        // §1.5: the exact answer for an unknown provider_config_key.
        404 if step == Step::ImportConnection && message == "Integration does not exist" => {
            NangoProblem::IntegrationMissing
        }
        // §1.3: `Integration "<key>" does not exist`.
        404 if step == Step::UpdateIntegration && code == "not_found" => {
            NangoProblem::IntegrationMissing
        }
        // The reference does not show Nango's answer for an unknown provider name; a 404 in
        // Nango's error envelope is taken to mean that, any other 404 a missing route.
        404 if step == Step::Provider && !code.is_empty() => NangoProblem::ProviderUnknown {
            provider: String::new(),
        },
        404 => NangoProblem::RouteMissing {
            path: format!("{step:?}"),
        },
        _ => NangoProblem::Other {
            step: format!("{step:?}"),
            answer: crate::error::truncate(
                &if code.is_empty() {
                    body.to_string()
                } else {
                    format!("{code}: {message}")
                },
                500,
            ),
        },
    };
    crate::error::OnrampError::Nango {
        status: Some(status),
        problem,
    }
}

/// Names the provider and key in a mapped answer (Nango's bodies do not).
pub(crate) fn with_context(
    e: crate::error::OnrampError,
    provider: &str,
    key: &str,
) -> crate::error::OnrampError {
    use crate::error::OnrampError;
    match e {
        OnrampError::Nango {
            status,
            problem: NangoProblem::ProviderUnknown { .. },
        } => OnrampError::Nango {
            status,
            problem: NangoProblem::ProviderUnknown {
                provider: provider.to_string(),
            },
        },
        OnrampError::Nango {
            status,
            problem: NangoProblem::ProviderMismatch { found, .. },
        } => OnrampError::Nango {
            status,
            problem: NangoProblem::ProviderMismatch {
                key: key.to_string(),
                found,
                wanted: provider.to_string(),
            },
        },
        other => other,
    }
}

/// The code, title, detail and hint for a problem.
pub(crate) fn words(
    status: Option<u16>,
    problem: &NangoProblem,
) -> (ErrorCode, String, String, Option<String>) {
    let answered = status
        .map(|s| format!("Nango answered HTTP {s}. "))
        .unwrap_or_default();
    let (code, title, detail, hint): (ErrorCode, &str, String, &str) = match problem {
        NangoProblem::KeyMissing => (
            ErrorCode::NangoKeyMissing,
            "No Nango secret key saved",
            "Onramp needs your Nango environment's secret key (the \"Environment API key\") to push; it keeps it only in the OS keychain.".into(),
            "Copy the key from Nango's Environment Settings and save it for this integration, then push again.",
        ),
        NangoProblem::KeyRejected { code } => (
            ErrorCode::NangoKeyRejected,
            "Nango did not accept the secret key",
            format!("{answered}({code}). {}", match code.as_str() {
                "invalid_secret_key_format" => "Nango keys are UUID v4 values (like 1f2e…-4…); this is not one.",
                "unknown_account" => "No environment on this Nango server has this key: it may belong to another environment or another Nango instance.",
                _ => "The key was missing or malformed in the request.",
            }),
            "Copy the secret key again from Nango's Environment Settings (of the environment and server you push to), save it, and check the Nango base URL.",
        ),
        NangoProblem::KeyLacksScope { message } => (
            ErrorCode::NangoKeyScope,
            "The Nango key is not allowed to do this",
            format!("{answered}{message}"),
            "Use an unscoped key, or give this key environment:integrations:read, environment:integrations:create, environment:integrations:update, environment:connections:create and environment:connections:read.",
        ),
        NangoProblem::Unreachable { base_url, message } => (
            ErrorCode::NangoUnreachable,
            "Could not reach Nango",
            format!("No answer from {base_url}: {message}"),
            "Check the base URL (Nango Cloud is https://api.nango.dev; a self-hosted Nango listens on http://localhost:3003 by default) and that the server runs.",
        ),
        NangoProblem::RouteMissing { path } => (
            ErrorCode::NangoRouteMissing,
            "This server does not offer Nango's API here",
            format!("{answered}The {path} route does not exist at this base URL."),
            "Use the server's root address without /api or other paths. A self-hosted Nango from before mid-2025 lacks these routes: update it.",
        ),
        NangoProblem::ProviderUnknown { provider } => (
            ErrorCode::NangoProviderUnknown,
            "Nango does not know this provider",
            format!("{answered}The provider name \"{provider}\" was refused."),
            "Pick jira, confluence or atlassian; a very old or customized Nango may lack them.",
        ),
        NangoProblem::ProviderMismatch { key, found, wanted } => (
            ErrorCode::NangoProviderMismatch,
            "That integration key belongs to another provider",
            match found {
                Some(found) => format!("The Nango integration \"{key}\" uses the provider \"{found}\", not \"{wanted}\"; Onramp does not overwrite its credentials."),
                None => format!("{answered}The integration's provider does not take OAuth 2.0 credentials."),
            },
            "Choose another integration key (or the provider that integration uses), then push again.",
        ),
        NangoProblem::IntegrationExists => (
            ErrorCode::NangoIntegrationExists,
            "The integration key was just taken",
            format!("{answered}Unique key already exists: it was created after Onramp checked."),
            "Push again: Onramp will now update that integration.",
        ),
        NangoProblem::IntegrationMissing => (
            ErrorCode::NangoIntegrationMissing,
            "The Nango integration disappeared",
            format!("{answered}The integration does not exist (it was deleted while Onramp pushed)."),
            "Push again: Onramp creates the integration first.",
        ),
        NangoProblem::InvalidBody { details } => (
            ErrorCode::NangoInvalidBody,
            "Nango refused what Onramp sent",
            format!("{answered}{details}"),
            "Check the client ID, secret and scopes in steps 2 and 3. If they look right, this is a bug in Onramp; please report it with this text.",
        ),
        NangoProblem::ConnectionLimit { message } => (
            ErrorCode::NangoConnectionLimit,
            "Your Nango plan allows no more connections",
            format!("{answered}{message}"),
            "Delete an unused connection in Nango or upgrade the plan, then push again.",
        ),
        NangoProblem::RateLimited { retry_after } => (
            ErrorCode::NangoRateLimited,
            "Nango asked Onramp to slow down",
            format!("{answered}Too many requests{}.", retry_after.map(|s| format!("; try again in {s} s")).unwrap_or_default()),
            "Wait a moment, then push again.",
        ),
        NangoProblem::ServerError { message } => (
            ErrorCode::NangoServerError,
            "Nango failed",
            format!("{answered}{message}"),
            "Try again later; check the Nango server's logs if it is yours.",
        ),
        NangoProblem::CloudIdMismatch { expected, site_url, found } => (
            ErrorCode::NangoCloudIdMismatch,
            "Nango kept another Atlassian site",
            format!("You picked {site_url} (cloudId {expected}), but Nango's connection now has cloudId {}. Nango's Jira hook picks the site by subdomain, else the first site the token reaches. Nango also holds the refresh token now, and Onramp kept its own.", found.as_deref().unwrap_or("(none)")),
            "Fix the connection's subdomain in Nango (or authorize only that site), or delete the connection in Nango, then push again.",
        ),
        NangoProblem::NoExpiry => (
            ErrorCode::NangoNoExpiry,
            "The token has no expiry time",
            "Atlassian did not say when this access token expires, and Nango never refreshes a token without expires_at: the connection would die within the hour.".into(),
            "Authorize again in step 4 so Onramp knows the expiry, then push.",
        ),
        NangoProblem::NoRefreshToken => (
            ErrorCode::NangoNoRefreshToken,
            "There is no refresh token to hand to Nango",
            "Onramp holds no refresh token for this connection: it was already handed off, or offline_access was not granted. Nango could not keep the connection alive.".into(),
            "Authorize again in step 4 with offline_access, then push.",
        ),
        NangoProblem::Other { step, answer } => (
            ErrorCode::NangoError,
            "Nango returned an unexpected answer",
            format!("{answered}At {step}: {answer}"),
            "Check the Nango base URL and version.",
        ),
    };
    (code, title.to_string(), detail, Some(hint.to_string()))
}

#[cfg(test)]
mod tests {
    //! Each documented answer (bodies from nango-api-and-preflight.md) and its code and words.

    use super::*;
    use crate::error::OnrampError;

    fn code(step: Step, status: u16, body: &str) -> (ErrorCode, String) {
        let ui = map_answer(step, status, body, Some(7)).to_ui();
        (ui.code, ui.detail)
    }

    #[test]
    fn every_documented_answer_has_its_own_code() {
        use ErrorCode::*;
        let cases: &[(Step, u16, &str, ErrorCode, &str)] = &[
            // §1.1
            (
                Step::Provider,
                401,
                r#"{"error":{"message":"Authentication failed. The request is missing the Authorization header.","payload":{},"code":"missing_auth_header"}}"#,
                NangoKeyRejected,
                "missing_auth_header",
            ),
            (
                Step::Provider,
                401,
                r#"{"error":{"message":"Authentication failed. The provided secret key is not a UUID v4.","code":"invalid_secret_key_format"}}"#,
                NangoKeyRejected,
                "UUID v4",
            ),
            (
                Step::CreateIntegration,
                403,
                r#"{"error":{"code":"forbidden","message":"Insufficient scope. Required: environment:integrations:create"}}"#,
                NangoKeyScope,
                "Required: environment:integrations:create",
            ),
            (
                Step::ImportConnection,
                429,
                r#"{"error":{"code":"too_many_request","method":"POST","path":"/connections"}}"#,
                NangoRateLimited,
                "7 s",
            ),
            // §1.2, §4
            (
                Step::CreateIntegration,
                400,
                r#"{"error":{"code":"invalid_body","errors":[{"code":"invalid_string","message":"Unique key already exists","path":["uniqueKey"]}]}}"#,
                NangoIntegrationExists,
                "Unique key already exists",
            ),
            (
                Step::CreateIntegration,
                400,
                r#"{"error":{"code":"invalid_body","errors":[{"code":"invalid_string","message":"Invalid provider","path":["provider"]}]}}"#,
                NangoProviderUnknown,
                "refused",
            ),
            (
                Step::CreateIntegration,
                400,
                r#"{"error":{"code":"invalid_body","message":"incompatible credentials auth type and provider auth"}}"#,
                NangoProviderMismatch,
                "OAuth 2.0",
            ),
            (
                Step::CreateIntegration,
                400,
                r#"{"error":{"code":"invalid_body","message":"Missing credentials"}}"#,
                NangoInvalidBody,
                "Missing credentials",
            ),
            (
                Step::CreateIntegration,
                500,
                r#"{"error":{"code":"server_error","message":"Failed to create integration"}}"#,
                NangoServerError,
                "Failed to create integration",
            ),
            // §1.3
            (
                Step::UpdateIntegration,
                404,
                r#"{"error":{"code":"not_found","message":"Integration \"k\" does not exist"}}"#,
                NangoIntegrationMissing,
                "deleted",
            ),
            (
                Step::UpdateIntegration,
                400,
                r#"{"error":{"code":"invalid_body","errors":[{"code":"invalid_type","message":"Invalid input: expected string, received undefined","path":["credentials","client_id"]}]}}"#,
                NangoInvalidBody,
                "credentials.client_id: Invalid input",
            ),
            // §1.5, §4
            (
                Step::ImportConnection,
                404,
                r#"{"error":{"code":"not_found","message":"Integration does not exist"}}"#,
                NangoIntegrationMissing,
                "does not exist",
            ),
            (
                Step::ImportConnection,
                400,
                r#"{"error":{"code":"invalid_body","errors":[{"code":"unrecognized_keys","message":"Unrecognized key: \"raw\"","path":["credentials"]}]}}"#,
                NangoInvalidBody,
                "Unrecognized key",
            ),
            (
                Step::ImportConnection,
                400,
                r#"{"error":{"code":"invalid_body","message":"Provider OAUTH2 does not support API_KEY auth"}}"#,
                NangoProviderMismatch,
                "OAuth 2.0",
            ),
            (
                Step::ImportConnection,
                400,
                r#"{"error":{"code":"resource_capped","message":"Reached maximum number of allowed connections. Upgrade your plan to get rid of connection limits."}}"#,
                NangoConnectionLimit,
                "Reached maximum",
            ),
            // §1.4: a route that is not there (old Nango, wrong base URL).
            (
                Step::CreateIntegration,
                404,
                "Cannot POST /integrations",
                NangoRouteMissing,
                "CreateIntegration",
            ),
            (
                Step::Provider,
                404,
                "<html>not found</html>",
                NangoRouteMissing,
                "Provider",
            ),
            // Not established by the reference: Nango's envelope on a 404 for an unknown provider name.
            (
                Step::Provider,
                404,
                r#"{"error":{"code":"not_found","message":"…"}}"#,
                NangoProviderUnknown,
                "refused",
            ),
            (Step::ReadConnection, 418, "teapot", NangoError, "teapot"),
        ];
        for (step, status, body, want, words) in cases {
            let (got, detail) = code(*step, *status, body);
            assert_eq!(got, *want, "{step:?} {status} {body}");
            assert!(detail.contains(words), "{want:?}: {detail}");
        }
    }

    #[test]
    fn onramp_side_problems_say_what_to_do() {
        for (problem, code, words) in [
            (
                NangoProblem::KeyMissing,
                ErrorCode::NangoKeyMissing,
                "keychain",
            ),
            (
                NangoProblem::NoExpiry,
                ErrorCode::NangoNoExpiry,
                "never refreshes",
            ),
            (
                NangoProblem::NoRefreshToken,
                ErrorCode::NangoNoRefreshToken,
                "offline_access",
            ),
        ] {
            let ui = OnrampError::Nango {
                status: None,
                problem,
            }
            .to_ui();
            assert_eq!(ui.code, code);
            assert!(ui.detail.contains(words), "{}", ui.detail);
            assert!(ui.hint.is_some());
        }
    }
}
