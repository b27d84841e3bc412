//! The store's API, and two stores (two connections, as two Onramp processes) on one file.

use super::*;
use crate::custom::CustomProvider;
use crate::model::{CallbackKind, CallbackSettings, ClientAuth, CustomProviderInput};

pub(crate) fn integration(id: &str, created_at: i64) -> Integration {
    Integration {
        id: id.into(),
        name: format!("Integration {id}"),
        provider_id: "sandbox".into(),
        client_id: "cid".into(),
        callback: CallbackSettings {
            kind: CallbackKind::Loopback,
            loopback_port: 47823,
        },
        scopes: vec!["read:me".into()],
        console_done: vec![],
        site: None,
        connection: None,
        handed_off: None,
        has_client_secret: false,
        client_secret_revision: 0,
        scopes_reviewed: false,
        sandbox_instance: None,
        history: vec![],
        created_at,
        updated_at: created_at,
    }
}

pub(crate) fn entry(n: i64) -> HistoryEntry {
    HistoryEntry {
        at: 1_700_000_000 + n,
        method: "GET".into(),
        path: format!("/rest/api/3/issue/DEMO-{n}"),
        status: 200,
        elapsed_ms: 10,
        request: None,
    }
}

fn provider(id: &str, name: &str) -> CustomProvider {
    CustomProvider {
        id: id.into(),
        input: CustomProviderInput {
            name: name.into(),
            authorize_url: "https://auth.example.test/authorize".into(),
            token_url: "https://auth.example.test/token".into(),
            scopes: vec![],
            extra_params: vec![],
            client_auth: ClientAuth::RequestBody,
            pkce: true,
            test_call_url: None,
            issuer: None,
        },
    }
}

fn paths(history: &[HistoryEntry]) -> Vec<String> {
    history.iter().map(|h| h.path.clone()).collect()
}

/// The engine keeps a `Store` in shared state and awaits it in `Send` futures (Tauri commands).
#[test]
fn the_store_and_its_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let store = Store::in_memory();
    send_sync(&store);
    send(store.update_integration("a", |_| Ok(())));
    send(store.append_history("a", entry(1), 5));
    send(store.integrations());
}

#[tokio::test]
async fn integrations_come_back_oldest_first_without_history() {
    let store = Store::in_memory();
    assert_eq!(store.path(), None);
    let mut newer = integration("b", 20);
    newer.history = vec![entry(2), entry(1)];
    store.insert_integration(newer.clone()).await.unwrap();
    store
        .insert_integration(integration("a", 10))
        .await
        .unwrap();
    let all = store.integrations().await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(all.iter().all(|i| i.history.is_empty()));
    let b = store.integration("b").await.unwrap();
    assert_eq!(
        b,
        Integration {
            history: vec![],
            ..newer.clone()
        }
    );
    assert_eq!(store.history("b").await.unwrap(), newer.history);
    assert!(matches!(
        store.integration("zz").await,
        Err(OnrampError::UnknownIntegration(id)) if id == "zz"
    ));
    assert!(matches!(
        store.insert_integration(integration("a", 1)).await,
        Err(OnrampError::Internal(_))
    ));
}

