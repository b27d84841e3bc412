use super::*;
use crate::engine::test_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

async fn reactive(status: usize, remaining: i64, lifetime: i64) -> (TestCallResult, usize) {
    let mut server = mockito::Server::new_async().await;
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    server
        .mock("POST", "/oauth/token")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            br#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}"#.to_vec()
        })
        .create_async()
        .await;
    server
        .mock("GET", "/api")
        .match_header("authorization", "Bearer at-1")
        .with_status(status)
        .with_body("{}")
        .create_async()
        .await;
    server
        .mock("GET", "/api")
        .match_header("authorization", "Bearer at-2")
        .with_status(200)
        .with_body(r#"{"ok":true}"#)
        .create_async()
        .await;
    let s = seeded(&server.url(), remaining, lifetime);
    let r = s
        .engine
        .run_request(
            &s.id,
            &preset(custom::TEST_CALL_ID),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    (r, refreshes.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries() {
    let (r, refreshes) = reactive(401, 3000, 3600).await;
    assert_eq!(
        (r.status, r.refreshed, r.attempts, refreshes),
        (200, true, 2, 1)
    );
}

#[tokio::test]
async fn a_403_or_404_refreshes_when_the_token_may_have_expired() {
    // Issued 3500 s ago out of 3600: in the second half of its life.
    for status in [403, 404] {
        let (r, refreshes) = reactive(status, 100, 3600).await;
        assert_eq!(
            (r.status, r.refreshed, refreshes),
            (200, true, 1),
            "{status}"
        );
    }
    // A fresh token's 403 is a real permission problem: no refresh, the answer is explained.
    let (r, refreshes) = reactive(403, 3500, 3600).await;
    assert_eq!((r.status, r.refreshed, refreshes), (403, false, 0));
    assert_eq!(r.error.unwrap().code, "forbidden");
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_retries() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/api")
        .with_status(429)
        .with_header("Retry-After", "1")
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    server
        .mock("GET", "/api")
        .with_status(200)
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let s = seeded(&server.url(), 3000, 3600);
    let sink = RecordingSink::default();
    let started = std::time::Instant::now();
    let r = s
        .engine
        .run_request(&s.id, &preset(custom::TEST_CALL_ID), &sink)
        .await
        .unwrap();
    assert_eq!((r.status, r.attempts), (200, 2));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "waited as told"
    );
    let notices: Vec<RetryNotice> = sink
        .take()
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::RequestProgress(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (notices[0].status, notices[0].wait_ms, notices[0].attempt),
        (429, 1000, 2)
    );
}

#[tokio::test]
async fn history_keeps_method_path_status_but_no_token() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/api")
        .with_status(200)
        .with_body("{}")
        .create_async()
        .await;
    let s = seeded(&server.url(), 3000, 3600);
    let requests_step = |v: &IntegrationView| v.steps[5].clone();
    let before = s.engine.integration(&s.id).await.unwrap();
    assert!(!requests_step(&before).done, "no call ran yet");
    s.engine
        .run_request(
            &s.id,
            &preset(custom::TEST_CALL_ID),
            &RecordingSink::default(),
        )
        .await
        .unwrap();
    let after = s.engine.integration(&s.id).await.unwrap();
    assert!(requests_step(&after).done, "a call ran: step 6 is ticked");
    let h = after.history;
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].method.as_str(), h[0].status), ("GET", 200));
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(s._dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("/api"), "the history line is in the store");
    for secret in ["at-1", "rt-1", "secret-1"] {
        assert!(!stored.contains(secret), "{secret} reached a file");
    }
}

#[tokio::test]
async fn preview_shows_the_exact_url_or_names_the_wrong_field() {
    let seed = seeded("http://127.0.0.1:9", 3000, 3600);
    let request = |path: &str, body: Option<&str>| ApiRequest {
        preset_id: None,
        method: "POST".into(),
        product: None,
        path: path.into(),
        query: Some("?a=1".into()),
        body: body.map(str::to_string),
    };
    assert_eq!(
        seed.engine
            .preview_request(&seed.id, &request("/api/x", None))
            .await
            .unwrap(),
        "http://127.0.0.1:9/api/x?a=1"
    );
    for (path, body, field) in [
        ("api/x", None, "path"),
        ("/../x", None, "path"),
        ("/api/x", Some("{not json"), "body"),
    ] {
        let e = seed
            .engine
            .preview_request(&seed.id, &request(path, body))
            .await
            .unwrap_err()
            .to_ui();
        assert_eq!(e.facts[0].value, field, "{path} {body:?}");
    }
}

#[tokio::test]
async fn history_reloads_presets_as_custom_requests_and_keeps_no_body() {
    let catalog = Catalog::load().unwrap();
    let jira = catalog.provider("jira", None).unwrap();
    let preset = jira
        .test_calls
        .iter()
        .find(|t| t.id == "jira-project-search")
        .unwrap();
    let as_sent = ApiRequest {
        preset_id: Some(preset.id.clone()),
        method: String::new(),
        product: None,
        path: String::new(),
        query: None,
        body: None,
    };
    let reloaded = reloadable_request(&as_sent, Some(preset)).unwrap();
    assert_eq!(reloaded.preset_id, None);
    assert_eq!(reloaded.product, Some(crate::model::ProductId::Jira));
    assert_eq!(reloaded.path, "/rest/api/3/project/search");
    assert_eq!(reloaded.query.as_deref(), Some("maxResults=1"));
    let custom = ApiRequest {
        preset_id: None,
        method: "POST".into(),
        product: Some(crate::model::ProductId::Jira),
        path: "/rest/api/3/issue".into(),
        query: None,
        body: Some(r#"{"fields":{"summary":"private"}}"#.into()),
    };
    let kept = reloadable_request(&custom, None).unwrap();
    assert_eq!(kept.body, None, "no body in the saved history");
    assert_eq!(
        (kept.method.as_str(), kept.path.as_str()),
        ("POST", "/rest/api/3/issue")
    );
}

#[tokio::test]
async fn endpoint_scopes_compare_the_typed_request_with_the_granted_scopes() {
    let seed = seeded("http://127.0.0.1:9", 3000, 3600);
    seed.engine
        .store
        .update_integration(&seed.id, |i| {
            i.provider_id = "atlassian".into();
            if let Some(c) = i.connection.as_mut() {
                c.granted_scopes = vec!["offline_access".into(), "read:jira-work".into()];
            }
            Ok(())
        })
        .await
        .unwrap();
    let jira = Some(crate::model::ProductId::Jira);
    let read = seed
        .engine
        .endpoint_scopes(&seed.id, "GET", jira, "/rest/api/3/issue/ONR-1")
        .await
        .unwrap();
    let verdict = read.satisfaction.map(|s| s.verdict);
    assert_eq!(verdict, Some(crate::endpoint_scopes::Verdict::Classic));
    let write = seed
        .engine
        .endpoint_scopes(&seed.id, "POST", jira, "/rest/api/3/issue")
        .await
        .unwrap();
    let missing = write.satisfaction.unwrap().missing_classic;
    assert_eq!(missing, Some(vec!["write:jira-work".to_string()]));
}
