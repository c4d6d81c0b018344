//! Connecting a data directory to its carrier: the Twilio-protocol client for an endpoint (the
//! embedded sandbox today), the account's lines taken from the carrier, and — on the sandbox —
//! demo contacts, so that a new user can message at once.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{Carrier, CarrierLine, SandboxMediaHost, TwilioClient, TwilioOptions};
use switchboard_core::model::E164;

use crate::{Engine, EngineError, Result};

/// Where a Twilio-protocol carrier answers, and with which account. The token is a secret:
/// `Debug` hides it and nothing logs it.
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

/// A demo contact offered by the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoContact {
    pub name: String,
    pub number: E164,
}

/// What [`Engine::adopt_carrier`] added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adopted {
    pub lines: usize,
    pub demo_contacts: usize,
}

/// The Twilio-protocol client for `endpoint`; on the sandbox, images go to its media store.
pub fn connect(endpoint: &CarrierEndpoint) -> Result<Arc<dyn Carrier>> {
    let mut options = TwilioOptions::default();
    if endpoint.sandbox_control_url.is_some() {
        let host = SandboxMediaHost::new(
            &endpoint.api_base_url,
            &endpoint.account_sid,
            &endpoint.auth_token,
            &options,
        )
        .map_err(carrier_error)?;
        options.media_host = Some(Arc::new(host));
    }
    let client = TwilioClient::new(
        &endpoint.api_base_url,
        &endpoint.account_sid,
        &endpoint.auth_token,
        options,
    )
    .map_err(carrier_error)?;
    Ok(Arc::new(client))
}

fn carrier_error(e: switchboard_carrier::CarrierError) -> EngineError {
    EngineError::Invalid {
        what: "carrier",
        why: format!("cannot be reached: {e}"),
    }
}

impl Engine {
    /// Takes the carrier's numbers as lines (those not known yet, labelled by the carrier) and,
    /// into an empty address book, the demo contacts — marked as demo.
    pub fn adopt_carrier(&self, lines: &[CarrierLine], demo: &[DemoContact]) -> Result<Adopted> {
        let mut adopted = Adopted::default();
        let known = self.store.list_lines()?;
        for line in lines {
            if known.iter().any(|l| l.number == line.number) {
                continue;
            }
            let color = crate::lines::palette_color(known.len() + adopted.lines);
            self.store.add_line(&line.number, &line.label, color)?;
            adopted.lines += 1;
        }
        if self.store.list_contacts()?.is_empty() {
            for contact in demo {
                self.store.add_contact(
                    &contact.name,
                    std::slice::from_ref(&contact.number),
                    None,
                    true,
                )?;
                adopted.demo_contacts += 1;
            }
        }
        if adopted != Adopted::default() {
            tracing::info!(
                lines = adopted.lines,
                demo_contacts = adopted.demo_contacts,
                "adopted the carrier's account"
            );
        }
        Ok(adopted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    fn line(number: &str, label: &str) -> CarrierLine {
        CarrierLine {
            number: E164::from_normalized(number).unwrap(),
            label: label.into(),
            sms: true,
            mms: true,
        }
    }

    #[test]
    fn the_carriers_lines_and_demo_contacts_are_adopted_once() {
        let (_d, e) = engine();
        let lines = [
            line("+14155550100", "Sales"),
            line("+14155550101", "Support"),
        ];
        let demo = [DemoContact {
            name: "Ada Lovelace".into(),
            number: E164::from_normalized("+14155550123").unwrap(),
        }];
        let first = e.adopt_carrier(&lines, &demo).unwrap();
        assert_eq!(
            first,
            Adopted {
                lines: 2,
                demo_contacts: 1
            }
        );
        let again = e.adopt_carrier(&lines, &demo).unwrap();
        assert_eq!(again, Adopted::default(), "nothing is added twice");
        let labels: Vec<String> = e.lines().unwrap().into_iter().map(|l| l.label).collect();
        assert_eq!(labels, ["Sales", "Support"]);
        assert!(e.contacts().unwrap()[0].contact.demo);
    }

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
