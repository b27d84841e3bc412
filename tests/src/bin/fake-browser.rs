//! A stand-in "system browser" for end-to-end tests, started by xdg-open (via `$BROWSER` or the
//! http(s) scheme handler) with the authorize URL. It loads the sandbox consent page, presses Accept
//! (or Cancel when `ONRAMP_FAKE_BROWSER_DECISION=cancel`, or nothing when it is `ignore`), and
//! follows the redirect like a browser:
//! an http(s) callback is fetched (the loopback listener), any other scheme (`onramp://`) is handed
//! to the desktop, which starts Onramp with the URL: with `gio open` (GLib browsers such as
//! Firefox/Epiphany), or with `xdg-open` when `ONRAMP_FAKE_BROWSER_OPENER=xdg-open` (what
//! Chromium-family browsers do).
//! With `ONRAMP_FAKE_BROWSER_STRAY_FIRST` set, a bare `/callback` request (no code, no state) goes to
//! the loopback listener before the real callback.
//! Every step is appended to `$ONRAMP_FAKE_BROWSER_LOG` when set.

use std::io::Write;

fn log(line: &str) {
    eprintln!("fake-browser: {line}");
    if let Some(path) = std::env::var_os("ONRAMP_FAKE_BROWSER_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Reads `name="value"` from the first tag that contains `marker`.
fn attribute(html: &str, marker: &str, name: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{name}=\"");
    let v = tag.find(&key)? + key.len();
    let end = tag[v..].find('"')?;
    Some(tag[v..v + end].replace("&amp;", "&"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        log("no URL given");
        std::process::exit(2);
    };
    log(&format!(
        "open {}",
        url.split('?').next().unwrap_or_default()
    ));
    if let Err(e) = run(&url).await {
        log(&format!("error: {e}"));
        std::process::exit(1);
    }
}

async fn run(url: &str) -> Result<(), String> {
    let http = onramp_core::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = page.status();
    let html = page.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() || !html.contains("id=\"consent\"") {
        return Err(format!("no consent page (HTTP {status})"));
    }
    let action =
        attribute(&html, "id=\"consent\"", "action").ok_or("consent form has no action")?;
    let request =
        attribute(&html, "name=\"request\"", "value").ok_or("consent form has no request id")?;
    let decision =
        std::env::var("ONRAMP_FAKE_BROWSER_DECISION").unwrap_or_else(|_| "accept".into());
    if decision == "ignore" {
        // A user who looks at the consent page and walks away.
        log("consent: ignore");
        return Ok(());
    }
    let base = url::Url::parse(url).map_err(|e| e.to_string())?;
    let post_to = base.join(&action).map_err(|e| e.to_string())?;
    log(&format!("consent: {decision}"));
    let answer = http
        .post(post_to)
        .form(&[
            ("request", request.as_str()),
            ("decision", decision.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            format!(
                "consent answered HTTP {} without a redirect",
                answer.status()
            )
        })?
        .to_string();
    let target = url::Url::parse(&location).map_err(|e| format!("bad redirect: {e}"))?;
    match target.scheme() {
        "http" | "https" => {
            if std::env::var_os("ONRAMP_FAKE_BROWSER_STRAY_FIRST").is_some() {
                // Like a prefetch or another page poking the port: /callback without code or state.
                let stray = format!(
                    "{}://{}{}",
                    target.scheme(),
                    target.authority(),
                    target.path()
                );
                let r = http
                    .get(stray.as_str())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                log(&format!("stray callback: HTTP {}", r.status()));
            }
            log(&format!(
                "follow {}://{}{}",
                target.scheme(),
                target.authority(),
                target.path()
            ));
            let r = http
                .get(location.as_str())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            log(&format!("callback page: HTTP {}", r.status()));
        }
        scheme => {
            let opener =
                std::env::var("ONRAMP_FAKE_BROWSER_OPENER").unwrap_or_else(|_| "gio".into());
            let mut command = match opener.as_str() {
                "xdg-open" => std::process::Command::new("xdg-open"),
                _ => {
                    let mut gio = std::process::Command::new("gio");
                    gio.arg("open");
                    gio
                }
            };
            let opener = if opener == "xdg-open" {
                "xdg-open"
            } else {
                "gio open"
            };
            log(&format!("hand {scheme}:// to {opener}"));
            let status = command
                .arg(location.as_str())
                .status()
                .map_err(|e| format!("{opener}: {e}"))?;
            log(&format!("{opener} exited with {status}"));
            if !status.success() {
                return Err(format!("{opener} failed"));
            }
        }
    }
    Ok(())
}
