//! HTML pages: the consent screen and error pages. Self-contained (inline CSS, no external
//! resources) so they render offline and inside a locked-down webview.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::util::escape_html;
use crate::SandboxUser;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;\
color:#172b4d;margin:0;padding:2rem}main{max-width:34rem;margin:0 auto;background:#fff;\
border-radius:8px;padding:2rem;box-shadow:0 1px 3px rgba(9,30,66,.25)}h1{font-size:1.4rem;margin-top:0}\
.tag{display:inline-block;font-size:.75rem;background:#fffae6;border:1px solid #ffe380;border-radius:3px;\
padding:.1rem .4rem}ul{padding-left:1.2rem}code{background:#f4f5f7;padding:.05rem .3rem;border-radius:3px}\
.buttons{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1.5rem}button{font:inherit;\
padding:.5rem 1.2rem;border-radius:4px;border:1px solid #c1c7d0;background:#fff;cursor:pointer}\
#accept{background:#0052cc;border-color:#0052cc;color:#fff}.error{color:#bf2600}\
dt{font-weight:600;margin-top:.5rem}dd{margin-left:0;word-break:break-all}";

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title} · Onramp sandbox</title><style>{STYLE}</style></head>\n<body><main>\n\
<p class=\"tag\">Onramp sandbox — not Atlassian</p>\n{body}\n</main></body></html>\n",
        title = escape_html(title),
    )
}

/// An HTML response that is never cached or framed and may load nothing external.
pub(crate) fn html(status: StatusCode, page: String) -> Response {
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The consent screen. The form markup is a contract parsed by tests — keep it byte-identical.
pub(crate) fn consent(
    request_id: &str,
    app_name: &str,
    user: &SandboxUser,
    scopes: &[String],
    sites: &[&str],
) -> Response {
    let scope_items: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>\n", escape_html(s)))
        .collect();
    let site_items: String = sites
        .iter()
        .map(|s| format!("<li>{}</li>\n", escape_html(s)))
        .collect();
    let body = format!(
        "<h1>{app} is requesting access to your Atlassian account</h1>\n\
<p>Signed in as <strong>{name}</strong> ({email}).</p>\n\
<p>{app} wants to:</p>\n<ul id=\"scopes\">\n{scope_items}</ul>\n\
<p>Sites in this grant:</p>\n<ul id=\"sites\">\n{site_items}</ul>\n\
<form id=\"consent\" method=\"post\" action=\"/authorize/decision\">\n\
<input type=\"hidden\" name=\"request\" value=\"{id}\">\n\
<div class=\"buttons\">\n\
<button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"cancel\">Cancel</button>\n\
<button type=\"submit\" name=\"decision\" value=\"accept\" id=\"accept\">Accept</button>\n\
</div>\n</form>",
        app = escape_html(app_name),
        name = escape_html(&user.name),
        email = escape_html(&user.email),
        id = escape_html(request_id),
    );
    html(StatusCode::OK, shell("Authorize app", &body))
}

/// A generic error page. `lines` are plain text, escaped here.
pub(crate) fn error(status: StatusCode, heading: &str, lines: &[String]) -> Response {
    let paragraphs: String = lines
        .iter()
        .map(|l| format!("<p>{}</p>\n", escape_html(l)))
        .collect();
    let body = format!(
        "<h1 class=\"error\">{}</h1>\n{paragraphs}",
        escape_html(heading)
    );
    html(status, shell(heading, &body))
}

/// The page behind the `/error?error=…&error_description=…` redirect (Atlassian's lives at
/// `id.atlassian.com/error`, reference §9.1).
pub(crate) fn error_params(error: &str, description: &str) -> Response {
    let body = format!(
        "<h1 class=\"error\">Authorization error</h1>\n<dl>\n\
<dt>error</dt><dd id=\"error\">{}</dd>\n\
<dt>error_description</dt><dd id=\"error_description\">{}</dd>\n</dl>",
        escape_html(error),
        escape_html(description),
    );
    html(StatusCode::BAD_REQUEST, shell("Error", &body))
}
