//! Shared server state: configuration, injected faults, pending consents, codes and tokens.
//!
//! Everything lives behind one std `Mutex` that is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::util::random_token;
use crate::{Faults, SandboxConfig};

/// Consent pages and authorization codes both live 10 minutes (Atlassian staff: the code
/// "will expire after 10 mins (and maybe less)", reference §1.1).
pub(crate) const CONSENT_TTL: Duration = Duration::from_secs(600);
pub(crate) const CODE_TTL: Duration = Duration::from_secs(600);

pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`; fixed once bound.
    pub base_url: String,
    /// Names this run of the sandbox. Its grants live only in memory and end with the process, so
    /// a client that records which instance issued its tokens can tell they died in a restart.
    pub instance_id: String,
    state: Mutex<State>,
    /// The Nango look-alike's state (`crate::nango`), apart from the Atlassian side.
    pub nango: crate::nango::NangoShared,
}

impl Shared {
    pub fn new(config: SandboxConfig, base_url: String) -> Shared {
        Shared {
            base_url,
            instance_id: random_token("sbx_run_"),
            state: Mutex::new(State {
                config,
                faults: Faults::default(),
                pending: HashMap::new(),
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                refresh_count: 0,
                token_requests: 0,
                next_family: 1,
                family_sites: HashMap::new(),
            }),
            nango: Default::default(),
        }
    }

    /// Locks the state. A panic elsewhere must not take the whole sandbox down with it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An `/authorize` request waiting for the user's Accept/Cancel on the consent page.
#[derive(Debug, Clone)]
pub(crate) struct PendingConsent {
    pub redirect_uri: String,
    pub state: String,
    pub scopes: Vec<String>,
    pub pkce: Option<Pkce>,
    pub expires_at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pkce {
    pub challenge: String,
    /// `S256` or `plain` (only S256 is accepted when PKCE is enforced).
    pub method: String,
}

/// A single-use authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub pkce: Option<Pkce>,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub family: u64,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub family: u64,
    pub scopes: Vec<String>,
    /// When this token was first used (and thereby disabled); `None` while it is current.
    pub rotated_at: Option<Instant>,
}

/// A token pair (or lone access token) as handed out by the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scopes: Vec<String>,
}

/// Why an access token was refused at the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessDenied {
    Unknown,
    Expired,
}

/// Why a refresh was refused; all of them answer the same 403 `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshDenied {
    Unknown,
    /// A rotated token was reused after the leeway: the whole family is now revoked.
    ReusedAfterLeeway,
}

pub(crate) struct State {
    pub config: SandboxConfig,
    pub faults: Faults,
    pub pending: HashMap<String, PendingConsent>,
    pub codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    pub refresh_count: u64,
    /// Token requests received (any grant, counted on arrival, before any fault delays them).
    pub token_requests: u64,
    next_family: u64,
    /// Token families limited to some sites (a service account's), by cloudId; others reach all.
    family_sites: HashMap<u64, Vec<String>>,
}

impl State {
    /// Stores a consent request and returns its id (used in the consent form).
    pub fn add_pending(&mut self, pending: PendingConsent) -> String {
        let now = Instant::now();
        self.pending.retain(|_, p| p.expires_at > now);
        let id = random_token("");
        self.pending.insert(id.clone(), pending);
        id
    }

    /// Removes and returns a pending consent if it exists and has not expired.
    pub fn take_pending(&mut self, id: &str) -> Option<PendingConsent> {
        self.pending
            .remove(id)
            .filter(|p| p.expires_at > Instant::now())
    }

    pub fn add_code(&mut self, code: AuthCode) -> String {
        let now = Instant::now();
        self.codes.retain(|_, c| c.expires_at > now);
        let value = random_token("sbx_code_");
        self.codes.insert(value.clone(), code);
        value
    }

    /// Codes are single-use: any exchange attempt by an authenticated client consumes the code.
    pub fn take_code(&mut self, code: &str) -> Option<AuthCode> {
        self.codes
            .remove(code)
            .filter(|c| c.expires_at > Instant::now())
    }

    /// Starts a new token family (one per accepted consent, like Atlassian's separate flows).
    pub fn issue_new_family(&mut self, scopes: Vec<String>) -> Issued {
        let family = self.next_family;
        self.next_family += 1;
        self.issue(family, scopes)
    }

    /// A new family whose tokens reach only `sites` (cloudIds): a service account's credential.
    pub fn issue_for_sites(&mut self, scopes: Vec<String>, sites: Vec<String>) -> Issued {
        let family = self.next_family;
        self.next_family += 1;
        self.family_sites.insert(family, sites);
        self.issue(family, scopes)
    }

    /// Whether the access token reaches the site `cloud_id` (unknown tokens reach nothing).
    pub fn token_reaches(&self, token: &str, cloud_id: &str) -> bool {
        self.access.get(token).is_some_and(|t| {
            self.family_sites
                .get(&t.family)
                .is_none_or(|sites| sites.iter().any(|s| s == cloud_id))
        })
    }

