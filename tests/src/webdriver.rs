//! A small W3C WebDriver client over reqwest: just the commands Onramp's end-to-end tests use.
//! (A full client crate would bring a second HTTP stack into the workspace for ~10 endpoints.)

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

pub type Result<T> = std::result::Result<T, String>;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
}

#[derive(Clone)]
pub struct Element {
    id: String,
    css: String,
}

impl Element {
    /// The W3C element reference, for passing the element to `execute`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_json(&self) -> Value {
        json!({ELEMENT_KEY: self.id})
    }
}

impl Session {
    /// Starts the app through tauri-driver (`tauri:options.application`).
    pub async fn start(driver_url: &str, application: &str) -> Result<Session> {
        let http = onramp_core::tls::client_builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        let body = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": application, "args": []}
        }}});
        let response: Value = http
            .post(format!("{driver_url}/session"))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST /session: {e}"))?
            .json()
            .await
            .map_err(|e| format!("POST /session body: {e}"))?;
        let id = response["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {response}"))?
            .to_string();
        Ok(Session {
            http,
            base: format!("{driver_url}/session/{id}"),
            id,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        self.call_within(method, path, body, None).await
    }

    /// `call` with its own time-out instead of the client's 120 s.
    async fn call_within(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let started = Instant::now();
        let response = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        // ONRAMP_E2E_TRACE=1: every command's time, and the time since the first, on stderr.
        if std::env::var_os("ONRAMP_E2E_TRACE").is_some() {
            static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            let t0 = *T0.get_or_init(Instant::now);
            eprintln!(
                "[wd] {method} {path} {:?} at {:?}",
                started.elapsed(),
                t0.elapsed()
            );
        }
        let value: Value = response
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: HTTP {status}: {}",
                value["value"]
            ));
        }
        Ok(value["value"].clone())
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        let id = v[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| format!("no element for {css}: {v}"))?;
        Ok(Element {
            id: id.to_string(),
            css: css.to_string(),
        })
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element {
                        id: id.to_string(),
                        css: css.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until `css` matches a displayed element.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        let mut last: String;
        loop {
            match self.find(css).await {
                Ok(e) if self.is_displayed(&e).await.unwrap_or(false) => return Ok(e),
                Ok(_) => last = "not displayed".into(),
                Err(e) => last = e,
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {css}: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the text of `css` contains `needle`; returns the whole text.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Ok(e) = self.find(css).await {
                if let Ok(t) = self.text(&e).await {
                    if t.contains(needle) {
                        return Ok(t);
                    }
                    last = t;
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out waiting for {needle:?} in {css}; last text: {last:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until nothing displayed matches `css`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut visible = false;
            for e in self.find_all(css).await.unwrap_or_default() {
                visible |= self.is_displayed(&e).await.unwrap_or(false);
            }
            if !visible {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{css} still displayed"));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn is_displayed(&self, e: &Element) -> Result<bool> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/displayed", e.id),
                None,
            )
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// Scrolls the element to the middle of the view (not under the wizard's fixed footer), then clicks.
    pub async fn click(&self, e: &Element) -> Result<()> {
        let element = json!({ELEMENT_KEY: e.id});
        let _ = self
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![element],
            )
            .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.id),
            Some(json!({})),
        )
        .await
        .map(|_| ())
        .map_err(|err| format!("click {}: {err}", e.css))
    }

    pub async fn click_css(&self, css: &str) -> Result<()> {
        let e = self.wait_for(css, Duration::from_secs(10)).await?;
        self.click(&e).await
    }

    pub async fn clear(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.id),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    /// Types like a user (W3C `text`, plus the legacy `value` array some drivers still read).
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.wait_for(css, Duration::from_secs(10)).await?;
        let _ = self
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![e.to_json()],
            )
            .await;
        self.clear(&e).await?;
        let chars: Vec<String> = text.chars().map(|c| c.to_string()).collect();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.id),
            Some(json!({"text": text, "value": chars})),
        )
        .await
        .map(|_| ())
        .map_err(|err| format!("type into {css}: {err}"))
    }

    /// Empties a text field with Backspace, as a user would (WebDriver's Clear fires no input event).
    pub async fn erase(&self, css: &str) -> Result<()> {
        let e = self.wait_for(css, Duration::from_secs(10)).await?;
        let len = self
            .property(&e, "value")
            .await?
            .as_str()
            .map_or(0, |v| v.chars().count());
        let keys: String = "\u{E017}".repeat(len) + &"\u{E003}".repeat(len);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.id),
            Some(json!({"text": keys, "value": keys.chars().map(|c| c.to_string()).collect::<Vec<_>>()})),
        )
        .await
        .map(|_| ())
    }

    pub async fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.id),
                None,
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn text_of(&self, css: &str) -> Result<String> {
        let e = self.wait_for(css, Duration::from_secs(10)).await?;
        self.text(&e).await
    }

    pub async fn property(&self, e: &Element, name: &str) -> Result<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", e.id),
            None,
        )
        .await
    }

    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Sends keys to whatever has focus (for keyboard-only checks).
    pub async fn press_keys(&self, keys: &str) -> Result<()> {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await
        .map(|_| ())
    }

    pub async fn screenshot(&self, path: &std::path::Path) -> Result<()> {
        // WebKit hands out the frame it paints next: wait for two animation frames so the DOM that the
        // test just checked is what the picture shows (the first picture was often "Starting…"), and
        // keep one nearly transparent pixel changing while the screenshot waits. Without GPU
        // compositing (Onramp's window, see src-tauri/src/rendering.rs) WebKit paints only what
        // changed, so on a page at rest the screenshot waited until the client's 120 s time-out.
        let _ = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({
                    "script": SCREENSHOT_PAINT_PULSE_START,
                    "args": []
                })),
            )
            .await;
        // A screenshot that waits longer than this is waiting for a paint that will not come.
        let shot = self
            .call_within(
                reqwest::Method::GET,
                "/screenshot",
                None,
                Some(Duration::from_secs(20)),
            )
            .await;
        let _ = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": SCREENSHOT_PAINT_PULSE_STOP, "args": []})),
            )
            .await;
        let data = base64::engine::general_purpose::STANDARD
            .decode(shot?.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        std::fs::write(path, data).map_err(|e| e.to_string())
    }

    pub async fn close(self) -> Result<()> {
        self.http
            .delete(&self.base)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Starts a 1-pixel element in the top-left corner whose alpha alternates between 1/255 and 2/255 every
/// 16 ms (invisible in a picture), then answers after two animation frames.
const SCREENSHOT_PAINT_PULSE_START: &str = r#"
const done = arguments[arguments.length - 1];
let dot = document.getElementById('onramp-e2e-paint-pulse');
if (!dot) {
  dot = document.createElement('div');
  dot.id = 'onramp-e2e-paint-pulse';
  dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
  document.documentElement.appendChild(dot);
}
let odd = false;
clearInterval(window.__onrampPaintPulse);
window.__onrampPaintPulse = setInterval(() => {
  odd = !odd;
  dot.style.background = odd ? 'rgba(128,128,128,0.004)' : 'rgba(128,128,128,0.008)';
}, 16);
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"#;

const SCREENSHOT_PAINT_PULSE_STOP: &str = r#"
clearInterval(window.__onrampPaintPulse);
document.getElementById('onramp-e2e-paint-pulse')?.remove();
"#;

/// WebDriver "Enter" key.
pub const ENTER: &str = "\u{E007}";
/// WebDriver "Tab" key.
pub const TAB: &str = "\u{E004}";
