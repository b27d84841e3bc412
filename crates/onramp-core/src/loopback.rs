//! The loopback callback listener: `http://127.0.0.1:<fixed port>/callback`.
//!
//! Bound before the browser opens (a busy port is reported up front), it reads one request head per
//! connection, hands each callback URL to the caller with a way to answer, and tells the browser the
//! truth: "you can close this tab" only when the engine accepted the callback, otherwise a page
//! that says it was not accepted and to go back to Onramp. It closes when its flow goes away (taken,
//! cancelled, replaced or expired: the flow owns the `stop` sender) or after `max_wait` at the
//! latest, so a stray request to `/callback` cannot end the wait for the real one.
//!
//! What a connection must send, or it is answered with an error page and closed:
//! - the whole request head within [`HEAD_TIMEOUT`] and [`MAX_HEAD_BYTES`] (a half-sent request
//!   does not hold a connection open);
//! - `GET` with an origin-form target (`/callback?…`), HTTP/1.0 or 1.1;
//! - exactly one `Host` header naming this listener: `127.0.0.1:<port>` or `localhost:<port>`
//!   (a page on another origin that resolves its own name to 127.0.0.1, DNS rebinding, is refused);
//! - the path `/callback` (anything else, a favicon, gets 404 and never reaches the engine).
//!
//! At most [`MAX_CONNECTIONS`] connections are served at a time; one more is closed at once.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::OnrampError;

pub const CALLBACK_PATH: &str = "/callback";
pub const DEFAULT_PORT: u16 = 47823;

/// How long a connection may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head read; a longer one is answered 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Connections served at the same time.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a request waits for the engine's verdict before it is told "not accepted".
const VERDICT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing the answer may take (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// What the engine decided about a callback, and so what the browser is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// It was the pending flow's callback; the code is being exchanged.
    Accepted,
    /// It matched no flow waiting on this listener (unknown or used state, unreadable).
    NotAccepted,
    /// It was the flow's callback, but the provider sent an error instead of a code.
    ProviderError,
    /// It was the flow's callback, too late.
    Expired,
}

/// A callback request waiting for its verdict. Dropping it unanswered answers "not accepted".
#[derive(Debug)]
pub struct ReceivedCallback {
    /// `http://127.0.0.1:<port><target>`, the URL the browser requested.
    pub url: String,
    answer: oneshot::Sender<CallbackVerdict>,
}

impl ReceivedCallback {
    pub fn answer(self, verdict: CallbackVerdict) {
        let _ = self.answer.send(verdict);
    }
}

