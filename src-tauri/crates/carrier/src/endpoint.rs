//! Where a Twilio-protocol carrier answers, and with which account: Twilio itself, or a sandbox
//! playing it on loopback (which also has a control API).

use serde::{Deserialize, Serialize};

/// The token is a secret: `Debug` hides it and nothing logs it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierEndpoint {
    pub api_base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// Set for the sandbox: its control API (offline/online, failures, replies).
    pub sandbox_control_url: Option<String>,
}

impl std::fmt::Debug for CarrierEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierEndpoint")
            .field("api_base_url", &self.api_base_url)
            .field("account_sid", &self.account_sid)
            .field("sandbox_control_url", &self.sandbox_control_url)
            .finish_non_exhaustive()
    }
}

impl CarrierEndpoint {
    /// The API's port, to serve a sandbox on the same one after a restart.
    pub fn api_port(&self) -> Option<u16> {
        self.api_base_url
            .rsplit(':')
            .next()?
            .trim_end_matches('/')
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let endpoint = CarrierEndpoint {
            api_base_url: "http://127.0.0.1:1".into(),
            account_sid: "AC1".into(),
            auth_token: "s3cret-token".into(),
            sandbox_control_url: None,
        };
        assert!(!format!("{endpoint:?}").contains("s3cret"));
    }
}
