//! The app log: `onramp.log` in the app log dir (or `$ONRAMP_LOG_DIR`), plus stderr.
//! Only ids, stages and status codes are logged; never a secret, token or code.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::MakeWriterExt;

pub fn init(log_dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(log_dir)?;
    let path = log_dir.join("onramp.log");
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONRAMP_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,hyper=warn,reqwest=warn,zbus=warn,tao=warn,wry=warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file).and(std::io::stderr))
        .try_init();
    Ok(path)
}