#[tokio::test]
async fn an_update_is_applied_or_nothing_is_written() {
    let store = Store::in_memory();
    store
        .insert_integration(integration("a", 10))
        .await
        .unwrap();
    let changed = store
        .update_integration("a", |i| {
            i.name = "Renamed".into();
            i.id = "ignored".into();
            i.history.push(entry(1));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(changed.id, "a");
    assert_eq!(changed.name, "Renamed");
    assert!(changed.updated_at >= crate::now_unix() - 5);
    assert!(changed.history.is_empty());
    assert_eq!(store.integration("a").await.unwrap(), changed);
    assert!(store.history("a").await.unwrap().is_empty());

    let refused = store
        .update_integration("a", |i| {
            i.name = "Half done".into();
            Err(OnrampError::invalid("name", "no"))
        })
        .await;
    assert!(matches!(refused, Err(OnrampError::InvalidInput { .. })));
    assert_eq!(store.integration("a").await.unwrap().name, "Renamed");
    assert!(matches!(
        store.update_integration("zz", |_| Ok(())).await,
        Err(OnrampError::UnknownIntegration(_))
    ));
}

#[tokio::test]
async fn a_panicking_change_is_an_internal_error_and_the_store_goes_on() {
    let store = Store::in_memory();
    store
        .insert_integration(integration("a", 10))
        .await
        .unwrap();
    let failed = store
        .update_integration("a", |i| {
            i.name = "never saved".into();
            panic!("a bug in the change");
        })
        .await;
    let err = failed.unwrap_err();
    assert!(matches!(err, OnrampError::Internal(_)), "{err:?}");
    assert_eq!(err.to_ui().code, "internal");
    assert_eq!(store.integration("a").await.unwrap().name, "Integration a");
}

#[tokio::test]
async fn deleting_cascades_to_history_and_the_last_integration() {
    let store = Store::in_memory();
    store.insert_integration(integration("a", 1)).await.unwrap();
    store.insert_integration(integration("b", 2)).await.unwrap();
    store.append_history("a", entry(1), 10).await.unwrap();
    store.append_history("b", entry(2), 10).await.unwrap();
    store
        .set_last_integration_id(Some("b".into()))
        .await
        .unwrap();
    store.delete_integration("a").await.unwrap();
    assert_eq!(
        store.last_integration_id().await.unwrap().as_deref(),
        Some("b")
    );
    store.delete_integration("b").await.unwrap();
    assert_eq!(store.last_integration_id().await.unwrap(), None);
    assert!(store.integrations().await.unwrap().is_empty());
    let left: i64 = store
        .run(|c| Ok(c.query_row("SELECT count(*) FROM history", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(left, 0, "history rows cascade");
    assert!(matches!(
        store.delete_integration("a").await,
        Err(OnrampError::UnknownIntegration(_))
    ));
    assert!(matches!(
        store.history("a").await,
        Err(OnrampError::UnknownIntegration(_))
    ));
}

#[tokio::test]
async fn history_keeps_the_newest_up_to_the_cap() {
    let store = Store::in_memory();
    store.insert_integration(integration("a", 1)).await.unwrap();
    store.insert_integration(integration("b", 2)).await.unwrap();
    store.append_history("b", entry(100), 3).await.unwrap();
    for n in 0..7 {
        store.append_history("a", entry(n), 5).await.unwrap();
    }
    let kept = store.history("a").await.unwrap();
    assert_eq!(paths(&kept), paths(&[6, 5, 4, 3, 2].map(entry)));
    assert_eq!(
        store.history("b").await.unwrap().len(),
        1,
        "per integration"
    );
    store.append_history("a", entry(7), 2).await.unwrap();
    assert_eq!(
        paths(&store.history("a").await.unwrap()),
        paths(&[entry(7), entry(6)])
    );
    assert!(matches!(
        store.append_history("zz", entry(1), 5).await,
        Err(OnrampError::UnknownIntegration(_))
    ));
}

#[tokio::test]
async fn custom_providers_upsert_in_place_and_stay_while_used() {
    let store = Store::in_memory();
    store
        .save_custom_provider(provider("custom-1", "One"))
        .await
        .unwrap();
    store
        .save_custom_provider(provider("custom-2", "Two"))
        .await
        .unwrap();
    store
        .save_custom_provider(provider("custom-1", "One, renamed"))
        .await
        .unwrap();
    assert_eq!(
        store.custom_providers().await.unwrap(),
        vec![
            provider("custom-1", "One, renamed"),
            provider("custom-2", "Two")
        ]
    );
    let mut user = integration("a", 1);
    user.provider_id = "custom-2".into();
    store.insert_integration(user).await.unwrap();
    let refused = store.delete_custom_provider("custom-2").await.unwrap_err();
    assert!(refused.to_ui().detail.contains("Integration a"));
    store.delete_custom_provider("custom-1").await.unwrap();
    store.delete_custom_provider("custom-1").await.unwrap();
    assert_eq!(
        store.custom_providers().await.unwrap(),
        vec![provider("custom-2", "Two")]
    );
}

#[tokio::test]
async fn last_integration_id_is_set_and_cleared() {
    let store = Store::in_memory();
    assert_eq!(store.last_integration_id().await.unwrap(), None);
    store
        .set_last_integration_id(Some("a".into()))
        .await
        .unwrap();
    store
        .set_last_integration_id(Some("b".into()))
        .await
        .unwrap();
    assert_eq!(
        store.last_integration_id().await.unwrap().as_deref(),
        Some("b")
    );
    store.set_last_integration_id(None).await.unwrap();
    assert_eq!(store.last_integration_id().await.unwrap(), None);
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = path_in(dir.path());
    let opened = Store::open(&db, None);
    assert_eq!(opened.store.path(), Some(db.as_path()));
    opened
        .store
        .insert_integration(integration("a", 1))
        .await
        .unwrap();
    opened.store.append_history("a", entry(1), 5).await.unwrap();
    drop(opened);
    let again = Store::open(&db, None);
    assert!(again.problem.is_none());
    assert_eq!(again.store.integrations().await.unwrap().len(), 1);
    assert_eq!(again.store.history("a").await.unwrap(), vec![entry(1)]);
}

/// Runs `work` on its own thread with its own runtime, as another Onramp process would.
fn on_own_thread<F, Fut>(store: Store, work: F) -> std::thread::JoinHandle<()>
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work(store))
    })
}

fn two_stores_on_one_file() -> (tempfile::TempDir, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let db = path_in(dir.path());
    let a = Store::open(&db, None);
    let b = Store::open(&db, None);
    assert!(a.problem.is_none() && b.problem.is_none());
    (dir, a.store, b.store)
}

#[tokio::test]
async fn two_stores_on_one_file_lose_no_update() {
    let (_dir, a, b) = two_stores_on_one_file();
    a.insert_integration(integration("shared", 1))
        .await
        .unwrap();
    let threads: Vec<_> = [(a.clone(), "a"), (b, "b")]
        .into_iter()
        .map(|(store, tag)| {
            on_own_thread(store, move |store| async move {
                for n in 0..200 {
                    store
                        .update_integration("shared", move |i| {
                            i.console_done.push(format!("{tag}-{n}"));
                            Ok(())
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let done = a.integration("shared").await.unwrap().console_done;
    assert_eq!(done.len(), 400);
    for tag in ["a", "b"] {
        let mine: Vec<String> = done
            .iter()
            .filter(|d| d.starts_with(&format!("{tag}-")))
            .cloned()
            .collect();
        let expected: Vec<String> = (0..200).map(|n| format!("{tag}-{n}")).collect();
        assert_eq!(mine, expected, "each store's values, all there, in order");
    }
}

#[tokio::test]
async fn two_stores_appending_history_lose_no_entry() {
    let (_dir, a, b) = two_stores_on_one_file();
    a.insert_integration(integration("shared", 1))
        .await
        .unwrap();
    let threads: Vec<_> = [(a.clone(), 0), (b, 1000)]
        .into_iter()
        .map(|(store, base)| {
            on_own_thread(store, move |store| async move {
                for n in 0..100 {
                    store
                        .append_history("shared", entry(base + n), 150)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let history = a.history("shared").await.unwrap();
    assert_eq!(history.len(), 150, "capped at 150 of 200");
    let mut all: Vec<i64> = history.iter().map(|h| h.at).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 150, "no entry twice");
    // The 50 dropped are the oldest: each store's own entries stay in order, newest first.
    for base in [0, 1000] {
        let mine: Vec<i64> = history
            .iter()
            .map(|h| h.at - 1_700_000_000)
            .filter(|n| (base..base + 100).contains(n))
            .collect();
        assert!(mine.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(mine.first(), Some(&(base + 99)), "the newest is kept");
    }
}

/// Schema 2 adds the client secret's revision: a file written at schema 1 keeps every integration
/// as it was (revision 0), and the revision then round-trips through updates.
#[tokio::test]
async fn a_schema_1_file_keeps_its_integrations_and_gains_the_secret_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onramp.db");
    let mut saved = integration("i1", 5);
    saved.has_client_secret = true;
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(migrations::MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        // The record as schema 1 wrote it: every field but the columns.
        c.execute(
            "INSERT INTO integrations (id, created_at, updated_at, record) VALUES (?1, ?2, ?3, ?4)",
            params![
                saved.id,
                saved.created_at,
                saved.updated_at,
                integration_record(&saved).ok().unwrap()
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO history (integration_id, at, entry) VALUES (?1, ?2, ?3)",
            params!["i1", 7, serde_json::to_string(&entry(7)).unwrap()],
        )
        .unwrap();
    }
    let opened = Store::open(&path, None);
    assert!(opened.problem.is_none(), "{:?}", opened.problem);
    let store = opened.store;
    assert_eq!(store.integration("i1").await.unwrap(), saved);
    assert_eq!(store.history("i1").await.unwrap(), vec![entry(7)]);
    let bumped = store
        .update_integration("i1", |i| {
            i.client_secret_revision += 1;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(bumped.client_secret_revision, 1);
    assert_eq!(
        store
            .integration("i1")
            .await
            .unwrap()
            .client_secret_revision,
        1
    );
    assert_eq!(
        store.integrations().await.unwrap()[0].client_secret_revision,
        1
    );
    // In its column, not in the JSON record.
    let record: String = Connection::open(&path)
        .unwrap()
        .query_row("SELECT record FROM integrations WHERE id = 'i1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!record.contains("clientSecretRevision"), "{record}");
}
