//! The callback: its query parsed, then matched to its pending flow.

use secrecy::SecretString;
use url::Url;

use super::flows::{CallbackChannel, FlowRegistry, PendingFlow, TakeRefused};
use crate::error::OnrampError;
use crate::now_unix;

/// The query of a callback URL: either a code or an error, with the state, and the address it came
/// to. The code is a credential until it is exchanged: it is a `SecretString`, so `{:?}` shows
/// `[REDACTED]` for it.
#[derive(Debug, Clone)]
pub struct CallbackParams {
    /// The callback URL without its query and fragment, compared with the flow's redirect URI.
    pub address: String,
    pub state: Option<String>,
    pub code: Option<SecretString>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub fn parse_callback(callback_url: &str) -> Result<CallbackParams, OnrampError> {
    let url = Url::parse(callback_url.trim())
        .map_err(|e| OnrampError::CallbackMalformed(format!("not a URL ({e})")))?;
    let mut address = url.clone();
    address.set_query(None);
    address.set_fragment(None);
    let mut params = CallbackParams {
        address: address.into(),
        state: None,
        code: None,
        error: None,
        error_description: None,
    };
    for (k, v) in url.query_pairs() {
        let twice = || OnrampError::CallbackMalformed(format!("the parameter {k} appears twice"));
        if k == "code" {
            if params.code.is_some() {
                return Err(twice());
            }
            params.code = Some(SecretString::from(v.into_owned()));
            continue;
        }
        let slot = match k.as_ref() {
            "state" => &mut params.state,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            _ => continue,
        };
        if slot.is_some() {
            return Err(twice());
        }
        *slot = Some(v.into_owned());
    }
    if params.code.is_none() && params.error.is_none() {
        return Err(OnrampError::CallbackMalformed(
            "it carries neither a code nor an error".into(),
        ));
    }
    Ok(params)
}

/// Why a callback was not accepted.
#[derive(Debug)]
pub enum CallbackRefusal {
    /// It matched no flow waiting on its channel and address: it is ignored, and every flow still
    /// waiting keeps waiting (a stray or forged callback must not end or alarm the genuine flow).
    Unmatched(Unmatched),
    /// It was the callback of this integration's flow, which it ends: the flow had expired, or the
    /// provider sent an error (`access_denied`…) instead of a code.
    Ended {
        integration_id: String,
        error: OnrampError,
    },
}

/// Why a callback matched no pending flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// Unreadable: not a URL, a parameter twice, neither a code nor an error.
    Malformed(String),
    /// No state, or a state no flow waits for (unknown, used, replaced, lost in a restart).
    UnknownState,
    /// The state is pending, but the callback came through another channel or to another address
    /// than the redirect URI that flow sent.
    WrongAddress,
}

impl Unmatched {
    /// For the log (no URL, no state: only the kind of refusal).
    pub fn describe(&self) -> &'static str {
        match self {
            Unmatched::Malformed(_) => "unreadable",
            Unmatched::UnknownState => "its state matches no authorization in progress",
            Unmatched::WrongAddress => {
                "it came through another channel or to another address than the redirect URI"
            }
        }
    }

    /// What a window that was not waiting for anything is told (the cold-start notice).
    pub fn to_error(&self) -> OnrampError {
        match self {
            Unmatched::Malformed(why) => OnrampError::CallbackMalformed(why.clone()),
            Unmatched::UnknownState | Unmatched::WrongAddress => OnrampError::StateMismatch,
        }
    }
}

/// Matches a callback that came through `channel` to its pending flow; returns the flow and the
/// code, or the refusal. The state, channel and address are checked before anything else, so a
/// forged callback can neither report an error for a flow nor use up its state.
pub fn accept_callback(
    flows: &FlowRegistry,
    params: &CallbackParams,
    channel: CallbackChannel,
) -> Result<(PendingFlow, SecretString), CallbackRefusal> {
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(CallbackRefusal::Unmatched(Unmatched::UnknownState))?;
    let flow = flows
        .take(state, channel, &params.address, now_unix())
        .map_err(|refused| match refused {
            TakeRefused::UnknownState => CallbackRefusal::Unmatched(Unmatched::UnknownState),
            TakeRefused::WrongAddress => CallbackRefusal::Unmatched(Unmatched::WrongAddress),
            TakeRefused::Expired { integration_id } => CallbackRefusal::Ended {
                integration_id,
                error: OnrampError::FlowExpired,
            },
        })?;
    if let Some(error) = &params.error {
        return Err(CallbackRefusal::Ended {
            integration_id: flow.integration_id.clone(),
            error: OnrampError::AuthorizationRefused {
                error: error.clone(),
                description: params.error_description.clone(),
            },
        });
    }
    let code = params.code.clone().unwrap_or_default();
    Ok((flow, code))
}

