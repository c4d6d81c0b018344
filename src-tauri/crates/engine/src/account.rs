//! Which carrier account a data directory sends through: the embedded sandbox (the default) or
//! a Twilio account, whose Account SID and Auth Token are checked against Twilio before they
//! are kept — in the OS keychain, never in a file or a log — and whose numbers become the lines.
//! Also the S3-compatible media host that Twilio's MMS needs (Twilio fetches images from a
//! public URL), configured and kept the same way.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{
    Carrier, CarrierEndpoint, CarrierLine, MediaHost, S3Config, S3MediaHost, SandboxMediaHost,
    TwilioClient,
};
use switchboard_store::{AccountLine, LinesAdopted, SettingKey};

use crate::lines::palette_color;
use crate::{Engine, EngineError, Result};

/// Twilio's REST API.
pub const TWILIO_API_URL: &str = "https://api.twilio.com";
/// Names another address for Twilio's API: a sandbox or a mock playing Twilio, in tests.
pub const TWILIO_API_URL_ENV: &str = "SWITCHBOARD_TWILIO_API_URL";

/// Keychain entries (scoped to the data directory by [`switchboard_store::KeychainSecrets`]).
const TWILIO_SECRET: &str = "twilio credentials";
const MEDIA_HOST_SECRET: &str = "media host";

const SANDBOX: &str = "sandbox";
const TWILIO: &str = "twilio";

/// Twilio's API address: [`TWILIO_API_URL`] unless `SWITCHBOARD_TWILIO_API_URL` names another
/// one, which must use https or be on this machine: the Auth Token travels with every request.
pub fn twilio_api_url() -> String {
    match std::env::var(TWILIO_API_URL_ENV) {
        Ok(url)
            if url.starts_with("https://") || switchboard_carrier::twilio::is_loopback(&url) =>
        {
            url
        }
        Ok(url) if !url.trim().is_empty() => {
            tracing::warn!(
                "{TWILIO_API_URL_ENV} is neither https nor on this computer; using Twilio's own"
            );
            TWILIO_API_URL.to_owned()
        }
        _ => TWILIO_API_URL.to_owned(),
    }
}

/// A Twilio account's credentials. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwilioCredentials {
    pub account_sid: String,
    pub auth_token: String,
}

impl std::fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

impl TwilioCredentials {
    /// Trims what was pasted and checks its form: an Account SID is `AC` and 32 hexadecimal
    /// digits; an Auth Token is 32 hexadecimal digits.
    pub fn checked(account_sid: &str, auth_token: &str) -> Result<TwilioCredentials> {
        let sid = account_sid.trim();
        let token = auth_token.trim();
        let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !(sid.starts_with("AC") && hex32(&sid[2.min(sid.len())..])) {
            return Err(EngineError::Invalid {
                what: "Account SID",
                why: "must be \"AC\" followed by 32 letters and digits, as shown in the Twilio \
                      Console."
                    .into(),
            });
        }
        if !hex32(token) {
            return Err(EngineError::Invalid {
                what: "Auth Token",
                why: "must be the 32 letters and digits shown (after \"Show\") in the Twilio \
                      Console."
                    .into(),
            });
        }
        Ok(TwilioCredentials {
            account_sid: sid.to_owned(),
            auth_token: token.to_owned(),
        })
    }
}

/// The carrier a data directory uses, as Settings shows it. Nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AccountStatus {
    /// `sandbox` or `twilio`.
    pub carrier: String,
    /// The Twilio account's own name, when connected.
    pub account_name: Option<String>,
    /// `AC…1a2b`: enough to tell accounts apart, not the SID itself.
    pub account_hint: Option<String>,
    pub media_host: Option<MediaHostSummary>,
    /// Whether images can be sent now (the sandbox hosts them itself).
    pub images: bool,
}

/// The media host as Settings shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MediaHostSummary {
    pub endpoint: String,
    pub bucket: String,
}