    fn issue(&mut self, family: u64, scopes: Vec<String>) -> Issued {
        let now = Instant::now();
        self.access.retain(|_, t| t.expires_at > now);
        let ttl = self.config.access_token_ttl;
        let access_token = random_token("sbx_at_");
        self.access.insert(
            access_token.clone(),
            AccessToken {
                family,
                scopes: scopes.clone(),
                expires_at: now + ttl,
            },
        );
        // A refresh token only with offline_access (reference §3).
        let refresh_token = scopes.iter().any(|s| s == "offline_access").then(|| {
            let value = random_token("sbx_rt_");
            self.refresh.insert(
                value.clone(),
                RefreshToken {
                    family,
                    scopes: scopes.clone(),
                    rotated_at: None,
                },
            );
            value
        });
        Issued {
            access_token,
            refresh_token,
            expires_in: ttl.as_secs(),
            scopes,
        }
    }

    /// Rotating refresh (reference §3): each use returns a new pair and disables the used token.
    /// A disabled token reused within the leeway still yields a new pair; reused later, it
    /// revokes every token of its family.
    pub fn refresh(&mut self, token: &str) -> Result<Issued, RefreshDenied> {
        let now = Instant::now();
        let leeway = self.config.refresh_reuse_leeway;
        let entry = self.refresh.get_mut(token).ok_or(RefreshDenied::Unknown)?;
        let (family, scopes) = (entry.family, entry.scopes.clone());
        match entry.rotated_at {
            None => entry.rotated_at = Some(now),
            Some(at) => {
                let within = !leeway.is_zero() && now.duration_since(at) <= leeway;
                if !within {
                    self.revoke_family(family);
                    return Err(RefreshDenied::ReusedAfterLeeway);
                }
            }
        }
        Ok(self.issue(family, scopes))
    }

    /// Checks an access token and returns its scopes.
    pub fn check_access(&self, token: &str) -> Result<Vec<String>, AccessDenied> {
        let entry = self.access.get(token).ok_or(AccessDenied::Unknown)?;
        if entry.expires_at <= Instant::now() {
            return Err(AccessDenied::Expired);
        }
        Ok(entry.scopes.clone())
    }

    fn revoke_family(&mut self, family: u64) {
        self.access.retain(|_, t| t.family != family);
        self.refresh.retain(|_, t| t.family != family);
    }

    pub fn revoke_all(&mut self) {
        self.access.clear();
        self.refresh.clear();
    }

    /// Every access token expires now; refresh tokens stay valid (a client that slept past expiry).
    pub fn expire_access_tokens(&mut self) {
        self.access.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leeway: Duration) -> State {
        let shared = Shared::new(
            SandboxConfig {
                refresh_reuse_leeway: leeway,
                ..SandboxConfig::default()
            },
            "http://127.0.0.1:1".into(),
        );
        shared.state.into_inner().unwrap()
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn refresh_token_only_with_offline_access() {
        let mut s = state(Duration::from_secs(600));
        assert!(s
            .issue_new_family(scopes(&["read:me"]))
            .refresh_token
            .is_none());
        let issued = s.issue_new_family(scopes(&["read:me", "offline_access"]));
        assert!(issued.refresh_token.unwrap().starts_with("sbx_rt_"));
        assert!(issued.access_token.starts_with("sbx_at_"));
    }

    #[test]
    fn reuse_after_leeway_revokes_the_family_but_not_others() {
        let mut s = state(Duration::ZERO);
        let first = s.issue_new_family(scopes(&["offline_access", "read:me"]));
        let other = s.issue_new_family(scopes(&["offline_access", "read:me"]));
        let rt1 = first.refresh_token.unwrap();
        let second = s.refresh(&rt1).unwrap();
        assert_eq!(
            s.refresh(&rt1).unwrap_err(),
            RefreshDenied::ReusedAfterLeeway
        );
        assert_eq!(
            s.refresh(&second.refresh_token.unwrap()).unwrap_err(),
            RefreshDenied::Unknown
        );
        assert_eq!(
            s.check_access(&second.access_token),
            Err(AccessDenied::Unknown)
        );
        assert!(s.check_access(&other.access_token).is_ok());
        assert!(s.refresh(&other.refresh_token.unwrap()).is_ok());
    }

    #[test]
    fn expired_access_token_is_refused() {
        let mut s = state(Duration::ZERO);
        s.config.access_token_ttl = Duration::ZERO;
        let issued = s.issue_new_family(scopes(&["read:me"]));
        assert_eq!(
            s.check_access(&issued.access_token),
            Err(AccessDenied::Expired)
        );
    }

    #[test]
    fn expired_codes_and_consents_are_gone() {
        let mut s = state(Duration::ZERO);
        let past = Instant::now() - Duration::from_secs(1);
        let code = s.add_code(AuthCode {
            client_id: "c".into(),
            redirect_uri: "r".into(),
            scopes: vec![],
            pkce: None,
            expires_at: past,
        });
        assert!(code.starts_with("sbx_code_"));
        assert!(s.take_code(&code).is_none());
        let id = s.add_pending(PendingConsent {
            redirect_uri: "r".into(),
            state: "s".into(),
            scopes: vec![],
            pkce: None,
            expires_at: past,
        });
        assert!(s.take_pending(&id).is_none());
    }
}
