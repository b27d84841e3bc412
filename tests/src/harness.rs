//! One end-to-end scenario = one fresh "first run" of Onramp: its own HOME and XDG directories, its
//! own tauri-driver (which starts the app), the session's D-Bus and unlocked keyring shared.
//! Screenshots go to `<repo>/target/e2e-screenshots/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::webdriver::Session;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

pub fn screenshot_dir() -> PathBuf {
    repo_root().join("target").join("e2e-screenshots")
}

/// A port nothing listens on now and that this process has not handed out before. The OS may give
/// the same port to two binds in a row once the first socket is closed: tauri-driver's port and
/// WebKitWebDriver's once came out equal, and WebKitWebDriver could not listen.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    first_unseen(&mut handed_out, || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port")
    })
}

/// The first port `next` gives that is not in `seen`, added to it.
fn first_unseen(seen: &mut Vec<u16>, mut next: impl FnMut() -> u16) -> u16 {
    loop {
        let port = next();
        if !seen.contains(&port) {
            seen.push(port);
            return port;
        }
    }
}

/// How a browser hands an `onramp://` link to the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `gio open` (GLib-based browsers).
    Gio,
    /// `xdg-open` (Chromium-family browsers).
    XdgOpen,
}

pub struct Paths {
    pub app: PathBuf,
    pub fake_browser: PathBuf,
    pub tauri_driver: PathBuf,
}

impl Paths {
    /// The app and the fake browser are built into the same target dir as this test.
    pub fn discover(fake_browser: &str) -> Paths {
        let fake_browser = PathBuf::from(fake_browser);
        let app = fake_browser.with_file_name("onramp");
        assert!(
            app.exists(),
            "build the app first (cargo build -p onramp): {} is missing",
            app.display()
        );
        let tauri_driver = std::env::var_os("TAURI_DRIVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| "tauri-driver".into());
        Paths {
            app,
            fake_browser,
            tauri_driver,
        }
    }
}

pub struct Scenario {
    pub name: String,
    pub home: PathBuf,
    pub sandbox_port: u16,
    pub loopback_port: u16,
    pub browser_log: PathBuf,
    /// Held for its `Drop`: stops the driver, the WebDriver server and the app.
    _driver: DriverGroup,
    session: Option<Session>,
    shots: std::cell::Cell<u32>,
}

impl Scenario {
    pub async fn start(paths: &Paths, name: &str, extra_env: &[(&str, &str)]) -> Scenario {
        let home = repo_root().join("target").join("e2e").join(name);
        let _ = std::fs::remove_dir_all(&home);
        Scenario::launch(paths, name, home, free_port(), free_port(), extra_env).await
    }

    /// Quits the app (its whole process group) and starts it again on the same HOME, database and
    /// keychain entries, with the same sandbox and loopback ports: a user's next start.
    pub async fn restart(mut self, paths: &Paths, extra_env: &[(&str, &str)]) -> Scenario {
        if let Some(s) = self.session.take() {
            let _ = s.close().await;
        }
        let (name, home) = (self.name.clone(), self.home.clone());
        let (sandbox_port, loopback_port) = (self.sandbox_port, self.loopback_port);
        let shots = self.shots.get();
        drop(self);
        let scn =
            Scenario::launch(paths, &name, home, sandbox_port, loopback_port, extra_env).await;
        scn.shots.set(shots);
        scn
    }

