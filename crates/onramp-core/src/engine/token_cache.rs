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
