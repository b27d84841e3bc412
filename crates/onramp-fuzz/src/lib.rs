//! Fuzz targets for every parser of outside input in `onramp-core`.
//!
//! Each target is a plain `fn(&[u8])` that hands the bytes to the real parser(s) and panics when an
//! invariant beyond "no panic" breaks: a parsed value must survive its own serialize → parse round
//! trip, and an error message must never carry a secret that was in the input. The driver is
//! libFuzzer (`--features libfuzzer`, built by `scripts/fuzz.sh` with coverage on stable Rust);
//! without that feature the binary replays files through a target, and the unit tests replay the
//! committed seed corpus (`corpus/<target>/`).
//!
//! Inputs that carry several fields (a status, headers, a body) are split on lines, so seeds stay
//! readable: see each target's comment for its layout.

use onramp_core::model::{ClientAuth, CustomProviderInput, KeyValue, Site};

pub mod targets;

/// A target: its name (also its corpus folder) and the function that runs one input.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order `make fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "callback_url",
        run: targets::callback_url,
    },
    Target {
        name: "loopback_request",
        run: targets::loopback_request,
    },
    Target {
        name: "token_response",
        run: targets::token_response,
    },
    Target {
        name: "accessible_resources",
        run: targets::accessible_resources,
    },
    Target {
        name: "discovery",
        run: targets::discovery,
    },
    Target {
        name: "link_header",
        run: targets::link_header,
    },
    Target {
        name: "rate_limit_headers",
        run: targets::rate_limit_headers,
    },
    Target {
        name: "error_page",
        run: targets::error_page,
    },
    Target {
        name: "gateway_error",
        run: targets::gateway_error,
    },
    Target {
        name: "team_definition",
        run: targets::team_definition,
    },
    Target {
        name: "legacy_settings",
        run: targets::legacy_settings,
    },
    Target {
        name: "nango_answer",
        run: targets::nango_answer,
    },
    Target {
        name: "preflight_answer",
        run: targets::preflight_answer,
    },
];

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Splits off the first line (without its `\n`); the rest is everything after it.
pub(crate) fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// `name: value` lines up to the first empty line, and the bytes after it (an HTTP-like layout).
pub(crate) fn headers_and_body(data: &[u8]) -> (Vec<KeyValue>, &[u8]) {
    let mut headers = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, after) = first_line(rest);
        rest = after;
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        headers.push(KeyValue {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    (headers, rest)
}

/// A status code from one byte: mostly the ones the parsers treat specially, sometimes any.
pub(crate) fn status_from(byte: u8, extra: u8) -> u16 {
    const INTERESTING: &[u16] = &[
        200, 201, 204, 301, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504,
    ];
    match INTERESTING.get(usize::from(byte) % 20) {
        Some(&s) => s,
        None => 100 + (u16::from(byte) << 2 | u16::from(extra & 3)) % 900,
    }
}

/// Panics when `text` carries `secret`: what the fuzzer reports as a crash.
pub(crate) fn assert_not_leaked(what: &str, text: &str, secret: &str) {
    assert!(
        !text.contains(secret),
        "{what} repeats a secret from its input: {secret:?} in {text:?}"
    );
}

/// A value that can only be a credential from the input, never a word of Onramp's own text: long,
/// one token, with a digit. Shorter values could appear in an error template by chance.
pub(crate) fn is_secret_like(value: &str) -> bool {
    value.len() >= 12
        && value.chars().any(|c| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// A custom provider as a discovery or a definition file describes it.
pub(crate) fn custom_input(
    authorize_url: &str,
    token_url: &str,
    issuer: &str,
) -> CustomProviderInput {
    CustomProviderInput {
        name: "Fuzzed".into(),
        authorize_url: authorize_url.into(),
        token_url: token_url.into(),
        scopes: vec!["openid".into()],
        extra_params: Vec::new(),
        client_auth: ClientAuth::Basic,
        pkce: true,
        test_call_url: Some(issuer.into()),
        issuer: Some(issuer.into()),
    }
}

pub(crate) fn site(id: &str, url: &str) -> Site {
    Site {
        id: id.into(),
        name: "site".into(),
        url: url.into(),
        scopes: Vec::new(),
        avatar_url: None,
        key: String::new(),
        products: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every committed seed passes its target: the corpus is a regression suite, and a crash
    /// input saved there (after its fix) stays fixed.
    #[test]
    fn the_seed_corpus_passes_every_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for target in TARGETS {
            let dir = root.join(target.name);
            let mut seeds = 0;
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                (target.run)(&std::fs::read(&path).unwrap());
                seeds += 1;
            }
            assert!(seeds > 0, "{} has no seed", dir.display());
        }
    }

    #[test]
    fn every_corpus_folder_is_a_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for entry in std::fs::read_dir(root).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(target(&name).is_some(), "corpus/{name} has no target");
        }
    }

    #[test]
    fn fields_split_as_documented() {
        let (headers, body) = headers_and_body(b"Link: <a>; rel=\"next\"\r\nX: 1\n\n{\"a\":1}");
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].key, "Link");
        assert_eq!(body, b"{\"a\":1}");
        assert_eq!(first_line(b"one\ntwo"), (&b"one"[..], &b"two"[..]));
        assert!((100..1000).contains(&status_from(255, 3)));
    }
}