/// What connecting an account did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AccountConnected {
    pub account_name: String,
    /// The account's numbers, now the lines.
    pub lines: Vec<switchboard_core::model::Line>,
    /// Lines that left (the sandbox's demo lines): their conversations stay readable.
    pub lines_left: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AccountShown {
    name: String,
    hint: String,
}

impl Engine {
    /// The carrier in use and what Settings shows of it.
    pub fn account_status(&self) -> Result<AccountStatus> {
        let carrier = self.carrier_kind()?;
        let shown: Option<AccountShown> = self.store.get_setting_as(SettingKey::CarrierAccount)?;
        let media_host: Option<MediaHostSummary> =
            self.store.get_setting_as(SettingKey::MediaHost)?;
        let twilio = carrier == TWILIO;
        Ok(AccountStatus {
            images: !twilio || media_host.is_some(),
            account_name: shown.as_ref().filter(|_| twilio).map(|s| s.name.clone()),
            account_hint: shown.filter(|_| twilio).map(|s| s.hint),
            media_host,
            carrier,
        })
    }

    /// `sandbox` or `twilio`: the one reading of the `carrier` setting.
    pub(crate) fn carrier_kind(&self) -> Result<String> {
        Ok(self
            .store
            .get_setting_as::<String>(SettingKey::Carrier)?
            .filter(|c| c == TWILIO)
            .unwrap_or_else(|| SANDBOX.to_owned()))
    }

    /// Which account the carrier in use is, for what is kept per account (the sync cursor):
    /// `sandbox`, or `twilio:AC…1a2b`.
    pub fn account_key(&self) -> Result<String> {
        let status = self.account_status()?;
        Ok(match status.account_hint {
            Some(hint) if status.carrier == TWILIO => format!("twilio:{hint}"),
            _ => status.carrier,
        })
    }

    /// Whether a Twilio account is connected (else the sandbox is used).
    pub fn uses_twilio(&self) -> Result<bool> {
        Ok(self.carrier_kind()? == TWILIO)
    }

    /// Checks the credentials with Twilio (the account must exist, answer to them and be
    /// active), keeps them in the keychain, and makes the account's numbers the lines: their
    /// FriendlyName as the label, their SMS and MMS capabilities. Lines of the account used
    /// before stay with their conversations, but nothing is sent from them any more. Nothing is
    /// kept when any step fails.
    pub async fn connect_twilio(
        &self,
        credentials: &TwilioCredentials,
        api_url: &str,
    ) -> Result<AccountConnected> {
        let client = TwilioClient::new(
            api_url,
            &credentials.account_sid,
            &credentials.auth_token,
            crate::pace::twilio_options(),
        )
        .map_err(EngineError::Carrier)?;
        let account = client.account().await.map_err(EngineError::Carrier)?;
        let lines = client.lines().await.map_err(EngineError::Carrier)?;
        if lines.is_empty() {
            return Err(EngineError::Invalid {
                what: "Twilio account",
                why: format!(
                    "\"{}\" has no phone numbers yet: buy one in the Twilio Console, then connect \
                     again.",
                    account.name
                ),
            });
        }
        let secret = serde_json::to_string(credentials).map_err(|e| EngineError::Invalid {
            what: "credentials",
            why: e.to_string(),
        })?;
        let shown = AccountShown {
            hint: format!(
                "AC…{}",
                &credentials.account_sid[credentials.account_sid.len() - 4..]
            ),
            name: account.name.clone(),
        };
        // What was kept before, to put back if a step below fails: nothing is half-connected.
        // The account is written before the lines, always: a runner of the old account reads
        // the outbox and then checks its account is still current, so it never sees the new
        // account's lines as its own (runner/mod.rs, `serves_current_account`).
        let before = (
            self.secrets.get(TWILIO_SECRET)?,
            self.store.get_setting(SettingKey::CarrierAccount)?,
            self.carrier_kind()?,
        );
        self.secrets.set(TWILIO_SECRET, &secret)?;
        let kept = self
            .store
            .set_setting(SettingKey::CarrierAccount, &serde_json::json!(shown))
            .map_err(EngineError::from)
            .and_then(|()| self.switch_carrier(TWILIO))
            .and_then(|()| self.adopt_account_lines(&lines));
        let adopted = match kept {
            Ok(adopted) => adopted,
            Err(e) => {
                let (secret, shown, carrier) = before;
                let _ = match secret {
                    Some(s) => self.secrets.set(TWILIO_SECRET, &s),
                    None => self.secrets.delete(TWILIO_SECRET).map(|_| ()),
                };
                let _ = match shown {
                    Some(v) => self.store.set_setting(SettingKey::CarrierAccount, &v),
                    None => self
                        .store
                        .remove_setting(SettingKey::CarrierAccount)
                        .map(|_| ()),
                };
                let _ = self.switch_carrier(&carrier);
                return Err(e);
            }
        };
        tracing::info!(
            lines = lines.len(),
            left = adopted.left,
            "connected a Twilio account"
        );
        let numbers: Vec<_> = lines.iter().map(|l| l.number.clone()).collect();
        Ok(AccountConnected {
            account_name: account.name,
            lines: self
                .store
                .list_lines()?
                .into_iter()
                .filter(|l| numbers.contains(&l.number))
                .collect(),
            lines_left: adopted.left,
        })
    }

