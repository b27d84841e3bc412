//! The OAuth 2.0 authorization-code flow: authorize URL, pending flows (state), callback parsing,
//! code exchange and refresh. Protocol mechanics come from the `oauth2` crate; the rules specific to
//! Onramp (state lifetime, single use, Atlassian's parameters, error mapping) live here.
//!
//! - `authorize`: the authorize URL, with `state` and the optional PKCE challenge;
//! - `flows`: the pending flows, by `state`;
//! - `callback`: parsing a callback and matching it to its flow;
//! - `token`: the token endpoint (code exchange, refresh).

mod authorize;
mod callback;
mod flows;
mod token;

pub use authorize::{
    build_authorize_url, openid_offline_request, AuthorizeParams, AuthorizeRequest,
};
pub use callback::{
    accept_callback, accept_callback_url, parse_callback, CallbackParams, CallbackRefusal,
    Unmatched,
};
pub use flows::{CallbackChannel, FlowRegistry, PendingFlow, FLOW_TTL};
pub use token::{
    client_credentials, connection_lost, describe_reqwest_error, exchange_code,
    read_token_response, refresh, ClientCredentials, HttpError, TokenSet,
};
