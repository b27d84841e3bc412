//! The driver. With `--features libfuzzer` (scripts/fuzz.sh builds it with coverage) this is a
//! libFuzzer binary running the target named by `ONRAMP_FUZZ_TARGET`; without it, it replays files:
//! `onramp-fuzz <target> <file or folder>…` runs each through the target (a saved crash, say).
#![cfg_attr(feature = "libfuzzer", no_main)]

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static TARGET: std::sync::OnceLock<fn(&[u8])> = std::sync::OnceLock::new();
    let run = TARGET.get_or_init(|| {
        let name = std::env::var("ONRAMP_FUZZ_TARGET").unwrap_or_default();
        match onramp_fuzz::target(&name) {
            Some(t) => t.run,
            None => {
                eprintln!("ONRAMP_FUZZ_TARGET={name:?} is not a target; the targets are:");
                for t in onramp_fuzz::TARGETS {
                    eprintln!("  {}", t.name);
                }
                std::process::exit(2);
            }
        }
    });
    run(data);
});

#[cfg(not(feature = "libfuzzer"))]
fn main() -> std::process::ExitCode {
    use std::path::PathBuf;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first().and_then(|n| onramp_fuzz::target(n)) else {
        eprintln!("usage: onramp-fuzz <target> <file or folder>…; the targets are:");
        for t in onramp_fuzz::TARGETS {
            eprintln!("  {}", t.name);
        }
        return std::process::ExitCode::from(2);
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in &args[1..] {
        let path = PathBuf::from(arg);
        match std::fs::read_dir(&path) {
            Ok(entries) => files.extend(entries.filter_map(|e| e.ok().map(|e| e.path()))),
            Err(_) => files.push(path),
        }
    }
    for file in &files {
        match std::fs::read(file) {
            Ok(data) => (target.run)(&data),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                return std::process::ExitCode::from(2);
            }
        }
    }
    println!("{}: {} input(s) passed", target.name, files.len());
    std::process::ExitCode::SUCCESS
}