    /// Forgets the Twilio account (its credentials leave the keychain) and goes back to the
    /// sandbox. Its lines and conversations stay, read-only until it is connected again: its
    /// lines leave the account at once (the sandbox's come back when it is reached), so the
    /// jobs of its lines are held — neither sent nor reconciled through the sandbox — even if
    /// the sandbox's lines cannot be fetched at the next start.
    pub fn disconnect_twilio(&self) -> Result<()> {
        self.secrets.delete(TWILIO_SECRET)?;
        self.store.remove_setting(SettingKey::CarrierAccount)?;
        self.switch_carrier(SANDBOX)?;
        self.adopt_account_lines(&[])?;
        tracing::info!("disconnected the Twilio account");
        Ok(())
    }

    /// A new carrier starts its inbound sync afresh: the old one's cursor means nothing to it.
    fn switch_carrier(&self, kind: &str) -> Result<()> {
        self.store
            .set_setting(SettingKey::Carrier, &serde_json::json!(kind))?;
        self.store.remove_setting(SettingKey::SyncCursor)?;
        Ok(())
    }

    /// The connected Twilio account's credentials, from the keychain.
    pub fn twilio_credentials(&self) -> Result<Option<TwilioCredentials>> {
        self.read_secret(
            TWILIO_SECRET,
            "Twilio credentials",
            "in the keychain can't be read: connect the account again in Settings.",
        )
    }