/// A bound listener waiting for one callback.
pub struct LoopbackListener {
    port: u16,
    received: mpsc::Receiver<ReceivedCallback>,
    /// Fires once the listener has stopped accepting connections; `None` once seen.
    closed: Option<oneshot::Receiver<()>>,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:port` and serves until `stop` fires or is dropped, or `max_wait` has
    /// passed. Requests already being answered still get their page after that.
    pub async fn bind(
        port: u16,
        stop: oneshot::Receiver<()>,
        max_wait: Duration,
    ) -> Result<LoopbackListener, OnrampError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                OnrampError::PortInUse(port)
            } else {
                OnrampError::Network(format!("cannot listen on {addr}: {e}"))
            }
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let (tx, received) = mpsc::channel::<ReceivedCallback>(4);
        let (closed_tx, closed) = oneshot::channel::<()>();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::spawn(async move {
            let deadline = tokio::time::sleep(max_wait);
            tokio::pin!(deadline);
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    _ = &mut deadline => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else {
                            // Out of file descriptors, say: do not spin.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        // Over the limit: closed at once, it never holds a slot.
                        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            serve_connection(stream, port, &tx).await;
                            drop(slot);
                        });
                    }
                }
            }
            // The port is released here; requests in flight finish on their own time limits.
            drop(listener);
            let _ = closed_tx.send(());
            tracing::info!("loopback listener on port {port} closed");
        });
        Ok(LoopbackListener {
            port,
            received,
            closed: Some(closed),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next callback request, or `None` once the listener has closed.
    pub async fn next_callback(&mut self) -> Option<ReceivedCallback> {
        let Some(closed) = self.closed.as_mut() else {
            return self.received.try_recv().ok();
        };
        tokio::select! {
            biased;
            callback = self.received.recv() => callback,
            _ = closed => {
                self.closed = None;
                None
            }
        }
    }
}

/// One connection: read the head, check it, ask for the verdict, answer, close.
async fn serve_connection(mut stream: TcpStream, port: u16, tx: &mpsc::Sender<ReceivedCallback>) {
    let answer = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => Answer::HeadTimeout,
        Ok(Err(answer)) => answer,
        Ok(Ok(head)) => match check_request(&head, port) {
            Err(answer) => answer,
            Ok(url) => Answer::Verdict(ask_for_verdict(url, tx).await),
        },
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(answer.response().as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

async fn ask_for_verdict(url: String, tx: &mpsc::Sender<ReceivedCallback>) -> CallbackVerdict {
    let (answer, verdict) = oneshot::channel();
    let asked = async {
        tx.send(ReceivedCallback { url, answer }).await.ok()?;
        verdict.await.ok()
    };
    tokio::time::timeout(VERDICT_TIMEOUT, asked)
        .await
        .ok()
        .flatten()
        .unwrap_or(CallbackVerdict::NotAccepted)
}

/// Reads until the end of the request head (the blank line), at most [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Answer> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Answer::Malformed)?;
        if n == 0 {
            return Err(Answer::Malformed);
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(Answer::HeadTooLarge);
        }
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Checks a complete request head; returns the callback URL to hand over, or the answer to give.
/// Pure, so every refusal is unit-tested (and fuzzable) without a socket.
pub fn check_request(head: &[u8], port: u16) -> Result<String, Answer> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(Answer::HeadTooLarge);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(Answer::Malformed),
    }
    if request.method != Some("GET") {
        return Err(Answer::MethodNotAllowed);
    }
    let target = request.path.ok_or(Answer::Malformed)?;
    // Origin form only: an absolute target (`GET http://elsewhere/…`) is a proxy request.
    if !target.starts_with('/') {
        return Err(Answer::Malformed);
    }
    let mut hosts = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"));
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if host_names_this_listener(host.value, port) => {}
        _ => return Err(Answer::WrongHost),
    }
    let url = format!("http://127.0.0.1:{port}{target}");
    let parsed = url::Url::parse(&url).map_err(|_| Answer::Malformed)?;
    if parsed.path() != CALLBACK_PATH {
        return Err(Answer::NotFound);
    }
    // Hand over the URL as checked (dot segments resolved: `/a/../callback` is `/callback`), never
    // the raw target, so what the engine matches is what was checked here (found by fuzzing).
    Ok(parsed.into())
}

/// `127.0.0.1:<port>` or `localhost:<port>` (the port may be left out only when it is 80).
fn host_names_this_listener(value: &[u8], port: u16) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let value = value.trim().to_ascii_lowercase();
    let (name, given_port) = match value.rsplit_once(':') {
        Some((name, p)) => (name, p.parse::<u16>().ok()),
        None => (value.as_str(), Some(80)),
    };
    matches!(name, "127.0.0.1" | "localhost") && given_port == Some(port)
}

/// What the browser is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Verdict(CallbackVerdict),
    NotFound,
    WrongHost,
    MethodNotAllowed,
    Malformed,
    HeadTooLarge,
    HeadTimeout,
}

