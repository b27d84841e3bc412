//! The loopback callback listener: `http://127.0.0.1:<fixed port>/callback`.
//!
//! Bound before the browser opens (a busy port is reported up front), it answers the browser with a
//! short "you can close this tab" page and hands each callback URL to the caller, which decides
//! whether it belongs to the pending flow. It closes when its flow goes away (taken, cancelled,
//! replaced or expired: the flow owns the `stop` sender) or after `max_wait` at the latest, so a stray
//! request to `/callback` cannot end the wait for the real one. Other paths (a favicon) get 404.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use tokio::sync::{mpsc, oneshot};

use crate::error::OnrampError;

pub const CALLBACK_PATH: &str = "/callback";
pub const DEFAULT_PORT: u16 = 47823;

pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// A bound listener waiting for one callback.
pub struct LoopbackListener {
    port: u16,
    received: mpsc::Receiver<String>,
    /// Fires once the server has stopped (or was given up on after [`SHUTDOWN_GRACE`]); `None`
    /// once seen.
    closed: Option<oneshot::Receiver<()>>,
}

/// How long in-flight requests may take to finish once the listener is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

impl LoopbackListener {
    /// Binds `127.0.0.1:port` and starts serving until `stop` fires or is dropped, or `max_wait`
    /// has passed.
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
        let (tx, received) = mpsc::channel::<String>(4);
        let app = Router::new()
            .route(CALLBACK_PATH, get(receive))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(CallbackState { tx, port });
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (closed_tx, closed) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // In-flight responses (the "close this tab" page) still complete after the signal.
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.await;
                })
                .await
        });
        tokio::spawn(async move {
            tokio::select! {
                _ = stop => {},
                _ = tokio::time::sleep(max_wait) => {},
            }
            let _ = shutdown_tx.send(());
            // A connection that never finishes its request must not keep the wait open.
            match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
                Ok(Ok(Err(e))) => tracing::warn!("loopback listener on port {port} failed: {e}"),
                Err(_) => {
                    tracing::warn!("loopback listener on port {port}: a connection did not finish")
                }
                _ => {}
            }
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

    /// The next callback URL, or `None` once the listener has closed.
    pub async fn next_callback(&mut self) -> Option<String> {
        let Some(closed) = self.closed.as_mut() else {
            return self.received.try_recv().ok();
        };
        tokio::select! {
            biased;
            url = self.received.recv() => url,
            _ = closed => {
                self.closed = None;
                None
            }
        }
    }
}

#[derive(Clone)]
struct CallbackState {
    tx: mpsc::Sender<String>,
    port: u16,
}

async fn receive(State(state): State<CallbackState>, uri: Uri) -> impl IntoResponse {
    let url = format!("http://127.0.0.1:{}{}", state.port, uri);
    let _ = state.tx.send(url).await;
    (
        StatusCode::OK,
        Html(page(
            "Onramp received the callback.",
            "You can close this tab and return to Onramp.",
        )),
    )
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Onramp</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#1f2430\">\
         <h1 style=\"font-size:1.4rem\">{title}</h1><p>{text}</p></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn delivers_every_callback_until_stopped() {
        let (stop_tx, stop) = oneshot::channel();
        let mut listener = LoopbackListener::bind(0, stop, LONG).await.unwrap();
        let port = listener.port();
        let client = client();
        let favicon = client
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(favicon.status(), 404);
        // A stray request (no state) is handed over but does not end the wait for the real one.
        for query in ["", "?code=abc&state=xyz"] {
            let page = client
                .get(format!("http://127.0.0.1:{port}/callback{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200);
            assert!(page.text().await.unwrap().contains("close this tab"));
            assert_eq!(
                listener.next_callback().await.unwrap(),
                format!("http://127.0.0.1:{port}/callback{query}")
            );
        }
        // The flow went away: the port is released.
        drop(stop_tx);
        assert_eq!(listener.next_callback().await, None);
        assert!(client
            .get(format!("http://127.0.0.1:{port}/callback"))
            .send()
            .await
            .is_err());
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
        assert_eq!(listener.next_callback().await, None);
    }

    #[tokio::test]
    async fn a_request_that_never_finishes_does_not_keep_it_open() {
        use tokio::io::AsyncWriteExt;
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
        assert_eq!(closed, Ok(None));
        assert_eq!(listener.next_callback().await, None, "asking again is fine");
        drop(half);
    }

    #[tokio::test]
    async fn closes_after_max_wait_even_if_nobody_stops_it() {
        let (_stop_tx, stop) = oneshot::channel::<()>();
        let mut listener = LoopbackListener::bind(0, stop, Duration::from_millis(100))
            .await
            .unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), listener.next_callback()).await;
        assert_eq!(closed, Ok(None));
    }

    #[test]
    fn redirect_uri_uses_the_ip_literal() {
        assert_eq!(redirect_uri(47823), "http://127.0.0.1:47823/callback");
    }
}
