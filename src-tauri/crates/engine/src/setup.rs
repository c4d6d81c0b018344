//! Connecting a data directory to its carrier: the Twilio-protocol client for an endpoint (the
//! embedded sandbox today), the account's lines taken from the carrier, and — on the sandbox —
//! demo contacts, so that a new user can message at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{Carrier, CarrierLine, SandboxMediaHost, TwilioClient, TwilioOptions};
use switchboard_core::model::E164;
use switchboard_sandbox::{SandboxConfig, SandboxHandle};

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

/// Where a data directory's sandbox keeps its state, and its address for other processes.
pub fn sandbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox")
}

const ENDPOINT_FILE: &str = "endpoint.json";

impl CarrierEndpoint {
    /// The sandbox address written by whoever serves it (the app, or `switchboard-cli sandbox
    /// serve`), so that the CLI can steer it and a restart can reuse its port.
    pub fn endpoint_file(data_dir: &Path) -> PathBuf {
        sandbox_dir(data_dir).join(ENDPOINT_FILE)
    }

    pub fn load(data_dir: &Path) -> std::io::Result<CarrierEndpoint> {
        let text = std::fs::read_to_string(Self::endpoint_file(data_dir))?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let path = Self::endpoint_file(data_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// Where a running sandbox answers.
    pub fn of_sandbox(sandbox: &SandboxHandle) -> CarrierEndpoint {
        CarrierEndpoint {
            api_base_url: sandbox.api_base_url(),
            account_sid: sandbox.account_sid().to_owned(),
            auth_token: sandbox.auth_token().to_owned(),
            sandbox_control_url: Some(sandbox.control_url()),
        }
    }

    /// The API's port, to serve the sandbox on the same one after a restart.
    pub fn api_port(&self) -> Option<u16> {
        self.api_base_url
            .rsplit(':')
            .next()?
            .trim_end_matches('/')
            .parse()
            .ok()
    }
}

/// Serves a data directory's sandbox carrier (on its previous API port when `api_port` is
/// `None`, so that a sender that knows the address finds it again) and records its address.
pub async fn serve_sandbox(
    data_dir: &Path,
    api_port: Option<u16>,
    control_port: u16,
) -> std::io::Result<(SandboxHandle, CarrierEndpoint)> {
    let previous = CarrierEndpoint::load(data_dir)
        .ok()
        .and_then(|e| e.api_port());
    let mut config = SandboxConfig::new(sandbox_dir(data_dir));
    config.api_port = api_port.or(previous).unwrap_or(0);
    config.control_port = control_port;
    let handle = match switchboard_sandbox::serve(config.clone()).await {
        Ok(handle) => handle,
        // The old port is taken by now: any free one will do.
        Err(_) if api_port.is_none() && config.api_port != 0 => {
            config.api_port = 0;
            switchboard_sandbox::serve(config)
                .await
                .map_err(std::io::Error::other)?
        }
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let endpoint = CarrierEndpoint::of_sandbox(&handle);
    endpoint.save(data_dir)?;
    Ok((handle, endpoint))
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
pub(crate) fn connect(endpoint: &CarrierEndpoint) -> Result<Arc<dyn Carrier>> {
    let mut options = TwilioOptions::default();
    if endpoint.sandbox_control_url.is_some() {
        let host = SandboxMediaHost::new(
            &endpoint.api_base_url,
            &endpoint.account_sid,
            &endpoint.auth_token,
            &options,
        )
        .map_err(EngineError::Carrier)?;
        options.media_host = Some(Arc::new(host));
    }
    let client = TwilioClient::new(
        &endpoint.api_base_url,
        &endpoint.account_sid,
        &endpoint.auth_token,
        options,
    )
    .map_err(EngineError::Carrier)?;
    Ok(Arc::new(client))
}

impl Engine {
    /// Takes the carrier's numbers as lines (see [`Engine::adopt_account_lines`]: labels and
    /// capabilities from the carrier, numbers it no longer lists leave the account) and, into
    /// an empty address book, the demo contacts — marked as demo.
    pub fn adopt_carrier(&self, lines: &[CarrierLine], demo: &[DemoContact]) -> Result<Adopted> {
        let mut adopted = Adopted {
            lines: self.adopt_account_lines(lines)?.added,
            demo_contacts: 0,
        };
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
            sid: format!("PN{}", &number[1..]),
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
