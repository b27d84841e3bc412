//! Onramp's shell: wires the engine (`onramp-core`) and the sandbox into a Tauri window.
//! Rules live in the engine; this crate only translates between Tauri and the engine.

mod callbacks;
pub mod commands;
mod events;
mod files;
mod logging;
mod rendering;
mod state;

use tauri::Manager;

pub use state::AppState;

/// The builder, generic over the runtime so tests can use Tauri's MockRuntime.
pub fn builder<R: tauri::Runtime>() -> tauri::Builder<R> {
    tauri::Builder::<R>::new()
        // Must be the first plugin: a second launch (e.g. the OS opening an onramp:// link) hands its
        // arguments to this instance and exits; the deep-link feature turns them into an open-url event.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            callbacks::focus_main_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        // File dialogs are opened from Rust (`files.rs`); the window gets no dialog permission.
        .plugin(tauri_plugin_dialog::init())
        .manage(events::EventChannel::default())
        .invoke_handler(commands::handler())
        .setup(|app| {
            let handle = app.handle().clone();
            // The window already exists and loads its page on this thread's event loop: only the
            // cheap part here; the engine starts on a runtime thread (see `AppState`).
            app.manage(AppState::new(&handle)?);
            tauri::async_runtime::spawn(async move {
                // Started now rather than by the page's first call: they overlap.
                if let Err(e) = handle.state::<AppState>().engine().await {
                    tracing::error!("the engine did not start: {}", e.title);
                }
            });
            callbacks::install_deep_link_handler(app.handle());
            callbacks::start_background_work(app.handle());
            rendering::apply_to_main_window(app.handle());
            Ok(())
        })
}

pub fn run() {
    builder::<tauri::Wry>()
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Onramp could not start: {e}");
            std::process::exit(1);
        });
}
