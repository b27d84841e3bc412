//! The process's TLS set-up: rustls with ring as its crypto provider.
//!
//! reqwest is built with `rustls-no-provider` (aws-lc-rs, its default, made the stripped binary
//! ~1 MiB larger; docs/release-profile.md), and reqwest panics when a client is built before a
//! provider is installed. So every client in Onramp is built through [`client_builder`], which
//! installs ring once per process first. Certificates are still verified by the platform verifier
//! (the system's CA store), as before.

use std::sync::Once;

/// Installs ring as rustls's process-wide crypto provider, once. Idempotent and cheap after the
/// first call; a provider installed earlier by someone else is kept.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means a provider is already installed: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `reqwest::Client::builder()`, with the crypto provider installed first.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A client with reqwest's defaults (tests, one-off requests).
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a client with reqwest's defaults builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_provider_is_ring() {
        let _ = client();
        let provider = rustls::crypto::CryptoProvider::get_default().expect("installed");
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites
                .iter()
                .map(|s| format!("{:?}", s.suite()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(provider), names(&ring));
    }

    #[tokio::test]
    async fn a_tls_handshake_fails_on_an_untrusted_certificate_not_on_a_missing_provider() {
        // A plain-HTTP listener that answers the TLS ClientHello with garbage: the client gets as far
        // as the handshake (so the provider worked) and reports a connect error, without panicking.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let err = client_builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    }
}
