//! Exit codes: one per kind of failure, so a CI script can tell "the integration is broken" from
//! "the network is down" without reading the text. Listed in `--help` (see `EXIT_CODES_HELP`).

use onramp_core::model::{ErrorCode, UiError};

/// Everything worked (for `check`: every call answered 2xx).
pub const OK: u8 = 0;
/// The command ran, and a call or check failed (a non-2xx answer, a site no longer listed).
pub const CHECK_FAILED: u8 = 1;
/// The command line is wrong (clap uses 2 for this too).
pub const USAGE: u8 = 2;
/// No integration has that name or id, or the name is shared by several.
pub const NOT_FOUND: u8 = 3;
/// The integration needs the wizard: not authorized, needs reconnect, no site, handed off.
pub const NEEDS_AUTHORIZATION: u8 = 4;
/// The provider or the network failed: unreachable, timeout, connection lost, 429/5xx not resolved.
pub const UNREACHABLE: u8 = 5;
/// The OS keychain is locked, missing or refused.
pub const KEYCHAIN: u8 = 6;
/// Anything else (a bad store file, an unexpected answer).
pub const OTHER: u8 = 7;

/// The end of `--help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success (check: every call answered 2xx)
  1  a call or check failed (non-2xx answer, site no longer listed)
  2  the command line is wrong
  3  no integration with that name or id (or the name is ambiguous)
  4  the integration needs the wizard (not authorized, needs reconnect, no site, handed off)
  5  the provider or network failed (unreachable, timeout, connection lost, rate limited)
  6  the OS keychain is locked, missing or refused
  7  anything else";

/// The exit code for an error the engine reported.
pub fn for_error(e: &UiError) -> u8 {
    use ErrorCode::*;
    match e.code {
        NotConnected
        | NeedsReconnect
        | NoSite
        | HandedOff
        | ClientSecretMissing
        | RefreshTokenInvalid
        | InvalidGrant
        | ServiceAccountRefused => NEEDS_AUTHORIZATION,
        Network | Timeout | ConnectionLost | RateLimited | ServerError | SandboxNotRunning => {
            UNREACHABLE
        }
        Keychain | KeychainUnavailable | TokensNotSaved => KEYCHAIN,
        UnknownIntegration => NOT_FOUND,
        InvalidInput => USAGE,
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: ErrorCode) -> UiError {
        UiError {
            code,
            title: String::new(),
            detail: String::new(),
            hint: None,
            facts: vec![],
        }
    }

    #[test]
    fn each_kind_of_failure_has_its_own_code() {
        assert_eq!(
            for_error(&error(ErrorCode::NeedsReconnect)),
            NEEDS_AUTHORIZATION
        );
        assert_eq!(
            for_error(&error(ErrorCode::NotConnected)),
            NEEDS_AUTHORIZATION
        );
        assert_eq!(for_error(&error(ErrorCode::Timeout)), UNREACHABLE);
        assert_eq!(for_error(&error(ErrorCode::ConnectionLost)), UNREACHABLE);
        assert_eq!(for_error(&error(ErrorCode::Keychain)), KEYCHAIN);
        assert_eq!(for_error(&error(ErrorCode::UnknownIntegration)), NOT_FOUND);
        assert_eq!(for_error(&error(ErrorCode::Internal)), OTHER);
        let codes = [
            OK,
            CHECK_FAILED,
            USAGE,
            NOT_FOUND,
            NEEDS_AUTHORIZATION,
            UNREACHABLE,
            KEYCHAIN,
            OTHER,
        ];
        for (i, c) in codes.iter().enumerate() {
            assert_eq!(*c as usize, i, "codes are 0..=7 in order");
            assert!(EXIT_CODES_HELP.contains(&format!("  {c}  ")));
        }
    }
}
