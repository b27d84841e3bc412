//! Links the UI may open in the system browser: documentation and console pages, the authorize URL.

use url::Url;

use crate::error::OnrampError;

/// An http(s) URL to hand to the system browser; anything else (`file:`, `javascript:`, a custom
/// scheme) is refused, so a crafted link in provider data cannot start another program.
pub fn web_link(text: &str) -> Result<Url, OnrampError> {
    let url = Url::parse(text.trim()).map_err(|e| OnrampError::invalid("link", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OnrampError::invalid(
            "link",
            "Only web links (http or https) can be opened.",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorCode;

    #[test]
    fn only_web_links_open() {
        assert_eq!(
            web_link(" https://developer.atlassian.com/console/myapps/ ")
                .unwrap()
                .as_str(),
            "https://developer.atlassian.com/console/myapps/"
        );
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "onramp://callback",
            "not a url",
        ] {
            assert_eq!(
                web_link(bad).unwrap_err().to_ui().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }
}
