//! The 2026 rate-limit headers and the JQL count preset, end to end at engine level: the sandbox
//! sends what Atlassian sends (reference atlassian-2026.md §3), the engine explains it.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::connected;
use onramp_core::events::{EngineEvent, RecordingSink};
use onramp_core::model::{ApiRequest, ErrorCode};
use onramp_sandbox::{Faults, Sandbox, SandboxConfig};

#[tokio::test]
async fn the_count_preset_near_limit_warning_and_the_limit_a_429_hit() {
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), Some(&sandbox), 47823);
    let id = connected(&engine, &sandbox).await;
    let run = |preset: &'static str| {
        let engine = &engine;
        let id = id.clone();
        async move {
            engine
                .run_request(&id, &ApiRequest::preset(preset), &RecordingSink::default())
                .await
                .unwrap()
        }
    };

    // The JQL count is a POST carrying its bounded JQL.
    let count = run("jira-approximate-count").await;
    assert_eq!(count.status, 200, "{}", count.body);
    assert!(count.body.contains("\"count\""), "{}", count.body);
    assert!(!count.rate_limit.near_limit);

    sandbox.set_faults(Faults {
        near_limit_next: 1,
        ..Faults::default()
    });
    let near = run("jira-myself").await;
    assert_eq!(near.status, 200);
    assert!(near.rate_limit.near_limit);
    assert!(near
        .rate_limit
        .summary
        .unwrap()
        .contains("Near the rate limit"));

    // More 429s than Onramp retries: the explanation names the limit and when to retry.
    sandbox.set_faults(Faults {
        rate_limit_next: 4,
        retry_after_secs: 1,
        rate_limit_reason: "jira-burst-based".into(),
        ..Faults::default()
    });
    let sink = RecordingSink::default();
    let limited = engine
        .run_request(&id, &ApiRequest::preset("jira-myself"), &sink)
        .await
        .unwrap();
    let notices: Vec<String> = sink
        .take()
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::RequestProgress(n) => Some(n.reason),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 3, "three retries announced");
    assert!(notices[0].contains("burst limit"), "{}", notices[0]);
    assert_eq!((limited.status, limited.attempts), (429, 4));
    assert_eq!(
        limited.rate_limit.reason.as_deref(),
        Some("jira-burst-based")
    );
    let error = limited.error.unwrap();
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.detail.contains("burst limit"), "{}", error.detail);
    assert!(error.detail.contains("Retry after 1 s"), "{}", error.detail);
    sandbox.shutdown().await;
}
