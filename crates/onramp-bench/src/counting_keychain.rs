//! A keychain store that counts what the engine asks of the store it wraps (the in-memory one or the
//! Secret Service), so the benchmark can say how many keychain operations a flow makes.

use keyring_core::api::{CredentialApi, CredentialPersistence, CredentialStoreApi};
use keyring_core::{CredentialStore, Entry, Result};
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
pub struct Counts {
    reads: AtomicUsize,
    writes: AtomicUsize,
    deletes: AtomicUsize,
}

/// Reads, writes and deletes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub reads: usize,
    pub writes: usize,
    pub deletes: usize,
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, before: Snapshot) -> Snapshot {
        Snapshot {
            reads: self.reads - before.reads,
            writes: self.writes - before.writes,
            deletes: self.deletes - before.deletes,
        }
    }
}

impl Counts {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            reads: self.reads.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            deletes: self.deletes.load(Ordering::SeqCst),
        }
    }
}

/// Puts a counting wrapper around the process's keychain store (installed by the engine's vault).
pub fn wrap_default_store() -> Arc<Counts> {
    let inner = keyring_core::get_default_store().expect("a keychain store is installed");
    let counts = Arc::new(Counts::default());
    keyring_core::set_default_store(Arc::new(CountingStore {
        inner,
        counts: counts.clone(),
    }));
    counts
}

struct CountingStore {
    inner: Arc<CredentialStore>,
    counts: Arc<Counts>,
}

impl CredentialStoreApi for CountingStore {
    fn vendor(&self) -> String {
        self.inner.vendor()
    }

    fn id(&self) -> String {
        format!("counting {}", self.inner.id())
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        let entry = self.inner.build(service, user, modifiers)?;
        Ok(Entry::new_with_credential(Arc::new(CountingCredential {
            entry,
            counts: self.counts.clone(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn persistence(&self) -> CredentialPersistence {
        self.inner.persistence()
    }
}

struct CountingCredential {
    entry: Entry,
    counts: Arc<Counts>,
}

impl CredentialApi for CountingCredential {
    fn set_password(&self, password: &str) -> Result<()> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.entry.set_password(password)
    }

    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.entry.set_secret(secret)
    }

    fn get_password(&self) -> Result<String> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.entry.get_password()
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.entry.get_secret()
    }

    fn delete_credential(&self) -> Result<()> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.entry.delete_credential()
    }

    fn get_credential(&self) -> Result<Option<Arc<keyring_core::api::Credential>>> {
        // The wrapped entry stands for itself: counting goes on through this wrapper.
        self.entry.get_credential().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        self.entry.get_specifiers()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