    async fn launch(
        paths: &Paths,
        name: &str,
        home: PathBuf,
        sandbox_port: u16,
        loopback_port: u16,
        extra_env: &[(&str, &str)],
    ) -> Scenario {
        wait_until_no_onramp_holds_the_single_instance_name().await;
        let config = home.join(".config");
        let data = home.join(".local/share");
        std::fs::create_dir_all(data.join("applications")).unwrap();
        std::fs::create_dir_all(&config).unwrap();
        // The fake browser handles http(s) links, as a real default browser would.
        std::fs::write(
            data.join("applications/onramp-test-browser.desktop"),
            format!(
                "[Desktop Entry]\nType=Application\nName=Test browser\nExec={} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\nNoDisplay=true\n",
                paths.fake_browser.display()
            ),
        )
        .unwrap();
        std::fs::write(
            config.join("mimeapps.list"),
            "[Default Applications]\nx-scheme-handler/http=onramp-test-browser.desktop\nx-scheme-handler/https=onramp-test-browser.desktop\n",
        )
        .unwrap();
        std::fs::create_dir_all(screenshot_dir()).unwrap();
        let browser_log = home.join("fake-browser.log");
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new(&paths.tauri_driver);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &config)
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CURRENT_DESKTOP", "X-Generic")
        .env("BROWSER", &paths.fake_browser)
        .env("ONRAMP_FAKE_BROWSER_LOG", &browser_log)
        .env("ONRAMP_SANDBOX_PORT", sandbox_port.to_string())
        .env("ONRAMP_LOOPBACK_PORT", loopback_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(home.join("tauri-driver.log")).unwrap(),
        ));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        // Own process group: tauri-driver → WebKitWebDriver → app are all stopped together, so no
        // app outlives its scenario and holds the single-instance name on the session bus.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        // Guarded from here on: a scenario that fails while starting still stops its driver (an
        // orphaned driver would keep the e2e lock file open and hold up every later run).
        let driver = DriverGroup(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", paths.tauri_driver.display())),
        );
        let url = format!("http://127.0.0.1:{port}");
        wait_for_status(&url).await;
        let session = Session::start(&url, &paths.app.to_string_lossy())
            .await
            .unwrap_or_else(|e| panic!("WebDriver session: {e}"));
        Scenario {
            name: name.to_string(),
            home,
            sandbox_port,
            loopback_port,
            browser_log,
            _driver: driver,
            session: Some(session),
            shots: std::cell::Cell::new(0),
        }
    }

    pub fn s(&self) -> &Session {
        self.session.as_ref().expect("session")
    }

    /// The app's settings directory (Tauri's app_config_dir for the identifier).
    pub fn config_dir(&self) -> PathBuf {
        self.home.join(".config/dev.onramp.app")
    }

    /// The integrations the running app has stored, read through a second connection to its
    /// database (as a second Onramp process would).
    pub async fn stored_integrations(&self) -> Vec<onramp_core::store::Integration> {
        let db = onramp_core::store::path_in(&self.config_dir());
        let opened = onramp_core::store::Store::open(&db, None);
        assert!(opened.problem.is_none(), "{:?}", opened.problem);
        opened
            .store
            .integrations()
            .await
            .expect("integrations readable")
    }

    /// The app's log directory (Tauri's app_log_dir on Linux).
    pub fn log_dir(&self) -> PathBuf {
        self.home.join(".local/share/dev.onramp.app/logs")
    }

    pub async fn shot(&self, label: &str) {
        self.shots.set(self.shots.get() + 1);
        let path =
            screenshot_dir().join(format!("{}-{:02}-{label}.png", self.name, self.shots.get()));
        match self.s().screenshot(&path).await {
            Ok(()) => println!("screenshot: {}", path.display()),
            // Fatal: a screenshot that silently times out once cost the suite two hours
            // (see `Session::screenshot`).
            Err(e) => panic!("screenshot {label} failed: {e}"),
        }
    }

    /// Steers the app's in-process sandbox (its `/__sandbox/*` test controls).
    pub async fn sandbox(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let http = onramp_core::tls::client_builder()
            .no_proxy()
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/__sandbox/{path}", self.sandbox_port);
        let response = if path == "stats" {
            http.get(&url).send().await
        } else {
            http.post(&url).json(&body).send().await
        };
        let response = response.unwrap_or_else(|e| panic!("sandbox control {path}: {e}"));
        assert!(
            response.status().is_success(),
            "sandbox control {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// A screenshot with `css` scrolled to the middle of the window, so the subject is in the picture.
    pub async fn shot_of(&self, css: &str, label: &str) {
        if let Ok(e) = self.s().find(css).await {
            let _ = self
                .s()
                .execute(
                    "arguments[0].scrollIntoView({block: 'center'});",
                    vec![e.to_json()],
                )
                .await;
        }
        self.shot(label).await;
    }

    /// Hands a URL to the desktop as a browser would, in this scenario's HOME, where the app
    /// registered its `onramp://` handler.
    pub fn open_through_the_os(&self, opener: Opener, url: &str) {
        let mut command = match opener {
            Opener::Gio => {
                let mut gio = Command::new("gio");
                gio.arg("open");
                gio
            }
            Opener::XdgOpen => Command::new("xdg-open"),
        };
        let status = self
            .desktop_env(&mut command)
            .arg(url)
            .status()
            .expect("opener");
        assert!(status.success(), "{opener:?} {url}: {status}");
    }

    /// This scenario's desktop: its HOME and XDG directories, a generic desktop.
    pub fn desktop_env<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CURRENT_DESKTOP", "X-Generic")
    }

    /// Runs the stand-in browser on `url` (as the app does when it opens the browser), with `env`.
    pub fn run_browser(&self, paths: &Paths, url: &str, env: &[(&str, &str)]) {
        let mut command = Command::new(&paths.fake_browser);
        self.desktop_env(&mut command)
            .env("ONRAMP_FAKE_BROWSER_LOG", &self.browser_log)
            .arg(url);
        for (k, v) in env {
            command.env(k, v);
        }
        let status = command.status().expect("fake browser");
        assert!(
            status.success(),
            "fake browser: {status}\n{}",
            self.browser_log()
        );
    }

    pub fn browser_log(&self) -> String {
        std::fs::read_to_string(&self.browser_log).unwrap_or_default()
    }

    pub async fn finish(mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.close().await;
        }
    }
}

/// tauri-driver and everything it started (WebKitWebDriver, the app): stopped together when dropped.
struct DriverGroup(Child);

impl Drop for DriverGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// A new Onramp that finds the previous one's single-instance D-Bus name still owned hands its
/// arguments over and exits, and the WebDriver session then waits for a window that never comes
/// (seen once on a loaded machine, in a restart: the killed app had not finished exiting). So every
/// launch waits until no `*.SingleInstance` name of an Onramp is left on the test's session bus.
async fn wait_until_no_onramp_holds_the_single_instance_name() {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let names = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if !names.contains("dev.onramp.app.SingleInstance") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "an earlier Onramp still holds dev.onramp.app.SingleInstance after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_status(url: &str) {
    let http = onramp_core::tls::client_builder()
        .no_proxy()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{url}/status")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "tauri-driver did not answer on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every file under `dir`, as (path, bytes), to check that no secret is stored in plain text.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, bytes));
        }
    }
    out
}

/// `secret-tool lookup service onramp username <user>` in the test's D-Bus session.
pub fn keychain_lookup(user: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "onramp", "username", user])
        .output()
        .ok()?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !value.is_empty()).then_some(value)
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn a_port_the_os_gives_twice_is_handed_out_once() {
        let mut os_gives = [41000, 41000, 41000, 41001].into_iter();
        let mut seen = Vec::new();
        let first = super::first_unseen(&mut seen, || os_gives.next().unwrap());
        let second = super::first_unseen(&mut seen, || os_gives.next().unwrap());
        assert_eq!((first, second), (41000, 41001));
    }

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..64).map(|_| super::free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }
}
