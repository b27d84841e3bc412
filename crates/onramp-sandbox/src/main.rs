//! `onramp-sandbox [--port N] [--callback URL]`: runs the sandbox with its defaults on
//! 127.0.0.1 for manual use, until interrupted.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use onramp_sandbox::{Sandbox, SandboxConfig};

const USAGE: &str = "usage: onramp-sandbox [--port N] [--callback URL]
  --port N        listen on 127.0.0.1:N (default: a free port)
  --callback URL  the app's registered callback URL (default: none, so /authorize fails
                  with unauthorized_client until one is registered)";

#[tokio::main]
async fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut config = SandboxConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match name.as_str() {
            "--port" => match value().and_then(|v| v.parse().ok()) {
                Some(p) => port = p,
                None => return usage_error("--port needs a number from 0 to 65535"),
            },
            "--callback" => match value() {
                Some(url) => config.registered_callback_url = Some(url),
                None => return usage_error("--callback needs a URL"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown argument {other:?}")),
        }
    }

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let sandbox = match Sandbox::start(config, addr).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("onramp-sandbox: cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config = sandbox.config();
    let base = sandbox.base_url();
    println!("Onramp sandbox running (Ctrl-C to stop)");
    println!("  base URL:      {base}");
    println!("  authorize URL: {base}/authorize");
    println!("  token URL:     {base}/oauth/token");
    println!("  audience:      {}", config.audience);
    println!("  client id:     {}", config.client_id);
    println!("  client secret: {}", config.client_secret);
    println!(
        "  callback URL:  {}",
        config
            .registered_callback_url
            .as_deref()
            .unwrap_or("(none registered; pass --callback URL)")
    );
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("onramp-sandbox: {message}\n{USAGE}");
    ExitCode::from(2)
}
