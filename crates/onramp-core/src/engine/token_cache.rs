//! Access tokens this process knows are fresh, so a call is served without the refresh guard (its
//! lock file) and without a keychain read. The keychain stays the store of record: an entry is only
//! a copy of what this process read or wrote there, kept until its use margin before expiry.

use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::lifecycle::use_margin_secs;

#[derive(Default)]
pub(super) struct TokenCache {
    entries: Mutex<HashMap<String, CachedToken>>,
}

struct CachedToken {
    token: SecretString,
    /// Unix seconds; `None` when the server gave no expiry (then it is kept until replaced).
    expires_at: Option<i64>,
    lifetime: Option<i64>,
}

impl TokenCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token of `id`, if it is still outside the margin a call refreshes within.
    pub(super) fn fresh(&self, id: &str, now: i64) -> Option<SecretString> {
        let entries = self.entries();
        let cached = entries.get(id)?;
        let fresh = cached
            .expires_at
            .is_none_or(|exp| exp - use_margin_secs(cached.lifetime) > now);
        fresh.then(|| cached.token.clone())
    }

    pub(super) fn remember(
        &self,
        id: &str,
        token: &SecretString,
        expires_at: Option<i64>,
        lifetime: Option<i64>,
    ) {
        self.entries().insert(
            id.to_string(),
            CachedToken {
                token: token.clone(),
                expires_at,
                lifetime,
            },
        );
    }

    /// Drops the copy: whoever may change the tokens does this first (see `Engine::refresh_guard`).
    pub(super) fn forget(&self, id: &str) {
        self.entries().remove(id);
    }
}

/// Client secrets this process read from the keychain, each under the store's
/// `client_secret_revision` of its integration at the time (`store::Integration`).
///
/// Why a revision and not "retry after `invalid_client`": every writer of a secret (this process,
/// another window, the command line) writes the keychain first and then bumps the revision in the
/// shared SQLite file in one `BEGIN IMMEDIATE` transaction; a reader reads the record (and its
/// revision) before it reads the keychain. So a secret read after seeing revision `r` is at least
/// as new as every write that bumped to `r` or below, and a copy kept under `r` is never older
/// than what `r` stands for; any later write moves the revision on and the copy is no longer
/// served. A retry on `invalid_client` would instead depend on each server saying exactly that for
/// a wrong secret (some answer `invalid_grant` or a bare 401, which would mark the connection
/// "needs reconnect" or fail it), and would send a stale secret first. A copy is only ever filled
/// from a keychain read, never by a writer (two writers racing could otherwise leave the older
/// secret under the newer revision).
#[derive(Default)]
pub(super) struct ClientSecretCache {
    entries: Mutex<HashMap<String, (i64, SecretString)>>,
}

impl ClientSecretCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, SecretString)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The secret of `id` read under `revision`, if this process has it.
    pub(super) fn at(&self, id: &str, revision: i64) -> Option<SecretString> {
        let entries = self.entries();
        let (read_at, secret) = entries.get(id)?;
        (*read_at == revision).then(|| secret.clone())
    }

    /// Keeps `secret`, read from the keychain after the record showing `revision` was read.
    pub(super) fn remember(&self, id: &str, revision: i64, secret: &SecretString) {
        self.entries()
            .insert(id.to_string(), (revision, secret.clone()));
    }

    pub(super) fn forget(&self, id: &str) {
        self.entries().remove(id);
    }
}
