//! "Check these credentials" against the real sandbox, which answers the preflight's probes the way
//! the reference says Atlassian does (nango-api-and-preflight.md §2): a made-up code with a wrong
//! or right secret at the token endpoint, and the authorize URL before login (an error page for an
//! unknown client_id or an unregistered callback URL, the consent page otherwise).

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use onramp_core::model::{CustomProviderInput, IntegrationPatch, KeyValue};
use onramp_core::preflight::ProbeVerdict;
use onramp_sandbox::{Sandbox, SandboxConfig};

async fn start_sandbox() -> Sandbox {
    Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_sandbox_provider_tells_a_wrong_secret_from_a_right_one() {
    let sandbox = start_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), Some(&sandbox), 47900);
    let config = sandbox.config();
    let view = engine.create_integration("sandbox").await.unwrap();
    engine
        .save_credentials(&view.id, &config.client_id, Some("wrong-secret".into()))
        .await
        .unwrap();
    let check = engine.check_credentials(&view.id).await.unwrap();
    assert_eq!(check.token_endpoint.verdict, ProbeVerdict::Rejected);
    assert_eq!(
        check.token_endpoint.observed.as_deref(),
        Some("HTTP 401, access_denied: Unauthorized")
    );
    let authorize = check.authorize.unwrap();
    assert_eq!(authorize.verdict, ProbeVerdict::Inconclusive);
    assert!(authorize.summary.contains("consent page"), "{authorize:?}");

    engine
        .save_credentials(
            &view.id,
            &config.client_id,
            Some(config.client_secret.clone().into()),
        )
        .await
        .unwrap();
    let check = engine.check_credentials(&view.id).await.unwrap();
    assert_eq!(check.token_endpoint.verdict, ProbeVerdict::Accepted);
    assert_eq!(
        check.token_endpoint.observed.as_deref(),
        Some("HTTP 400, invalid_request: authorization_code is invalid")
    );
}

/// A custom provider pointing at the sandbox: nothing registers its callback URL, so the sandbox
/// redirects to its error page like Atlassian; an unknown client_id gets the sandbox's error page.
#[tokio::test]
async fn error_pages_before_login_are_refusals_with_their_reason() {
    let sandbox = start_sandbox().await;
    let base = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(dir.path(), None, 47901);
    let provider = engine
        .save_custom_provider(
            None,
            CustomProviderInput {
                name: "Look-alike".into(),
                authorize_url: format!("{base}/authorize"),
                token_url: format!("{base}/oauth/token"),
                scopes: vec!["offline_access".into(), "read:me".into()],
                extra_params: vec![KeyValue {
                    key: "audience".into(),
                    value: "onramp-sandbox".into(),
                }],
                client_auth: Default::default(),
                pkce: false,
                test_call_url: None,
                issuer: None,
            },
        )
        .await
        .unwrap();
    let view = engine.create_integration(&provider.id).await.unwrap();
    let config = sandbox.config();
    engine
        .update_integration(
            &view.id,
            IntegrationPatch {
                scopes: Some(vec!["read:me".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    engine
        .save_credentials(
            &view.id,
            &config.client_id,
            Some(config.client_secret.clone().into()),
        )
        .await
        .unwrap();
    let authorize = engine
        .check_credentials(&view.id)
        .await
        .unwrap()
        .authorize
        .unwrap();
    assert_eq!(authorize.verdict, ProbeVerdict::Rejected);
    // Atlassian's own texts are read only for Atlassian and the sandbox provider: here the
    // standard code speaks, with the page's reason beside it.
    assert!(authorize
        .summary
        .contains("refused the authorize request before login"));
    assert!(authorize
        .observed
        .unwrap()
        .contains("unauthorized_client: redirect_uri is not registered for client"));

    engine
        .save_credentials(&view.id, "someone-else", None)
        .await
        .unwrap();
    let check = engine.check_credentials(&view.id).await.unwrap();
    // A standard server would say invalid_client; the sandbox says what Atlassian says, which a
    // custom provider's rules do not read as a refusal.
    assert_eq!(check.token_endpoint.verdict, ProbeVerdict::Inconclusive);
    let authorize = check.authorize.unwrap();
    assert_eq!(authorize.verdict, ProbeVerdict::Rejected);
    assert!(
        authorize
            .observed
            .unwrap()
            .contains("There is no app with client_id \"someone-else\""),
        "the page's words"
    );
}
