//! The shell asks for the OS keychain at start-up without connecting to it
//! (`vault::use_os_keychain_on_first_use`): the first vault call connects. Its own test binary,
//! because the keychain store is process-wide and every other test installs the in-memory one.

use onramp_core::vault::{self, SecretKind, Vault};
use onramp_core::OnrampError;

#[test]
fn the_first_vault_call_connects_and_an_unreachable_keychain_is_reported_on_every_call() {
    // No Secret Service at this address: connecting must fail, and say so.
    // This binary's only test, before any thread that reads the environment.
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/onramp-bus",
    );

    let before = Vault.get("int-lazy", SecretKind::RefreshToken).unwrap_err();
    assert!(
        before
            .to_string()
            .contains("no keychain store is configured"),
        "nothing asked for a keychain yet: {before}"
    );

    vault::use_os_keychain_on_first_use();
    for attempt in 0..2 {
        let err = Vault.get("int-lazy", SecretKind::RefreshToken).unwrap_err();
        assert!(
            matches!(err, OnrampError::KeychainUnavailable(_)),
            "attempt {attempt}: {err:?}"
        );
        assert!(
            !err.to_string().contains("no keychain store is configured"),
            "attempt {attempt} tried to connect to the Secret Service: {err}"
        );
    }
    let saved = Vault.set(
        "int-lazy",
        SecretKind::RefreshToken,
        &"rt".to_string().into(),
    );
    assert!(
        matches!(saved, Err(OnrampError::KeychainUnavailable(_))),
        "a secret is never kept anywhere else: {saved:?}"
    );
}