/// Parses and matches in one go (a callback URL as it arrived through `channel`).
pub fn accept_callback_url(
    flows: &FlowRegistry,
    callback_url: &str,
    channel: CallbackChannel,
) -> Result<(PendingFlow, SecretString), CallbackRefusal> {
    let params = parse_callback(callback_url).map_err(|e| {
        let why = match e {
            OnrampError::CallbackMalformed(why) => why,
            other => other.to_string(),
        };
        CallbackRefusal::Unmatched(Unmatched::Malformed(why))
    })?;
    accept_callback(flows, &params, channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorCode;
    use crate::oauth::flows::tests::flow;
    use secrecy::ExposeSecret;

    const DEEP: CallbackChannel = CallbackChannel::DeepLink;

    fn accept(
        flows: &FlowRegistry,
        url: &str,
        channel: CallbackChannel,
    ) -> Result<(PendingFlow, SecretString), CallbackRefusal> {
        accept_callback_url(flows, url, channel)
    }

    fn unmatched(
        result: Result<(PendingFlow, SecretString), CallbackRefusal>,
    ) -> Option<Unmatched> {
        match result {
            Err(CallbackRefusal::Unmatched(why)) => Some(why),
            _ => None,
        }
    }

    #[test]
    fn callback_with_matching_state_is_accepted_once() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        let url = "onramp://callback?code=abc&state=s1";
        let (f, code) = accept(&flows, url, DEEP).unwrap_or_else(|_| panic!("accepted"));
        assert_eq!(
            (f.integration_id.as_str(), code.expose_secret()),
            ("int-1", "abc")
        );
        // Replay of the same callback is rejected.
        assert_eq!(
            unmatched(accept(&flows, url, DEEP)),
            Some(Unmatched::UnknownState)
        );
    }

    #[test]
    fn callback_with_wrong_or_missing_state_is_rejected() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        for url in [
            "onramp://callback?code=abc&state=other",
            "onramp://callback?code=abc",
            "onramp://callback?code=abc&state=",
        ] {
            assert_eq!(
                unmatched(accept(&flows, url, DEEP)),
                Some(Unmatched::UnknownState),
                "{url}"
            );
        }
        // The genuine flow is still pending after the forged attempts.
        assert_eq!(flows.pending_integrations(), vec!["int-1".to_string()]);
    }

    #[test]
    fn the_right_state_on_another_path_or_channel_is_refused_and_keeps_the_flow() {
        let flows = FlowRegistry::default();
        let port = 47823;
        flows.begin(
            "s1".into(),
            PendingFlow {
                redirect_uri: format!("http://127.0.0.1:{port}/callback"),
                channel: CallbackChannel::Loopback { port },
                ..flow("int-1", now_unix())
            },
        );
        let lo = CallbackChannel::Loopback { port };
        for (url, channel) in [
            // The defect seen: a deep link finished a loopback flow.
            ("onramp://other-path?code=abc&state=s1", DEEP),
            ("onramp://callback?code=abc&state=s1", DEEP),
            // The loopback URL itself, but handed over by the OS.
            ("http://127.0.0.1:47823/callback?code=abc&state=s1", DEEP),
            ("http://127.0.0.1:47823/other?code=abc&state=s1", lo),
            ("http://127.0.0.1:47823/callback/?code=abc&state=s1", lo),
            ("http://127.0.0.1:47824/callback?code=abc&state=s1", lo),
            (
                "http://127.0.0.1:47823/callback?code=abc&state=s1",
                CallbackChannel::Loopback { port: 47824 },
            ),
            // Even a provider error on the wrong address does not end the flow.
            ("onramp://callback?error=access_denied&state=s1", DEEP),
        ] {
            assert_eq!(
                unmatched(accept(&flows, url, channel)),
                Some(Unmatched::WrongAddress),
                "{url} via {channel:?}"
            );
        }
        let (f, code) = accept(
            &flows,
            "http://127.0.0.1:47823/callback?code=abc&state=s1",
            lo,
        )
        .unwrap_or_else(|_| panic!("the genuine callback is still accepted"));
        assert_eq!(
            (f.integration_id.as_str(), code.expose_secret()),
            ("int-1", "abc")
        );
    }

    #[test]
    fn expired_flow_is_rejected() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix() - 11 * 60));
        assert!(matches!(
            accept(&flows, "onramp://callback?code=abc&state=s1", DEEP),
            Err(CallbackRefusal::Ended {
                error: OnrampError::FlowExpired,
                ..
            })
        ));
    }

    #[test]
    fn access_denied_is_reported_for_its_integration() {
        let flows = FlowRegistry::default();
        flows.begin(
            "s1".into(),
            PendingFlow {
                redirect_uri: "http://127.0.0.1:47823/callback".into(),
                channel: CallbackChannel::Loopback { port: 47823 },
                ..flow("int-1", now_unix())
            },
        );
        match accept(
            &flows,
            "http://127.0.0.1:47823/callback?error=access_denied&error_description=User%20did%20not%20authorize&state=s1",
            CallbackChannel::Loopback { port: 47823 },
        ) {
            Err(CallbackRefusal::Ended {
                integration_id,
                error: e @ OnrampError::AuthorizationRefused { .. },
            }) => {
                assert_eq!(integration_id, "int-1");
                assert_eq!(e.to_ui().code, ErrorCode::AccessDenied);
                assert!(e.to_ui().detail.contains("User did not authorize"));
            }
            _ => panic!("expected access_denied"),
        }
    }

    #[test]
    fn malformed_callbacks_are_explained() {
        assert!(matches!(
            parse_callback("not a url"),
            Err(OnrampError::CallbackMalformed(_))
        ));
        assert!(matches!(
            parse_callback("onramp://callback?state=s"),
            Err(OnrampError::CallbackMalformed(_))
        ));
        assert!(matches!(
            parse_callback("onramp://callback?code=a&code=b&state=s"),
            Err(OnrampError::CallbackMalformed(_))
        ));
        let flows = FlowRegistry::default();
        flows.begin("s".into(), flow("int-1", now_unix()));
        assert!(matches!(
            unmatched(accept(&flows, "onramp://callback?state=s", DEEP)),
            Some(Unmatched::Malformed(_))
        ));
        assert_eq!(flows.pending_integrations(), vec!["int-1".to_string()]);
    }

    #[test]
    fn the_address_is_the_url_without_query_and_fragment() {
        let p = parse_callback("onramp://callback?code=a&state=s#frag").unwrap();
        assert_eq!(p.address, "onramp://callback");
        let p = parse_callback("http://127.0.0.1:47823/callback?code=a").unwrap();
        assert_eq!(p.address, "http://127.0.0.1:47823/callback");
    }
}
