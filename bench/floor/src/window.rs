//! The floor's window: Onramp's plugins in Onramp's order, no state, no commands, no background
//! work, a one-line page (`dist/index.html`). Shared by both floor binaries.

pub fn run() {
    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_app, _argv, _cwd| {}))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("The floor app could not start: {e}");
            std::process::exit(1);
        });
}
