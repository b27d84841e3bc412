//! Secrets (client secret, access token, refresh token, Nango secret key) live only in the OS keychain.
//!
//! On Linux that is the Secret Service over D-Bus (GNOME Keyring, KWallet). There is no plaintext
//! fallback: without a keychain, saving a secret fails with a clear error. Entries are stored under
//! service [`SERVICE`] and user `<integration id>/<kind>`, so `secret-tool lookup service onramp
//! username <id>/refresh_token` finds them. Calls block on D-Bus: call them from a blocking task.

use secrecy::{ExposeSecret, SecretString};

use crate::error::OnrampError;
use crate::model::KeychainStatus;

pub const SERVICE: &str = "onramp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ClientSecret,
    AccessToken,
    RefreshToken,
    /// The Nango environment secret key ("Environment API key") a connection is pushed with. Kept per
    /// integration: the key selects the Nango environment (nango-api-and-preflight.md §1.1), so two
    /// integrations may push to different environments or instances, and deleting an integration
    /// deletes its key with its other secrets.
    NangoSecretKey,
}

impl SecretKind {
    pub const ALL: [SecretKind; 4] = [
        SecretKind::ClientSecret,
        SecretKind::AccessToken,
        SecretKind::RefreshToken,
        SecretKind::NangoSecretKey,
    ];

    fn as_str(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "client_secret",
            SecretKind::AccessToken => "access_token",
            SecretKind::RefreshToken => "refresh_token",
            SecretKind::NangoSecretKey => "nango_secret_key",
        }
    }
}

/// Set once the OS keychain is the store: only then is a failed call worth a reconnect.
static OS_KEYCHAIN_IN_USE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Installs the OS keychain as the process-wide store. Call once at start-up; the error is kept and
/// shown to the user, and every later vault call fails with it.
pub fn use_os_keychain() -> Result<(), OnrampError> {
    #[cfg(target_os = "linux")]
    {
        let store = zbus_secret_service_keyring_store::Store::new()
            .map_err(|e| OnrampError::KeychainUnavailable(e.to_string()))?;
        keyring_core::set_default_store(store);
        OS_KEYCHAIN_IN_USE.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(OnrampError::KeychainUnavailable(
            "this build of Onramp only knows the Linux Secret Service".into(),
        ))
    }
}

/// Makes the OS keychain the store without connecting yet: the Secret Service connection (9–35 ms
/// of D-Bus set-up, measured in docs/benchmark.md) is opened by the first vault call, which always
/// runs on a blocking task, instead of on the main thread before the window appears. A failed
/// connection is not remembered: the next vault call tries again (the daemon may have started).
pub fn use_os_keychain_on_first_use() {
    OS_KEYCHAIN_WANTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Set by [`use_os_keychain_on_first_use`]: connect when a vault call finds no store.
static OS_KEYCHAIN_WANTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Connects the wanted OS keychain if no store is installed yet; one caller connects, the
/// others wait for it.
fn connect_wanted_os_keychain() -> Result<(), OnrampError> {
    static CONNECTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CONNECTING.lock().unwrap_or_else(|p| p.into_inner());
    if keyring_core::get_default_store().is_some() {
        return Ok(());
    }
    use_os_keychain().inspect_err(|e| tracing::warn!("keychain: {e}"))
}

/// Keeps secrets in this process's memory only, gone when it exits: the command line's CI mode,
/// where a service account's credentials come from the environment and nothing may be written.
pub fn use_process_memory_keychain() -> Result<(), OnrampError> {
    let store = keyring_core::mock::Store::new()
        .map_err(|e| OnrampError::KeychainUnavailable(e.to_string()))?;
    keyring_core::set_default_store(store);
    Ok(())
}

/// An in-memory store for tests only (keyring-core's mock, shared by the whole process). Installed
/// once: tests run in parallel, and replacing the store would drop another test's secrets.
#[cfg(any(test, feature = "test-support"))]
pub fn use_mock_keychain() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        keyring_core::set_default_store(keyring_core::mock::Store::new().expect("mock store"));
    });
}

/// How the mock keychain fails its next call on one entry (tests only).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFailure {
    /// The collection is locked (Secret Service answers "no storage access").
    Locked,
    /// The keychain daemon is gone (a D-Bus platform failure).
    DaemonGone,
}

/// Writes made to fail once, keyed `<integration id>/<kind>` (tests only).
#[cfg(any(test, feature = "test-support"))]
static FAILING_WRITES: std::sync::Mutex<Vec<(String, MockFailure)>> =
    std::sync::Mutex::new(Vec::new());

/// Makes the next write (`Vault::set`) of `<integration_id>/<kind>` fail once, as the keychain
/// would when locked or gone; reads and deletes are untouched.
#[cfg(any(test, feature = "test-support"))]
pub fn fail_next_write(integration_id: &str, kind: SecretKind, failure: MockFailure) {
    FAILING_WRITES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((format!("{integration_id}/{}", kind.as_str()), failure));
}

#[cfg(any(test, feature = "test-support"))]
fn injected_write_failure(user: &str) -> Option<keyring_core::Error> {
    let mut failing = FAILING_WRITES.lock().unwrap_or_else(|p| p.into_inner());
    let at = failing.iter().position(|(u, _)| u == user)?;
    let (_, failure) = failing.remove(at);
    Some(match failure {
        MockFailure::Locked => {
            keyring_core::Error::NoStorageAccess("the collection is locked".into())
        }
        MockFailure::DaemonGone => {
            keyring_core::Error::PlatformFailure("org.freedesktop.DBus.Error.ServiceUnknown".into())
        }
    })
}

