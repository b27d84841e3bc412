//! Calls through the provider's API gateway: site discovery and test calls.
//!
//! Atlassian's 3LO tokens work only against the gateway (`https://api.atlassian.com`), with product
//! calls under `/ex/{jira|confluence}/{cloudId}`; never against `<site>.atlassian.net`.
//!
//! - `sites`: the URL of each call, and site discovery (`accessible-resources`);
//! - `send`: one request with the bearer token, and when to retry its answer;
//! - `rate_limit`: the 2026 rate-limit headers (which limit, when to retry, near the limit);
//! - `response`: the answer as the UI shows it (pagination, rate-limit headers), and `curl`.

mod rate_limit;
mod response;
mod send;
mod sites;

pub use rate_limit::{
    advice_for, parse_beta_policies, rate_limit_status, when_to_retry, BetaPolicy, RateLimitStatus,
};
pub use response::{curl_command, pagination_hint, rate_limit_headers, to_result};
pub use send::{
    header, parse_iso8601_utc, retry_delay, send_once, RawResponse, MAX_RETRY_WAIT, METHODS,
    RATE_LIMIT_RETRIES, SERVER_ERROR_RETRIES,
};
pub use sites::{
    accessible_resources_url, list_accessible_resources, merge_sites, parse_accessible_resources,
    products_of, site_key, site_matches_subdomain, test_call_url, ACCESSIBLE_RESOURCES_PATH,
};
