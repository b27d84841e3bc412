//! Each answer documented in reference nango-api-and-preflight.md §2, and the failures around them.

use super::*;

fn atlassian() -> Server {
    Server {
        name: "Atlassian".into(),
        kind: ServerKind::Atlassian,
    }
}

fn sandbox() -> Server {
    Server {
        name: "the sandbox".into(),
        kind: ServerKind::Sandbox,
    }
}

fn custom() -> Server {
    Server {
        name: "Keycloak".into(),
        kind: ServerKind::OAuth,
    }
}

fn http(status: u16, body: &str) -> ProbeAnswer {
    ProbeAnswer::Http {
        status,
        body: body.into(),
    }
}

/// Every outcome says what it proves and what it does not, and never claims a pass.
fn well_formed(o: &ProbeOutcome) {
    assert!(!o.summary.is_empty() && !o.proves.is_empty() && !o.does_not_prove.is_empty());
    assert!(!o.summary.to_ascii_lowercase().contains("pass"), "{o:?}");
}

fn token(server: &Server, answer: ProbeAnswer) -> ProbeOutcome {
    let o = classify_token_probe(server, &answer);
    well_formed(&o);
    o
}

#[test]
fn atlassian_token_answers_for_a_made_up_code() {
    // Wrong or missing secret (Confirmed, practice: Meridiona/meridian#218).
    let o = token(
        &atlassian(),
        http(
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
        ),
    );
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    assert!(o
        .observed
        .as_deref()
        .unwrap()
        .contains("401, access_denied: Unauthorized"));
    assert!(o.hint.unwrap().contains("developer console"));
    // Right client, bad code: 2023 and 2020 forms.
    for (status, body) in [
        (
            400,
            r#"{"error":"invalid_request","error_description":"authorization_code is invalid"}"#,
        ),
        (
            403,
            r#"{"error":"invalid_grant","error_description":"Invalid authorization code"}"#,
        ),
    ] {
        let o = token(&atlassian(), http(status, body));
        assert_eq!(o.verdict, ProbeVerdict::Accepted, "{body}");
        assert!(
            o.does_not_prove.contains("not confirmed"),
            "the check order is unconfirmed"
        );
    }
    // Missing client_id, and a refresh-token text: neither says anything about the client.
    for (status, body) in [
        (
            400,
            r#"{"error":"invalid_request","error_description":"client_id may not be blank"}"#,
        ),
        (
            403,
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        ),
    ] {
        assert_eq!(
            token(&atlassian(), http(status, body)).verdict,
            ProbeVerdict::Inconclusive,
            "{body}"
        );
    }
}

#[test]
fn the_sandbox_is_read_like_atlassian() {
    let o = token(
        &sandbox(),
        http(
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
        ),
    );
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    assert!(o.summary.starts_with("The sandbox rejected"));
    let o = token(
        &sandbox(),
        http(
            400,
            r#"{"error":"invalid_request","error_description":"authorization_code is invalid"}"#,
        ),
    );
    assert_eq!(o.verdict, ProbeVerdict::Accepted);
}

