//! Fault injection: the configured delay, 429s (with a `RateLimit-Reason` when asked) and 500s in
//! front of every API route, and the near-limit header on answers that get through.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{json_error, Shr};
use crate::util::rate_limit_reset;

enum Fault {
    /// `Retry-After` seconds and the `RateLimit-Reason`, if any.
    RateLimit(u64, String),
    ServerError,
    MalformedBody,
}

/// Applies `Faults` to one API request: optional delay, then a 429 or 500 while counters last.
pub(super) async fn inject_faults(
    State(shared): State<Shr>,
    request: Request,
    next: Next,
) -> Response {
    let (slow_ms, fault, near_limit) = {
        let mut st = shared.lock();
        let f = &mut st.faults;
        let fault = if f.rate_limit_next > 0 {
            f.rate_limit_next -= 1;
            Some(Fault::RateLimit(
                match f.retry_after_secs {
                    0 => 2,
                    n => n,
                },
                f.rate_limit_reason.clone(),
            ))
        } else if f.malformed_body_next > 0 {
            f.malformed_body_next -= 1;
            Some(Fault::MalformedBody)
        } else if f.server_error_next > 0 {
            f.server_error_next -= 1;
            Some(Fault::ServerError)
        } else {
            None
        };
        let near_limit = fault.is_none() && f.near_limit_next > 0;
        if near_limit {
            f.near_limit_next -= 1;
        }
        (f.slow_ms, fault, near_limit)
    };
    if slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    }
    match fault {
        // Headers as described in reference §9.2; the body is sandbox wording.
        Some(Fault::RateLimit(secs, reason)) => {
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            if let Ok(reset) = HeaderValue::from_str(&rate_limit_reset(Duration::from_secs(secs))) {
                headers.insert("x-ratelimit-reset", reset);
            }
            if let Ok(reason) = HeaderValue::from_str(&reason) {
                if !reason.is_empty() {
                    headers.insert("ratelimit-reason", reason);
                }
            }
            response
        }
        // Sandbox wording.
        Some(Fault::ServerError) => {
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Some(Fault::MalformedBody) => malformed_body(),
        None => {
            let mut response = next.run(request).await;
            if near_limit {
                response
                    .headers_mut()
                    .insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
            }
            response
        }
    }
}

/// A 200 whose body is an HTML page cut off mid-way, not the JSON the caller expects.
pub(crate) fn malformed_body() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        crate::MALFORMED_BODY,
    )
        .into_response()
}