impl Answer {
    fn status(self) -> (u16, &'static str) {
        match self {
            Answer::Verdict(CallbackVerdict::Accepted) => (200, "OK"),
            Answer::Verdict(_) | Answer::Malformed => (400, "Bad Request"),
            Answer::NotFound => (404, "Not Found"),
            Answer::WrongHost => (421, "Misdirected Request"),
            Answer::MethodNotAllowed => (405, "Method Not Allowed"),
            Answer::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Answer::HeadTimeout => (408, "Request Timeout"),
        }
    }

    /// The page: fixed words only, nothing from the request is echoed.
    fn page(self) -> (&'static str, &'static str) {
        const BACK: &str = "Go back to Onramp: an authorization that is still waiting keeps waiting for its own callback.";
        match self {
            Answer::Verdict(CallbackVerdict::Accepted) => (
                "Onramp received the callback.",
                "You can close this tab and return to Onramp, which finishes the connection.",
            ),
            Answer::Verdict(CallbackVerdict::ProviderError) => (
                "The authorization was not completed.",
                "The provider sent an error instead of a code (for example, the consent was cancelled). Go back to Onramp: it shows what happened and what to do.",
            ),
            Answer::Verdict(CallbackVerdict::Expired) => (
                "The authorization had expired.",
                "Onramp waits 10 minutes for the browser to come back. Go back to Onramp and start the authorization again.",
            ),
            Answer::Verdict(CallbackVerdict::NotAccepted) => (
                "Onramp did not accept this callback.",
                "It does not belong to the authorization Onramp is waiting for, or it could not be read. Go back to Onramp: an authorization that is still waiting keeps waiting for its own callback.",
            ),
            Answer::NotFound => ("Not found.", BACK),
            Answer::WrongHost => (
                "Onramp did not accept this request.",
                "It was not addressed to 127.0.0.1 or localhost. Go back to Onramp.",
            ),
            Answer::MethodNotAllowed | Answer::Malformed | Answer::HeadTooLarge => {
                ("Onramp did not accept this request.", BACK)
            }
            Answer::HeadTimeout => ("The request was not completed in time.", BACK),
        }
    }

