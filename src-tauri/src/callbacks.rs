//! How callbacks and time reach the engine: deep links from the OS, the loopback listener, and the
//! background work, woken when the engine says it is due. What each callback means is decided by
//! the engine.

use onramp_core::loopback::LoopbackListener;
use onramp_core::oauth::CallbackChannel;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::events::WindowEvents;
use crate::state::AppState;

/// The longest sleep, even when nothing is due: a safety net, not the schedule.
const LONGEST_SLEEP: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// How often background work tries a failed engine start again (only while it keeps failing).
const ENGINE_START_RETRY: std::time::Duration = std::time::Duration::from_secs(30);
/// The shortest sleep: due times are whole seconds, and a due time the tick could not clear
/// (a refresh that keeps failing before its backoff is recorded) must not make the loop spin.
const SHORTEST_SLEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the engine's background work (tokens close to expiry, authorizations past their lifetime)
/// when it is next due, or sooner when the engine says the schedule changed (an authorization
/// started, tokens changed); an idle app does not wake.
pub fn start_background_work<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        let state = app.state::<AppState>();
        // Waits for the engine's start; one that failed is tried again (as the window's retry does).
        let engine = loop {
            match state.engine().await {
                Ok(engine) => break engine,
                Err(_) => tokio::time::sleep(ENGINE_START_RETRY).await,
            }
        };
        loop {
            let sleep = sleep_until(engine.next_background_work_at().await);
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = engine.background_schedule_changed() => {}
            }
            engine.background_tick(&events).await;
        }
    });
}

/// How long to sleep until `next` (Unix seconds), within the bounds above.
fn sleep_until(next: Option<i64>) -> std::time::Duration {
    let Some(next) = next else {
        return LONGEST_SLEEP;
    };
    let secs = u64::try_from(next - onramp_core::now_unix()).unwrap_or(0);
    std::time::Duration::from_secs(secs).clamp(SHORTEST_SLEEP, LONGEST_SLEEP)
}

/// Registers the `onramp` scheme with the desktop (Linux: a `.desktop` handler with `%u`, off the
/// main thread) and hands every URL the OS delivers to the engine, including the one that started
/// the app.
pub fn install_deep_link_handler<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "linux")]
    register_scheme_handler(app);
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            handle_callback(&handle, url.to_string());
        }
    });
    // Cold start: the plugin saw the launching URL before this handler existed.
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            handle_callback(app, url.to_string());
        }
    }
}

/// Onramp writes its own handler entry instead of the plugin's `register_all`, whose quoted `Exec`
/// Debian 12's `xdg-open` cannot start (see `onramp_core::desktop_entry`). Nothing is written and no
/// process is started when the entry and the MIME default are already right.
#[cfg(target_os = "linux")]
fn register_scheme_handler<R: Runtime>(app: &AppHandle<R>) {
    use onramp_core::desktop_entry::{handler_file_name, HandlerRegistration};
    let (Ok(data_dir), Ok(config_dir), Ok(exe)) = (
        app.path().data_dir(),
        app.path().config_dir(),
        tauri::utils::platform::current_exe(),
    ) else {
        tracing::warn!("could not register the onramp:// scheme: no data dir or executable path");
        return;
    };
    // Run as an AppImage, the stable path is the AppImage, not the mounted binary.
    let program = app
        .env()
        .appimage
        .map(std::path::PathBuf::from)
        .unwrap_or(exe.clone());
    let Some(program) = program.to_str().map(str::to_string) else {
        tracing::warn!("could not register the onramp:// scheme: the program path is not UTF-8");
        return;
    };
    let file_name = handler_file_name(&exe.file_name().unwrap_or_default().to_string_lossy());
    let registration = HandlerRegistration {
        applications_dir: data_dir.join("applications"),
        mimeapps_list: config_dir.join("mimeapps.list"),
        file_name,
        name: app
            .config()
            .product_name
            .clone()
            .unwrap_or_else(|| "Onramp".into()),
        program,
        scheme: "onramp".into(),
        xdg_mime: "xdg-mime".into(),
        update_desktop_database: "update-desktop-database".into(),
    };
    let spawned = std::thread::Builder::new()
        .name("register-onramp-scheme".into())
        .spawn(move || match registration.ensure() {
            Ok(done) => tracing::info!("onramp:// handler: {done:?}"),
            // Needs xdg-mime (xdg-utils). Loopback callbacks keep working without it.
            Err(e) => tracing::warn!("could not register the onramp:// scheme: {e}"),
        });
    if let Err(e) = spawned {
        tracing::warn!("could not register the onramp:// scheme: {e}");
    }
}

fn handle_callback<R: Runtime>(app: &AppHandle<R>, url: String) {
    // Never the URL: it may carry an authorization code. The package test waits for this line.
    tracing::info!("deep link received");
    focus_main_window(app);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        let state = app.state::<AppState>();
        match state.engine().await {
            Ok(engine) => {
                engine
                    .handle_callback(&url, CallbackChannel::DeepLink, &events)
                    .await
            }
            Err(e) => tracing::warn!("deep link not handled: {}", e.title),
        }
    });
}

/// Serves a flow's loopback listener until its flow ends; the engine tells each request's browser
/// whether its callback was accepted.
pub fn serve_loopback<R: Runtime>(app: &AppHandle<R>, listener: Option<LoopbackListener>) {
    let Some(mut listener) = listener else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let events = WindowEvents(app.clone());
        let port = listener.port();
        while let Some(callback) = listener.next_callback().await {
            focus_main_window(&app);
            // A loopback listener exists only for a flow the started engine began.
            let state = app.state::<AppState>();
            if let Ok(engine) = state.engine().await {
                engine
                    .handle_loopback_callback(callback, port, &events)
                    .await;
            }
        }
    });
}

pub fn focus_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}
