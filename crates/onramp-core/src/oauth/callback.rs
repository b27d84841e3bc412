//! The callback: its query parsed, then matched to its pending flow.

use url::Url;

use super::flows::{FlowRegistry, PendingFlow};
use crate::error::OnrampError;
use crate::now_unix;

/// The query of a callback URL: either a code or an error, with the state. Not `Debug`: the code
/// is a credential until it is exchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub fn parse_callback(callback_url: &str) -> Result<CallbackParams, OnrampError> {
    let url = Url::parse(callback_url.trim())
        .map_err(|e| OnrampError::CallbackMalformed(format!("not a URL ({e})")))?;
    let mut params = CallbackParams {
        state: None,
        code: None,
        error: None,
        error_description: None,
    };
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "state" => &mut params.state,
            "code" => &mut params.code,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OnrampError::CallbackMalformed(format!(
                "the parameter {k} appears twice"
            )));
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

/// Matches a callback to its pending flow; returns the flow and the code, or the refusal.
/// The state is checked before anything else, so a forged callback cannot even report an error.
pub fn accept_callback(
    flows: &FlowRegistry,
    params: &CallbackParams,
) -> Result<(PendingFlow, String), (Option<String>, OnrampError)> {
    let state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or((None, OnrampError::StateMismatch))?;
    let flow = flows.take(state, now_unix())?;
    if let Some(error) = &params.error {
        return Err((
            Some(flow.integration_id.clone()),
            OnrampError::AuthorizationRefused {
                error: error.clone(),
                description: params.error_description.clone(),
            },
        ));
    }
    let code = params.code.clone().unwrap_or_default();
    Ok((flow, code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorCode;
    use crate::oauth::flows::tests::flow;

    #[test]
    fn callback_with_matching_state_is_accepted_once() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        let params = parse_callback("onramp://callback?code=abc&state=s1").unwrap();
        let (f, code) = accept_callback(&flows, &params).unwrap_or_else(|_| panic!("accepted"));
        assert_eq!((f.integration_id.as_str(), code.as_str()), ("int-1", "abc"));
        // Replay of the same callback is rejected.
        let replay = accept_callback(&flows, &params);
        assert!(matches!(replay, Err((None, OnrampError::StateMismatch))));
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
            let params = parse_callback(url).unwrap();
            assert!(
                matches!(
                    accept_callback(&flows, &params),
                    Err((None, OnrampError::StateMismatch))
                ),
                "{url}"
            );
        }
        // The genuine flow is still pending after the forged attempts.
        assert_eq!(flows.sole_pending_integration().as_deref(), Some("int-1"));
    }

    #[test]
    fn expired_flow_is_rejected() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix() - 11 * 60));
        let params = parse_callback("onramp://callback?code=abc&state=s1").unwrap();
        assert!(matches!(
            accept_callback(&flows, &params),
            Err((Some(_), OnrampError::FlowExpired))
        ));
    }

    #[test]
    fn access_denied_is_reported_for_its_integration() {
        let flows = FlowRegistry::default();
        flows.begin("s1".into(), flow("int-1", now_unix()));
        let params = parse_callback(
            "http://127.0.0.1:47823/callback?error=access_denied&error_description=User%20did%20not%20authorize&state=s1",
        )
        .unwrap();
        match accept_callback(&flows, &params) {
            Err((Some(id), e @ OnrampError::AuthorizationRefused { .. })) => {
                assert_eq!(id, "int-1");
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
    }
}