    fn response(self) -> String {
        let (code, reason) = self.status();
        let (title, text) = self.page();
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Onramp</title></head>\
             <body style=\"font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#1f2430\">\
             <h1 style=\"font-size:1.4rem\">{title}</h1><p>{text}</p></body></html>"
        );
        let allow = if self == Answer::MethodNotAllowed {
            "Allow: GET\r\n"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {code} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n\
             content-length: {}\r\ncache-control: no-store\r\nreferrer-policy: no-referrer\r\n\
             {allow}connection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LONG: Duration = Duration::from_secs(600);

    fn client() -> reqwest::Client {
        crate::tls::client_builder().no_proxy().build().unwrap()
    }

    /// Answers every callback request the listener hands over with `verdict`, and records its URL.
    fn answer_all(
        mut listener: LoopbackListener,
        verdict: CallbackVerdict,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        tokio::spawn(async move {
            let mut urls = Vec::new();
            while let Some(callback) = listener.next_callback().await {
                urls.push(callback.url.clone());
                callback.answer(verdict);
            }
            urls
        })
    }

    #[tokio::test]
    async fn the_page_tells_whether_the_callback_was_accepted() {
        for (verdict, status, words) in [
            (CallbackVerdict::Accepted, 200, "close this tab"),
            (CallbackVerdict::NotAccepted, 400, "did not accept"),
            (CallbackVerdict::ProviderError, 400, "not completed"),
            (CallbackVerdict::Expired, 400, "expired"),
        ] {
            let (stop_tx, stop) = oneshot::channel();
            let listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
            let port = listener.port();
            let answering = answer_all(listener, verdict);
            let page = client()
                .get(format!(
                    "http://127.0.0.1:{port}/callback?code=abc&state=xyz"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), status, "{verdict:?}");
            let text = page.text().await.unwrap();
            assert!(text.contains(words), "{verdict:?}: {text}");
            if verdict != CallbackVerdict::Accepted {
                assert!(!text.contains("close this tab"), "{verdict:?}: {text}");
                assert!(text.contains("Go back to Onramp"), "{verdict:?}: {text}");
            }
            drop(stop_tx);
            assert_eq!(
                answering.await.unwrap(),
                vec![format!(
                    "http://127.0.0.1:{port}/callback?code=abc&state=xyz"
                )]
            );
        }
    }

    #[tokio::test]
    async fn delivers_every_callback_until_stopped() {
        let (stop_tx, stop) = oneshot::channel();
        let listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let port = listener.port();
        let answering = answer_all(listener, CallbackVerdict::NotAccepted);
        let client = client();
        let favicon = client
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(favicon.status(), 404, "other paths never reach the engine");
        // Stray requests are handed over (refused there) and do not end the wait for the real one.
        for query in ["", "?code=abc&state=xyz"] {
            let page = client
                .get(format!("http://127.0.0.1:{port}/callback{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 400);
        }
        // The flow went away: the port is released.
        drop(stop_tx);
        assert_eq!(
            answering.await.unwrap(),
            vec![
                format!("http://127.0.0.1:{port}/callback"),
                format!("http://127.0.0.1:{port}/callback?code=abc&state=xyz"),
            ]
        );
        assert!(client
            .get(format!("http://127.0.0.1:{port}/callback"))
            .send()
            .await
            .is_err());
    }

    #[tokio::test]
    async fn an_unanswered_callback_is_not_accepted() {
        let (_stop_tx, stop) = oneshot::channel();
        let mut listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let port = listener.port();
        let dropping = tokio::spawn(async move {
            let callback = listener.next_callback().await.unwrap();
            drop(callback);
            listener
        });
        let page = client()
            .get(format!("http://127.0.0.1:{port}/callback?code=a&state=b"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400);
        drop(dropping.await.unwrap());
    }

    #[tokio::test]
    async fn a_half_sent_request_is_closed() {
        let (_stop_tx, stop) = oneshot::channel::<()>();
        let listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let port = listener.port();
        let answering = answer_all(listener, CallbackVerdict::Accepted);
        let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // The head never ends: no blank line.
        half.write_all(b"GET /callback?code=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        // The listener closes the connection by itself (after HEAD_TIMEOUT); the outer limit only
        // keeps a regression from hanging the test run.
        let read = tokio::time::timeout(Duration::from_secs(30), half.read_to_end(&mut answer))
            .await
            .expect("the listener closed the half-sent request");
        assert!(read.is_ok());
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert!(!answer.contains("close this tab"), "{answer}");
        answering.abort();
    }

    #[tokio::test]
    async fn a_request_for_another_host_is_refused() {
        let (_stop_tx, stop) = oneshot::channel::<()>();
        let listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let port = listener.port();
        let answering = answer_all(listener, CallbackVerdict::Accepted);
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        conn.write_all(
            format!(
                "GET /callback?code=x&state=y HTTP/1.1\r\nHost: attacker.example:{port}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 421 "), "{answer}");
        answering.abort();
    }

    #[test]
    fn request_heads_are_checked_before_anything_is_handed_over() {
        let port = 47823;
        let get = |target: &str, host: &str| {
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: x\r\n\r\n")
        };
        let ok = check_request(
            get("/callback?code=a&state=b", "127.0.0.1:47823").as_bytes(),
            port,
        );
        assert_eq!(
            ok,
            Ok("http://127.0.0.1:47823/callback?code=a&state=b".into())
        );
        assert_eq!(
            check_request(
                get("/a/../callback?code=a", "127.0.0.1:47823").as_bytes(),
                port
            ),
            Ok("http://127.0.0.1:47823/callback?code=a".into()),
            "the URL handed over is the one checked, dot segments resolved"
        );
        for host in ["localhost:47823", "LOCALHOST:47823", "127.0.0.1:47823 "] {
            assert!(
                check_request(get("/callback?code=a", host).as_bytes(), port).is_ok(),
                "{host}"
            );
        }
        for (what, head, answer) in [
            (
                "rebinding",
                get("/callback?code=a", "evil.example:47823"),
                Answer::WrongHost,
            ),
            (
                "other port",
                get("/callback?code=a", "127.0.0.1:1"),
                Answer::WrongHost,
            ),
            (
                "no port",
                get("/callback?code=a", "127.0.0.1"),
                Answer::WrongHost,
            ),
            (
                "ipv6",
                get("/callback?code=a", "[::1]:47823"),
                Answer::WrongHost,
            ),
            (
                "no host",
                "GET /callback?code=a HTTP/1.1\r\n\r\n".into(),
                Answer::WrongHost,
            ),
            (
                "two hosts",
                "GET /callback HTTP/1.1\r\nHost: 127.0.0.1:47823\r\nHost: evil:1\r\n\r\n".into(),
                Answer::WrongHost,
            ),
            (
                "absolute target",
                get("http://evil.example/callback?code=a", "127.0.0.1:47823"),
                Answer::Malformed,
            ),
            (
                "other path",
                get("/favicon.ico", "127.0.0.1:47823"),
                Answer::NotFound,
            ),
            (
                "path below",
                get("/callback/x", "127.0.0.1:47823"),
                Answer::NotFound,
            ),
            (
                "post",
                "POST /callback HTTP/1.1\r\nHost: 127.0.0.1:47823\r\n\r\n".into(),
                Answer::MethodNotAllowed,
            ),
            (
                "garbage",
                "\u{0}\u{1}hello\r\n\r\n".into(),
                Answer::Malformed,
            ),
            (
                "too large",
                get(
                    &format!("/callback?x={}", "a".repeat(MAX_HEAD_BYTES)),
                    "127.0.0.1:47823",
                ),
                Answer::HeadTooLarge,
            ),
        ] {
            assert_eq!(check_request(head.as_bytes(), port), Err(answer), "{what}");
        }
    }

    #[tokio::test]
    async fn busy_port_is_reported() {
        let (_a, stop_a) = oneshot::channel();
        let first = LoopbackListener::bind(0, stop_a, LONG).await.unwrap();
        let (_b, stop_b) = oneshot::channel();
        let second = LoopbackListener::bind(first.port(), stop_b, LONG).await;
        assert!(matches!(second, Err(OnrampError::PortInUse(p)) if p == first.port()));
    }

    #[tokio::test]
    async fn dropping_stop_closes_the_listener() {
        let (stop_tx, stop) = oneshot::channel::<()>();
        let mut listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        drop(stop_tx);
        assert!(listener.next_callback().await.is_none());
        assert!(
            listener.next_callback().await.is_none(),
            "asking again is fine"
        );
    }

    #[tokio::test]
    async fn a_request_that_never_finishes_does_not_keep_it_open() {
        let (stop_tx, stop) = oneshot::channel::<()>();
        let mut listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let mut half = tokio::net::TcpStream::connect(("127.0.0.1", listener.port()))
            .await
            .unwrap();
        half.write_all(b"GET /callback?code=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        drop(stop_tx);
        let closed = tokio::time::timeout(Duration::from_secs(10), listener.next_callback()).await;
        assert!(matches!(closed, Ok(None)));
        drop(half);
    }

    #[tokio::test]
    async fn closes_after_max_wait_even_if_nobody_stops_it() {
        let (_stop_tx, stop) = oneshot::channel::<()>();
        let mut listener = LoopbackListener::bind(0, stop, Duration::from_millis(100))
            .await
            .unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), listener.next_callback()).await;
        assert!(matches!(closed, Ok(None)));
    }

    #[test]
    fn redirect_uri_uses_the_ip_literal() {
        assert_eq!(redirect_uri(47823), "http://127.0.0.1:47823/callback");
    }
}
