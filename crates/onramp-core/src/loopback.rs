//! The loopback callback listener: `http://127.0.0.1:<fixed port>/callback`, one callback, then closed.
//!
//! Bound before the browser opens (a busy port is reported up front), it answers the browser with a
//! short "you can close this tab" page and hands the full callback URL to the caller. Requests to
//! other paths (a browser's favicon fetch) get 404 and do not end the wait.

use std::net::{Ipv4Addr, SocketAddr};

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
}

impl LoopbackListener {
    /// Binds `127.0.0.1:port` and starts serving. The listener closes after one callback, or when
    /// `stop` fires or is dropped (the pending flow went away).
    pub async fn bind(
        port: u16,
        stop: oneshot::Receiver<()>,
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
        let (tx, received) = mpsc::channel::<String>(1);
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let state = CallbackState {
            tx,
            port,
            done: std::sync::Arc::new(std::sync::Mutex::new(Some(done_tx))),
        };
        let app = Router::new()
            .route(CALLBACK_PATH, get(receive))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(state);
        tokio::spawn(async move {
            let shutdown = async move {
                tokio::select! {
                    _ = stop => {},
                    _ = done_rx => {
                        // Let the browser receive the page before the socket closes.
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    },
                }
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("loopback listener on port {port} failed: {e}");
            }
            tracing::info!("loopback listener on port {port} closed");
        });
        Ok(LoopbackListener { port, received })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The callback URL, or `None` if the listener closed without one.
    pub async fn next_callback(mut self) -> Option<String> {
        self.received.recv().await
    }
}

#[derive(Clone)]
struct CallbackState {
    tx: mpsc::Sender<String>,
    port: u16,
    done: std::sync::Arc<std::sync::Mutex<Option<oneshot::Sender<()>>>>,
}

async fn receive(State(state): State<CallbackState>, uri: Uri) -> impl IntoResponse {
    let first = state.done.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(done) = first else {
        return (
            StatusCode::GONE,
            Html(page(
                "This callback was already received.",
                "Return to Onramp.",
            )),
        );
    };
    let url = format!("http://127.0.0.1:{}{}", state.port, uri);
    let _ = state.tx.send(url).await;
    let _ = done.send(());
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

    #[tokio::test]
    async fn delivers_one_callback_then_closes() {
        let (_stop_tx, stop) = oneshot::channel();
        let listener = LoopbackListener::bind(0, stop).await.unwrap();
        let port = listener.port();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let favicon = client
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(favicon.status(), 404);
        let page = client
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=abc&state=xyz"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("close this tab"));
        let url = listener.next_callback().await.unwrap();
        assert_eq!(
            url,
            format!("http://127.0.0.1:{port}/callback?code=abc&state=xyz")
        );
        // The port is released shortly after.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(client
            .get(format!("http://127.0.0.1:{port}/callback"))
            .send()
            .await
            .is_err());
    }

    #[tokio::test]
    async fn busy_port_is_reported() {
        let (_a, stop_a) = oneshot::channel();
        let first = LoopbackListener::bind(0, stop_a).await.unwrap();
        let (_b, stop_b) = oneshot::channel();
        let second = LoopbackListener::bind(first.port(), stop_b).await;
        assert!(matches!(second, Err(OnrampError::PortInUse(p)) if p == first.port()));
    }

    #[tokio::test]
    async fn dropping_stop_closes_the_listener() {
        let (stop_tx, stop) = oneshot::channel::<()>();
        let listener = LoopbackListener::bind(0, stop).await.unwrap();
        drop(stop_tx);
        assert_eq!(listener.next_callback().await, None);
    }

    #[test]
    fn redirect_uri_uses_the_ip_literal() {
        assert_eq!(redirect_uri(47823), "http://127.0.0.1:47823/callback");
    }
}