/// Keychain reads per integration (tests only): the token cache promises to spare them.
#[cfg(any(test, feature = "test-support"))]
static READS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// How many times the keychain was read for `integration_id` (any kind of secret; tests only).
#[cfg(any(test, feature = "test-support"))]
pub fn keychain_reads(integration_id: &str) -> usize {
    let prefix = format!("{integration_id}/");
    READS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|u| u.starts_with(&prefix))
        .count()
}

#[derive(Debug, Clone, Default)]
pub struct Vault;

impl Vault {
    fn entry(
        &self,
        integration_id: &str,
        kind: SecretKind,
    ) -> Result<keyring_core::Entry, OnrampError> {
        if keyring_core::get_default_store().is_none() {
            if !OS_KEYCHAIN_WANTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(OnrampError::KeychainUnavailable(
                    "no keychain store is configured".into(),
                ));
            }
            connect_wanted_os_keychain()?;
        }
        keyring_core::Entry::new(SERVICE, &format!("{integration_id}/{}", kind.as_str()))
            .map_err(map_err)
    }

    /// Runs `op` on the entry; when the Secret Service connection fails (a platform failure: the
    /// keyring daemon restarted, so the session Onramp opened with the old one is gone), connects
    /// again and runs it once more. Without this, every keychain call would fail until Onramp
    /// restarts. A daemon that is really gone fails to connect, and the first error stands.
    fn with_entry<T>(
        &self,
        integration_id: &str,
        kind: SecretKind,
        op: impl Fn(&keyring_core::Entry) -> keyring_core::Result<T>,
    ) -> Result<T, OnrampError> {
        match op(&self.entry(integration_id, kind)?) {
            Err(keyring_core::Error::PlatformFailure(first)) => {
                if reconnect_os_keychain() {
                    tracing::info!("keychain: reconnected to the Secret Service, trying again");
                    op(&self.entry(integration_id, kind)?).map_err(map_err)
                } else {
                    Err(map_err(keyring_core::Error::PlatformFailure(first)))
                }
            }
            other => other.map_err(map_err),
        }
    }

    pub fn set(
        &self,
        integration_id: &str,
        kind: SecretKind,
        value: &SecretString,
    ) -> Result<(), OnrampError> {
        #[cfg(any(test, feature = "test-support"))]
        if let Some(e) = injected_write_failure(&format!("{integration_id}/{}", kind.as_str())) {
            self.entry(integration_id, kind)?;
            return Err(map_err(e));
        }
        self.with_entry(integration_id, kind, |entry| {
            entry.set_password(value.expose_secret())
        })
    }

    pub fn get(
        &self,
        integration_id: &str,
        kind: SecretKind,
    ) -> Result<Option<SecretString>, OnrampError> {
        #[cfg(any(test, feature = "test-support"))]
        READS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{integration_id}/{}", kind.as_str()));
        self.with_entry(integration_id, kind, |entry| match entry.get_password() {
            Ok(v) => Ok(Some(SecretString::from(v))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    pub fn delete(&self, integration_id: &str, kind: SecretKind) -> Result<(), OnrampError> {
        self.with_entry(integration_id, kind, |entry| {
            match entry.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    pub fn delete_all(&self, integration_id: &str) -> Result<(), OnrampError> {
        for kind in SecretKind::ALL {
            self.delete(integration_id, kind)?;
        }
        Ok(())
    }

    /// Writes, reads back and deletes a probe entry: the only reliable way to know that the keychain
    /// exists, is unlocked and keeps what it is given.
    pub fn probe(&self) -> KeychainStatus {
        let result = (|| {
            let value = "probe";
            self.set("probe", SecretKind::AccessToken, &SecretString::from(value))?;
            let read = self.get("probe", SecretKind::AccessToken)?;
            self.delete("probe", SecretKind::AccessToken)?;
            if read.as_ref().map(ExposeSecret::expose_secret) != Some(value) {
                return Err(OnrampError::Keychain(
                    "the keychain did not return what was stored".into(),
                ));
            }
            Ok(())
        })();
        match result {
            Ok(()) => KeychainStatus {
                available: true,
                message: None,
            },
            Err(e) => KeychainStatus {
                available: false,
                message: Some(e.to_ui().detail),
            },
        }
    }
}

/// Replaces the OS keychain store with a fresh connection. False when the OS keychain is not in use
/// (tests' in-memory store) or the Secret Service cannot be reached.
fn reconnect_os_keychain() -> bool {
    if !OS_KEYCHAIN_IN_USE.load(std::sync::atomic::Ordering::SeqCst) {
        return false;
    }
    use_os_keychain().is_ok()
}

fn map_err(e: keyring_core::Error) -> OnrampError {
    match e {
        keyring_core::Error::PlatformFailure(_) => OnrampError::KeychainUnavailable(e.to_string()),
        keyring_core::Error::NoStorageAccess(_) => {
            OnrampError::Keychain(format!("the keychain is locked or refused access ({e})"))
        }
        other => OnrampError::Keychain(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::RevealedForTests;

    #[test]
    fn round_trip_and_delete_with_the_mock_store() {
        use_mock_keychain();
        let v = Vault;
        v.set("int-v", SecretKind::RefreshToken, &"rt".into())
            .unwrap();
        assert_eq!(
            v.get("int-v", SecretKind::RefreshToken)
                .unwrap()
                .revealed()
                .as_deref(),
            Some("rt")
        );
        assert!(v.get("int-v", SecretKind::AccessToken).unwrap().is_none());
        v.delete_all("int-v").unwrap();
        assert!(v.get("int-v", SecretKind::RefreshToken).unwrap().is_none());
        assert!(v.probe().available);
    }
}
