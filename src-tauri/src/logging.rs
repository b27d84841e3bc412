//! The app log: `onramp.log` in the app log dir (or `$ONRAMP_LOG_DIR`), plus stderr.
//! Only ids, stages and status codes are logged; never a secret, token or code.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Onramp's own lines at info; the HTTP, D-Bus and windowing crates only when something goes wrong.
fn default_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_targets([
            ("hyper", LevelFilter::WARN),
            ("reqwest", LevelFilter::WARN),
            ("zbus", LevelFilter::WARN),
            ("tao", LevelFilter::WARN),
            ("wry", LevelFilter::WARN),
        ])
}

/// `ONRAMP_LOG` as directives ("debug", "info,onramp_core=debug"), or the default.
fn filter_from(onramp_log: Option<&str>) -> Targets {
    onramp_log
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(default_filter)
}

pub fn init(log_dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(log_dir)?;
    let path = log_dir.join("onramp.log");
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    // `Targets` ("info,hyper=warn"), not `EnvFilter`: the same directives for targets and levels
    // without a regex engine in the binary. An unreadable ONRAMP_LOG falls back to the default.
    let filter = filter_from(std::env::var("ONRAMP_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        // Everything reaches the filter below, which decides (fmt alone would stop at info).
        .with_max_level(LevelFilter::TRACE)
        .with_ansi(false)
        .with_writer(Mutex::new(file).and(std::io::stderr))
        .finish()
        .with(filter)
        .try_init();
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_default_keeps_onramp_at_info_and_quiets_the_http_and_window_crates() {
        let filter = filter_from(None);
        assert!(filter.would_enable("onramp_core::engine::authorize", &Level::INFO));
        assert!(!filter.would_enable("onramp_core::engine::authorize", &Level::DEBUG));
        assert!(!filter.would_enable("hyper_util::client", &Level::INFO));
        assert!(filter.would_enable("zbus::connection", &Level::WARN));
    }

    #[test]
    fn onramp_log_sets_levels_per_target_and_garbage_falls_back() {
        let filter = filter_from(Some("warn,onramp_core=debug"));
        assert!(filter.would_enable("onramp_core::vault", &Level::DEBUG));
        assert!(!filter.would_enable("onramp_app::state", &Level::INFO));
        let fallback = filter_from(Some("onramp_core=loud"));
        assert!(fallback.would_enable("onramp_app::state", &Level::INFO));
        assert!(!fallback.would_enable("onramp_app::state", &Level::DEBUG));
    }
}
