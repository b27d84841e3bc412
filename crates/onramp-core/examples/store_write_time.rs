//! How long one request's history line takes to save: `Store::append_history` on a file database,
//! against what Onramp did before the store (`settings::save`, reproduced in `save_whole_file`:
//! the whole settings.json rewritten to a temporary file, fsynced, renamed) for 5 integrations of
//! 50 history lines each.
//!
//! `cargo run --release -p onramp-core --example store_write_time [DIR]`; DIR (default: a
//! temporary folder under the system temp dir) should be on the disk Onramp's config dir is on,
//! since both numbers are mostly fsync.

use std::path::Path;
use std::time::{Duration, Instant};

use onramp_core::model::{ApiRequest, CallbackKind, CallbackSettings, HistoryEntry, ProductId};
use onramp_core::store::legacy::{self as settings, Settings};
use onramp_core::store::{Integration, Store};

const INTEGRATIONS: usize = 5;
const HISTORY: usize = 50;
const ROUNDS: usize = 200;

fn entry(n: usize) -> HistoryEntry {
    HistoryEntry {
        at: 1_760_000_000 + n as i64,
        method: "GET".into(),
        path: format!("/ex/jira/11111111-2222-3333-4444-555555555555/rest/api/3/issue/DEMO-{n}"),
        status: 200,
        elapsed_ms: 120,
        request: Some(ApiRequest {
            preset_id: None,
            method: "GET".into(),
            product: Some(ProductId::Jira),
            path: format!("/rest/api/3/issue/DEMO-{n}"),
            query: Some("fields=summary,status".into()),
            body: None,
        }),
    }
}

fn integration(n: usize) -> Integration {
    Integration {
        id: format!("integration-{n}"),
        name: format!("Integration {n}"),
        provider_id: "atlassian".into(),
        client_id: "example-client-id".into(),
        callback: CallbackSettings {
            kind: CallbackKind::Loopback,
            loopback_port: 47823,
        },
        scopes: vec!["read:jira-work".into(), "offline_access".into()],
        console_done: vec!["app".into()],
        site: None,
        connection: None,
        handed_off: None,
        has_client_secret: true,
        client_secret_revision: 0,
        scopes_reviewed: false,
        sandbox_instance: None,
        history: (0..HISTORY).rev().map(entry).collect(),
        created_at: 1_760_000_000 + n as i64,
        updated_at: 1_760_000_000 + n as i64,
    }
}

/// What `settings::save` did before the store: atomic replace of the whole file, with fsyncs.
fn save_whole_file(dir: &Path, settings: &Settings) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(settings)?;
    let tmp = dir.join(".settings.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, settings::path_in(dir))?;
    std::fs::File::open(dir)?.sync_all()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let parent = std::env::args().nth(1).map(std::path::PathBuf::from);
    let dir = match &parent {
        Some(p) => tempfile::tempdir_in(p),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "{build} build, {ROUNDS} rounds each, in {}",
        dir.path().display()
    );

    // Before the store: the engine rewrote the whole settings.json (and fsyncs it) for each history line.
    let settings_dir = dir.path().join("settings");
    let mut settings = Settings {
        version: 1,
        integrations: (0..INTEGRATIONS).map(integration).collect(),
        last_integration_id: Some("integration-0".into()),
        custom_providers: vec![],
    };
    save_whole_file(&settings_dir, &settings).expect("settings saved");
    let size = std::fs::metadata(settings::path_in(&settings_dir))
        .map(|m| m.len())
        .unwrap_or(0);
    let mut json_times = Vec::with_capacity(ROUNDS);
    for n in 0..ROUNDS {
        let i = &mut settings.integrations[n % INTEGRATIONS];
        i.history.insert(0, entry(HISTORY + n));
        i.history.truncate(HISTORY);
        let started = Instant::now();
        save_whole_file(&settings_dir, &settings).expect("settings saved");
        json_times.push(started.elapsed());
    }

    // The store: one small IMMEDIATE transaction (insert + cap) per history line.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = onramp_core::store::path_in(&dir.path().join("store"));
    let opened = Store::open(&db, None::<&Path>);
    assert!(opened.problem.is_none(), "{:?}", opened.problem);
    let store = opened.store;
    runtime.block_on(async {
        for n in 0..INTEGRATIONS {
            store.insert_integration(integration(n)).await.unwrap();
        }
    });
    let mut store_times = Vec::with_capacity(ROUNDS);
    for n in 0..ROUNDS {
        let id = format!("integration-{}", n % INTEGRATIONS);
        let started = Instant::now();
        runtime
            .block_on(store.append_history(&id, entry(HISTORY + n), HISTORY))
            .expect("history appended");
        store_times.push(started.elapsed());
    }

    let json = median(json_times);
    let sqlite = median(store_times);
    println!(
        "whole-file settings.json save ({INTEGRATIONS} integrations x {HISTORY} history lines, {size} bytes): median {json:?}"
    );
    println!("Store::append_history (cap {HISTORY}, file database, WAL): median {sqlite:?}");
    println!(
        "ratio: {:.1}x",
        json.as_secs_f64() / sqlite.as_secs_f64().max(f64::EPSILON)
    );
}