    /// A JSON secret from the keychain; an unreadable one is an error saying what to redo.
    fn read_secret<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        what: &'static str,
        redo: &str,
    ) -> Result<Option<T>> {
        let Some(text) = self.secrets.get(name)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| EngineError::Invalid {
                what,
                why: redo.to_owned(),
            })
    }

    /// The carrier to send through: the connected Twilio account at `twilio_api` (usually
    /// [`twilio_api_url`]) with the media host when one is configured, else the sandbox at
    /// `sandbox`.
    pub fn carrier(
        &self,
        sandbox: Option<&CarrierEndpoint>,
        twilio_api: &str,
    ) -> Result<Arc<dyn Carrier>> {
        if !self.uses_twilio()? {
            let endpoint = sandbox.ok_or_else(|| EngineError::Invalid {
                what: "sandbox",
                why: "is not running.".into(),
            })?;
            return connect(endpoint);
        }
        let credentials = self
            .twilio_credentials()?
            .ok_or_else(|| EngineError::Invalid {
                what: "Twilio account",
                why: "is connected, but its credentials are no longer in the keychain: connect it \
                  again in Settings."
                    .into(),
            })?;
        let mut options = crate::pace::twilio_options();
        // A media host that can't be used stops images, never text.
        match self.media_host_config().and_then(|c| {
            c.map(|c| S3MediaHost::new(&c, &options).map_err(EngineError::Carrier))
                .transpose()
        }) {
            Ok(host) => options.media_host = host.map(|h| Arc::new(h) as Arc<dyn MediaHost>),
            Err(e) => tracing::warn!(
                code = e.code().as_str(),
                "the media host can't be used; images wait"
            ),
        }
        let client = TwilioClient::new(
            twilio_api,
            &credentials.account_sid,
            &credentials.auth_token,
            options,
        )
        .map_err(EngineError::Carrier)?;
        Ok(Arc::new(client))
    }

    /// The carrier's numbers become the lines (see [`switchboard_store::Store::adopt_lines`]).
    pub fn adopt_account_lines(&self, lines: &[CarrierLine]) -> Result<LinesAdopted> {
        let listed: Vec<AccountLine> = lines
            .iter()
            .map(|l| AccountLine {
                number: l.number.clone(),
                label: crate::lines::fit_label(&l.label),
                carrier_sid: Some(l.sid.clone()),
                sms: l.sms,
                mms: l.mms,
            })
            .collect();
        Ok(self
            .store
            .adopt_lines(&listed, &|n| palette_color(n).to_owned())?)
    }

    /// Checks that the bucket answers to the keys, then keeps the whole configuration in the
    /// keychain. Images can be sent from Twilio lines with MMS from then on.
    pub async fn set_media_host(&self, config: &S3Config) -> Result<MediaHostSummary> {
        config.validate().map_err(|e| EngineError::Invalid {
            what: "media host:",
            why: e.to_string(),
        })?;
        let host = S3MediaHost::new(config, &crate::pace::twilio_options())
            .map_err(EngineError::Carrier)?;
        host.check().await.map_err(EngineError::Carrier)?;
        let secret = serde_json::to_string(config).map_err(|e| EngineError::Invalid {
            what: "media host",
            why: e.to_string(),
        })?;
        self.secrets.set(MEDIA_HOST_SECRET, &secret)?;
        let summary = MediaHostSummary {
            endpoint: config.endpoint.trim().to_owned(),
            bucket: config.bucket.trim().to_owned(),
        };
        self.store
            .set_setting(SettingKey::MediaHost, &serde_json::json!(summary))?;
        tracing::info!(bucket = summary.bucket, "media host configured");
        Ok(summary)
    }

    pub fn remove_media_host(&self) -> Result<()> {
        self.secrets.delete(MEDIA_HOST_SECRET)?;
        self.store.remove_setting(SettingKey::MediaHost)?;
        Ok(())
    }

    fn media_host_config(&self) -> Result<Option<S3Config>> {
        self.read_secret(
            MEDIA_HOST_SECRET,
            "media host",
            "in the keychain can't be read: set it up again in Settings.",
        )
    }

    /// Whether images can leave now: the sandbox hosts them; Twilio needs a media host.
    pub(crate) fn images_hosted(&self) -> Result<bool> {
        Ok(self.account_status()?.images)
    }
}

/// The Twilio-protocol client for `endpoint`; on the sandbox, images go to its media store.
fn connect(endpoint: &CarrierEndpoint) -> Result<Arc<dyn Carrier>> {
    let mut options = crate::pace::twilio_options();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_checked_for_form_and_never_shown() {
        let sid = "AC0123456789abcdef0123456789abcdef";
        let token = "fedcba9876543210fedcba9876543210";
        let ok = TwilioCredentials::checked(&format!(" {sid}\n"), token).unwrap();
        assert_eq!(ok.account_sid, sid);
        assert!(!format!("{ok:?}").contains(token));
        let refused = |s: &str, t: &str| TwilioCredentials::checked(s, t).unwrap_err().to_string();
        assert!(refused("SK0123456789abcdef0123456789abcdef", token).contains("Account SID"));
        assert!(refused("AC12", token).contains("Account SID"));
        assert!(refused("", token).contains("Account SID"));
        assert!(refused(sid, "secret").contains("Auth Token"));
    }
}
