//! How the window's WebKit view draws: on the CPU, without GPU compositing, unless the user asks.
//!
//! Measured (docs/benchmark.md, "Seventh measurement"): with WebKitGTK's default (GPU compositing,
//! which on a machine without a GPU runs on Mesa's llvmpipe) the app and its WebKit processes take
//! 303 MiB; drawing on the CPU, 229 MiB; the first step is interactive sooner and clicks answer sooner.
//! Onramp is forms and text: nothing in it needs the GPU. `ONRAMP_GPU_COMPOSITING=1` keeps WebKit's
//! default (for a machine where the GPU path is better, or to compare).
//!
//! Set on this view only, not with WebKit's environment variables, which every program Onramp starts
//! (the browser, `xdg-open`) would inherit.

/// The environment variable that keeps WebKit's default (GPU compositing when it is available).
pub const GPU_COMPOSITING_VARIABLE: &str = "ONRAMP_GPU_COMPOSITING";

/// Whether the user asked for WebKit's default: `1`, `true`, `yes` or `on` (any case). Anything else,
/// and an unset variable, keep the CPU.
pub fn gpu_compositing_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value
        .and_then(|v| v.to_str())
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// Applies the policy to the main window's view (Linux: WebKitGTK; elsewhere the platform's default).
pub fn apply_to_main_window<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    use tauri::Manager;
    let requested =
        gpu_compositing_requested(std::env::var_os(GPU_COMPOSITING_VARIABLE).as_deref());
    if requested {
        tracing::info!("rendering: WebKit's default ({GPU_COMPOSITING_VARIABLE} is set)");
        return;
    }
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        let applied = window.with_webview(|view| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = WebViewExt::settings(&view.inner()) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        match applied {
            Ok(()) => tracing::info!("rendering: on the CPU (WebKit hardware acceleration off)"),
            Err(e) => tracing::warn!("rendering: WebKit's default, the policy was not set: {e}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_an_explicit_yes_keeps_gpu_compositing() {
        for yes in ["1", "true", "TRUE", " yes ", "On"] {
            assert!(gpu_compositing_requested(Some(OsStr::new(yes))), "{yes:?}");
        }
        for no in ["", "0", "false", "no", "off", "gpu", "2"] {
            assert!(!gpu_compositing_requested(Some(OsStr::new(no))), "{no:?}");
        }
        assert!(!gpu_compositing_requested(None));
    }
}
