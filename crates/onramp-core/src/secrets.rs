//! Secrets in memory. Client secrets, access and refresh tokens, the Nango secret key, the PKCE
//! verifier and the authorization code are held in [`SecretString`] (crate `secrecy`) from the moment
//! they are read (keychain, token response, callback URL, the UI's form) until they reach the keychain
//! or the wire: `{:?}` prints `[REDACTED]`, `Display` does not exist, and the memory is zeroed on
//! drop. The value is read only through `expose_secret()`, at the few places that send or store it.

pub use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

/// Serializes an optional secret as its value. Only for what is written where the user asked for
/// the secret (the hand-off export with "include the client secret", the Nango request body).
pub fn serialize_exposed<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(s) => serializer.serialize_some(s.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// Tests compare secrets as text: `secret.revealed()`.
#[cfg(any(test, feature = "test-support"))]
pub trait RevealedForTests {
    type Text;
    fn revealed(&self) -> Self::Text;
}

#[cfg(any(test, feature = "test-support"))]
impl RevealedForTests for SecretString {
    type Text = String;
    fn revealed(&self) -> String {
        self.expose_secret().to_string()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl RevealedForTests for Option<SecretString> {
    type Text = Option<String>;
    fn revealed(&self) -> Option<String> {
        self.as_ref().map(RevealedForTests::revealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{ClientCredentials, TokenSet};

    const SECRETS: [&str; 4] = [
        "client-secret-3x7",
        "access-token-9q2",
        "refresh-token-5k8",
        "code-or-verifier-1z4",
    ];

    fn assert_no_secret(what: &str, printed: &str) {
        for s in SECRETS {
            assert!(!printed.contains(s), "{what} printed a secret: {printed}");
        }
        assert!(printed.contains("REDACTED"), "{what}: {printed}");
    }

    #[test]
    fn types_holding_secrets_never_print_them() {
        let tokens = TokenSet {
            access_token: SECRETS[1].into(),
            refresh_token: Some(SECRETS[2].into()),
            expires_at: Some(1),
            lifetime: Some(3600),
            scopes: None,
        };
        assert_no_secret("TokenSet", &format!("{tokens:?} {tokens:#?}"));

        let server = crate::oauth_error::Server::unknown();
        let secret = SecretString::from(SECRETS[0]);
        let creds = ClientCredentials {
            server: &server,
            token_url: "https://auth.example/oauth/token",
            client_id: "client-id",
            client_secret: &secret,
            auth: crate::model::ClientAuth::RequestBody,
        };
        assert_no_secret("ClientCredentials", &format!("{creds:?}"));

        let callback =
            crate::oauth::parse_callback(&format!("onramp://callback?state=s&code={}", SECRETS[3]))
                .expect("a callback");
        assert_no_secret("CallbackParams", &format!("{callback:?}"));
    }

    #[test]
    fn an_exposed_secret_is_serialized_only_where_asked() {
        #[derive(serde::Serialize)]
        struct Export {
            #[serde(serialize_with = "serialize_exposed")]
            secret: Option<SecretString>,
        }
        let json = serde_json::to_string(&Export {
            secret: Some(SECRETS[0].into()),
        })
        .unwrap();
        assert_eq!(json, format!(r#"{{"secret":"{}"}}"#, SECRETS[0]));
        let none = serde_json::to_string(&Export { secret: None }).unwrap();
        assert_eq!(none, r#"{"secret":null}"#);
    }
}