#[test]
fn standard_servers_are_read_by_rfc_6749() {
    let o = token(&custom(), http(401, r#"{"error":"invalid_client"}"#));
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    assert!(o.proves.contains("RFC 6749"));
    let o = token(
        &custom(),
        http(
            400,
            r#"{"error":"invalid_grant","error_description":"Code not valid"}"#,
        ),
    );
    assert_eq!(o.verdict, ProbeVerdict::Accepted);
    assert!(o.does_not_prove.contains("RFC 6749 does not fix the order"));
    // Atlassian's access_denied is not a standard token error: not read as a refusal elsewhere.
    assert_eq!(
        token(&custom(), http(401, r#"{"error":"access_denied"}"#)).verdict,
        ProbeVerdict::Inconclusive
    );
    assert_eq!(
        token(
            &custom(),
            http(400, r#"{"error":"unsupported_grant_type"}"#)
        )
        .verdict,
        ProbeVerdict::Inconclusive
    );
}

#[test]
fn no_usable_answer_is_inconclusive_with_words() {
    for server in [atlassian(), custom()] {
        for (answer, words) in [
            (http(429, ""), "429"),
            (http(503, "down"), "503"),
            (http(200, r#"{"access_token":"x"}"#), "made-up code"),
            (
                http(404, "<html>Not found</html>"),
                "without an OAuth error",
            ),
            (ProbeAnswer::TimedOut, "did not answer in time"),
            (
                ProbeAnswer::Unreachable("connection refused".into()),
                "could not reach",
            ),
        ] {
            let o = token(&server, answer);
            assert_eq!(o.verdict, ProbeVerdict::Inconclusive, "{words}");
            assert!(o.summary.contains(words), "{}", o.summary);
        }
    }
}

fn hop(url: &str, status: u16, location: Option<&str>) -> Hop {
    Hop {
        url: url.into(),
        status,
        location: location.map(Into::into),
    }
}

const CALLBACK: &str = "http://127.0.0.1:47823/callback";
const AUTHORIZE: &str = "https://auth.atlassian.com/authorize?client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A47823%2Fcallback";

fn authorize(server: &Server, hops: &[Hop], page: &str) -> ProbeOutcome {
    let o = classify_authorize_probe(server, CALLBACK, Ok((hops, page)));
    well_formed(&o);
    o
}

#[test]
fn an_error_page_on_the_way_is_a_refusal_with_its_decoded_reason() {
    // humanlayer/humanlayer#1068: Atlassian's redirect for an unregistered callback URL.
    let error = "https://id.atlassian.com/error?error=unauthorized_client&error_description=redirect_uri%20is%20not%20registered%20for%20client:%20http://127.0.0.1:47823/callback";
    let first = hop(AUTHORIZE, 302, Some(error));
    assert_eq!(
        next_hop(&first, CALLBACK),
        Next::Stop,
        "the address holds the answer"
    );
    let o = authorize(&atlassian(), &[first], "");
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    assert!(
        o.summary.contains("callback URL is not registered"),
        "{}",
        o.summary
    );
    assert!(o
        .observed
        .unwrap()
        .contains("unauthorized_client: redirect_uri is not registered for client: http://127.0.0.1:47823/callback"));
}

#[test]
fn a_login_page_needs_login_and_proves_little() {
    // The observed pre-login link: id.atlassian.com/login?continue=<the authorize URL>.
    let login = "https://id.atlassian.com/login?continue=https%3A%2F%2Fauth.atlassian.com%2Fauthorize%3Fclient_id%3Dabc";
    let middle = "https://auth.atlassian.com/authorize/next";
    let first = hop(AUTHORIZE, 302, Some("/authorize/next"));
    assert_eq!(
        next_hop(&first, CALLBACK),
        Next::Follow(middle.into()),
        "relative Location resolved"
    );
    let second = hop(middle, 303, Some(login));
    assert_eq!(next_hop(&second, CALLBACK), Next::Stop);
    let o = authorize(&atlassian(), &[first, second], "");
    assert_eq!(o.verdict, ProbeVerdict::Inconclusive);
    assert!(o.summary.starts_with("Needs login"));
    assert!(o.does_not_prove.contains("not established"));
}

#[test]
fn a_login_page_on_a_very_long_host_is_quoted_short() {
    // Found by the preflight_answer fuzz target: the login page's host was quoted whole.
    let host = format!("{}.example", vec!["a-label"; 300].join("."));
    let login = format!("https://{host}/login");
    let first = hop(AUTHORIZE, 302, Some(&login));
    let o = authorize(&custom(), &[first], "");
    assert!(o.summary.starts_with("Needs login"), "{}", o.summary);
    let observed = o.observed.unwrap();
    assert!(
        observed.starts_with("redirected to the login page (a-label"),
        "{observed}"
    );
    assert_eq!(
        observed.chars().count(),
        MAX_OBSERVED_CHARS + 1,
        "cut, with an ellipsis"
    );
    assert!(observed.ends_with('…'));
}

#[test]
fn an_error_sent_back_to_the_callback_is_a_refusal() {
    let back = format!("{CALLBACK}?error=invalid_scope&error_description=Unknown%20scope&state=x");
    let first = hop("https://idp.example/authorize", 302, Some(&back));
    assert_eq!(
        next_hop(&first, CALLBACK),
        Next::Stop,
        "never into the callback"
    );
    let o = authorize(&custom(), &[first], "");
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    assert!(o.observed.unwrap().contains("invalid_scope"));
}

#[test]
fn pages_without_a_redirect() {
    // The sandbox's consent page (it has no login).
    let o = authorize(
        &sandbox(),
        &[hop("http://127.0.0.1:4000/authorize", 200, None)],
        "<h1>Sandbox app is requesting access</h1>",
    );
    assert_eq!(o.verdict, ProbeVerdict::Inconclusive);
    assert!(o.summary.contains("consent page"));
    // The sandbox's page for an unknown client_id: refused, with the page's words.
    let page = "<html><head><title>Unknown app</title><style>p{}</style></head><body><h1 class=\"error\">Unknown app</h1><p>There is no app with client_id &quot;nope&quot; in the sandbox.</p></body></html>";
    let o = authorize(
        &sandbox(),
        &[hop("http://127.0.0.1:4000/authorize", 400, None)],
        page,
    );
    assert_eq!(o.verdict, ProbeVerdict::Rejected);
    let observed = o.observed.unwrap();
    assert!(
        observed.contains("There is no app with client_id \"nope\""),
        "{observed}"
    );
    assert!(!observed.contains("p{}"), "no stylesheet text");
    // A firewall's 403, a rate limit, a server error: inconclusive.
    for status in [403, 429, 502] {
        let o = authorize(&atlassian(), &[hop(AUTHORIZE, status, None)], "blocked");
        assert_eq!(o.verdict, ProbeVerdict::Inconclusive, "{status}");
    }
}

#[test]
fn endless_redirects_and_no_answer_are_inconclusive() {
    let hops: Vec<Hop> = (0..MAX_AUTHORIZE_HOPS)
        .map(|i| {
            hop(
                &format!("https://a.example/{i}"),
                302,
                Some(&format!("https://a.example/{}", i + 1)),
            )
        })
        .collect();
    let o = authorize(&custom(), &hops, "");
    assert_eq!(o.verdict, ProbeVerdict::Inconclusive);
    assert!(o.summary.contains("more than 5"));
    for failure in [
        ProbeAnswer::TimedOut,
        ProbeAnswer::Unreachable("dns".into()),
    ] {
        let o = classify_authorize_probe(&atlassian(), CALLBACK, Err(&failure));
        well_formed(&o);
        assert_eq!(o.verdict, ProbeVerdict::Inconclusive);
    }
}

#[test]
fn page_text_keeps_words_only() {
    assert_eq!(
        page_text("<p>a &amp; b</p><script>var x = '<b>';</script>\n<p>  c é </p>"),
        "a & b c é"
    );
}

/// Found by the fuzz target `preflight_answer`: a redirect (or any status but a 4xx) carrying an
/// OAuth error body that names the code is not the token endpoint refusing the code, so it accepts
/// nothing.
#[test]
fn an_error_body_on_a_redirect_is_not_an_acceptance() {
    let body = r#"{"error":"invalid_request","error_description":"authorization_code is invalid"}"#;
    assert_eq!(
        classify_token_probe(&atlassian(), &http(400, body)).verdict,
        ProbeVerdict::Accepted
    );
    for status in [301, 302, 100, 600] {
        for server in [atlassian(), sandbox(), custom()] {
            let o = classify_token_probe(&server, &http(status, body));
            well_formed(&o);
            assert_eq!(o.verdict, ProbeVerdict::Inconclusive, "HTTP {status}");
        }
    }
}
