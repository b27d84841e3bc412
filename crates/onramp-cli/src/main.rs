//! `onramp-cli`: Onramp's command line over the same engine, store and keychain as the window.
//! Results go to stdout (one line per fact, or one JSON document with `--json`); progress and
//! errors go to stderr. No secret is printed, except by `token`, which exists to print one.

mod ci;
mod exit;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// CI mode and the exit codes, below `--help`.
fn after_help() -> String {
    format!(
        "CI mode: with ONRAMP_CLIENT_ID and ONRAMP_CLIENT_SECRET set (an Atlassian service account's OAuth 2.0\n\
         credential), check, call and token run on that credential alone: no keychain, no store, nothing\n\
         written. ONRAMP_PROVIDER picks the provider (default {}), ONRAMP_CLOUD_ID the site;\n\
         NAME is then only a label.\n\n{}",
        ci::DEFAULT_PROVIDER,
        exit::EXIT_CODES_HELP
    )
}

#[derive(Parser, Debug)]
#[command(
    name = "onramp-cli",
    version,
    about = "Smoke-test and use Onramp integrations from scripts and CI: the window's integrations, store and keychain.",
    after_help = after_help()
)]
struct Cli {
    /// Print results as JSON on stdout (errors too: {"error": {...}}).
    #[arg(long, global = true)]
    json: bool,
    /// The folder holding onramp.sqlite3 (the window's by default).
    #[arg(long, global = true, env = "ONRAMP_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// The sandbox to use for sandbox integrations (the window's sandbox lives in its process: give
    /// its address, e.g. http://127.0.0.1:PORT).
    #[arg(long, global = true, env = "ONRAMP_SANDBOX_URL")]
    sandbox_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the integrations and their health.
    List,
    /// Get a usable token (refreshing it if due), list the sites, then run the integration's test
    /// calls its scopes allow; one line each. Exits 0 only if all pass.
    Check {
        /// The integration's name or id.
        name: String,
    },
    /// Send one request through the gateway with the integration's token and site.
    Call {
        /// The integration's name or id.
        name: String,
        /// GET, POST, PUT, PATCH or DELETE.
        method: String,
        /// The path under the product, e.g. /rest/api/3/myself (Jira) or /wiki/api/v2/spaces
        /// (Confluence); for a custom provider, relative to its API origin.
        path: String,
        /// A query parameter, k=v (repeat for more; values are URL-encoded).
        #[arg(long = "query", value_name = "K=V")]
        query: Vec<String>,
        /// A JSON body.
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
        /// The product whose gateway path to use (default: from the path: /wiki… is Confluence,
        /// otherwise Jira; none for a custom provider).
        #[arg(long, value_enum)]
        product: Option<ProductArg>,
    },
    /// Print a fresh access token (refreshed first if due) for a script.
    ///
    /// This prints a SECRET on stdout: pipe it into the program that needs it, never into a log.
    Token {
        /// The integration's name or id.
        name: String,
    },
    /// Print the integration's hand-off (no secret): .env, JSON or a runnable snippet.
    Export {
        /// The integration's name or id.
        name: String,
        #[arg(long, value_enum, default_value = "env")]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProductArg {
    Jira,
    Confluence,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExportFormat {
    Env,
    Json,
    Curl,
    Node,
    Python,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("onramp-cli: cannot start: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    ExitCode::from(runtime.block_on(run::run(cli)))
}
