//! `onramp-bench`: the engine's hot paths against the in-process sandbox beside the raw HTTP
//! requests they need, with the in-memory keychain and the real one (Secret Service). Prints
//! markdown table rows; `scripts/bench-engine.sh` builds it in release and runs it inside a private
//! D-Bus session with GNOME Keyring. Nothing here asserts a time: the numbers are for people.
//!
//! Usage: `onramp-bench [--keychain mock|os|both] [--rounds N] [--warmup N]`.

mod counting_keychain;
mod raw;
mod scenarios;
mod stats;

use scenarios::{Bench, Figure, Rounds};
use stats::ratio;

#[derive(Clone, Copy, PartialEq)]
enum Keychain {
    Mock,
    Os,
}

impl Keychain {
    fn label(self) -> &'static str {
        match self {
            Keychain::Mock => "mock keychain",
            Keychain::Os => "real keychain",
        }
    }
}

struct Options {
    keychains: Vec<Keychain>,
    rounds: Rounds,
}

fn options() -> Options {
    let mut options = Options {
        keychains: vec![Keychain::Mock, Keychain::Os],
        rounds: Rounds {
            warmup: 3,
            // 41: a median of 21 sub-millisecond rounds moved by ±0.2× between runs.
            measured: 41,
        },
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().unwrap_or_default();
        match arg.as_str() {
            "--keychain" => {
                options.keychains = match value().as_str() {
                    "mock" => vec![Keychain::Mock],
                    "os" => vec![Keychain::Os],
                    _ => vec![Keychain::Mock, Keychain::Os],
                }
            }
            "--rounds" => options.rounds.measured = value().parse().expect("--rounds N"),
            "--warmup" => options.rounds.warmup = value().parse().expect("--warmup N"),
            other => panic!("unknown argument {other}; see the usage in src/main.rs"),
        }
    }
    options
}

fn row(figure: &str, f: &Figure, target: &str) {
    println!(
        "| {figure} | {} | {} | {} | {target} |",
        f.onramp.summary(),
        f.raw.summary(),
        ratio(&f.onramp, &f.raw)
    );
}

fn range<T: PartialEq + std::fmt::Display>((low, high): (T, T)) -> String {
    if low == high {
        low.to_string()
    } else {
        format!("{low}–{high}")
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    println!("| figure | Onramp median (min–max) | raw median (min–max) | ratio | target |");
    println!("|---|---|---|---|---|");
    for keychain in options.keychains {
        let installed = match keychain {
            Keychain::Mock => onramp_core::vault::use_process_memory_keychain(),
            Keychain::Os => onramp_core::vault::use_os_keychain(),
        };
        if let Err(e) = installed {
            println!("| ({}: not available: {e}) | | | | |", keychain.label());
            continue;
        }
        let counts = counting_keychain::wrap_default_store();
        let label = keychain.label();
        let mut bench = Bench::start(&label.replace(' ', "-"), counts).await;
        let rounds = &options.rounds;

        let f = bench.callback_to_sites(rounds).await;
        let ops = f.keychain;
        let target = match keychain {
            Keychain::Mock => "≤ 2× raw HTTP",
            Keychain::Os => "only the keychain operations the flow needs",
        };
        row(
            &format!(
                "callback → connected → sites ({label}; keychain: {} reads, {} writes, {} deletes)",
                ops.reads, ops.writes, ops.deletes
            ),
            &f,
            target,
        );

        let f = bench.api_call(rounds).await;
        row(
            &format!(
                "one API-console call, GET /rest/api/3/myself ({label}; keychain reads: {})",
                f.keychain.reads
            ),
            &f,
            "—",
        );

        let f = bench.concurrent_expired(rounds).await;
        row(
            &format!(
                "200 concurrent callers, expired token ({label}; refreshes: {}, keychain reads: {}) vs one raw refresh",
                range(f.refreshes),
                range(f.reads)
            ),
            &f,
            "1 refresh, 1 keychain read, ≤ 10 ms",
        );
        bench.finish().await;
    }
}
