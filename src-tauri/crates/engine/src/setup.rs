//! Connecting a data directory to its carrier and starting its background work, the one use
//! case the app and the CLI share: the carrier of the account in use (the connected Twilio
//! account, else the sandbox the client serves or reaches), its numbers adopted as lines (and,
//! from the sandbox into an empty address book, demo contacts, so that a new user can message at
//! once), and the outbox runner started on it. The clients only say how to reach the sandbox.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{Carrier, CarrierEndpoint, CarrierLine};
use switchboard_core::model::E164;

use crate::{twilio_api_url, Engine, EngineError, Result, Runner, RunnerConfig, RunnerError};

/// A demo contact offered by the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoContact {
    pub name: String,
    pub number: E164,
}

/// The sandbox a client serves (the app) or reaches (the CLI), for a data directory with no
/// Twilio account.
#[derive(Debug, Clone)]
pub struct SandboxAccess {
    pub endpoint: CarrierEndpoint,
    pub demo_contacts: Vec<DemoContact>,
}

/// How often the outbox lock is tried again while [`Engine::start_background`] waits for it.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// How often [`Engine::start_background_when_free`] tries the outbox lock again once its
/// patience is spent: another Switchboard (a CLI `run`, say) may send for minutes or hours, and
/// taking over within a few seconds of its end is soon enough.
pub const LOCK_RETRY_SLOW: Duration = Duration::from_secs(5);

/// What [`Engine::adopt_carrier`] added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adopted {
    pub lines: usize,
    pub demo_contacts: usize,
}

impl Engine {
    /// Connects to the account's carrier, adopts its lines and starts the outbox runner (not yet
    /// running: call [`Runner::run_until_stopped`] or [`Runner::run_once`]). `sandbox` is asked
    /// only when no Twilio account is connected. A carrier unreachable now is no reason not to
    /// start: the runner waits for it, and the lines are adopted at the next start. While
    /// another runner holds the outbox lock (the one this replaces, finishing its last sends),
    /// the lock is tried again for up to `lock_wait`, then refused with
    /// [`RunnerError::AlreadyRunning`].
    pub async fn start_background<E, F, Fut>(
        self: &Arc<Engine>,
        sandbox: F,
        lock_wait: Duration,
    ) -> std::result::Result<Runner, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<SandboxAccess, E>>,
        E: From<EngineError> + From<RunnerError>,
    {
        let (account, carrier) = self.connect_carrier(sandbox).await?;
        let config = self.runner_config()?;
        let deadline = tokio::time::Instant::now() + lock_wait;
        loop {
            match self.try_runner(&account, &carrier, &config) {
                Ok(runner) => return Ok(runner),
                Err(RunnerError::AlreadyRunning { .. })
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(LOCK_RETRY).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// [`Engine::start_background`] for a client that must send as soon as it may (the app):
    /// while another Switchboard holds the outbox lock, it keeps trying — often for `patience`
    /// (the runner it replaces finishing its last sends), then every [`LOCK_RETRY_SLOW`] — and
    /// never gives up. Once `patience` is spent it calls `held` (once) with the refusal, so the
    /// client can say that another Switchboard is sending meanwhile. Drop the future to stop
    /// waiting (the account changed, the app quits).
    pub async fn start_background_when_free<E, F, Fut>(
        self: &Arc<Engine>,
        sandbox: F,
        patience: Duration,
        mut held: impl FnMut(&RunnerError),
    ) -> std::result::Result<Runner, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<SandboxAccess, E>>,
        E: From<EngineError> + From<RunnerError>,
    {
        let (account, carrier) = self.connect_carrier(sandbox).await?;
        let config = self.runner_config()?;
        let impatient_at = tokio::time::Instant::now() + patience;
        let mut told = false;
        loop {
            match self.try_runner(&account, &carrier, &config) {
                Ok(runner) => return Ok(runner),
                Err(e @ RunnerError::AlreadyRunning { .. }) => {
                    if tokio::time::Instant::now() < impatient_at {
                        tokio::time::sleep(LOCK_RETRY).await;
                        continue;
                    }
                    if !told {
                        told = true;
                        tracing::info!("another Switchboard holds the outbox lock; waiting for it");
                        held(&e);
                    }
                    tokio::time::sleep(LOCK_RETRY_SLOW).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One try of the outbox lock for a runner of `account` on `carrier`.
    fn try_runner(
        self: &Arc<Engine>,
        account: &str,
        carrier: &Arc<dyn Carrier>,
        config: &RunnerConfig,
    ) -> std::result::Result<Runner, RunnerError> {
        Runner::start_serving(
            self.clone(),
            carrier.clone(),
            account.to_owned(),
            config.clone(),
        )
    }

    /// The account in use (see [`Engine::account_key`]: read first, so that a switch meanwhile
    /// leaves a runner that sends nothing) and its carrier (the sandbox asked only without a
    /// Twilio account), with its lines and demo contacts adopted when it answers.
    async fn connect_carrier<E, F, Fut>(
        self: &Arc<Engine>,
        sandbox: F,
    ) -> std::result::Result<(String, Arc<dyn Carrier>), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<SandboxAccess, E>>,
        E: From<EngineError>,
    {
        let account = self.account_key()?;
        let sandbox = if self.uses_twilio()? {
            None
        } else {
            Some(sandbox().await?)
        };
        let carrier = self.carrier(sandbox.as_ref().map(|s| &s.endpoint), &twilio_api_url())?;
        let demo = sandbox.map(|s| s.demo_contacts).unwrap_or_default();
        match carrier.lines().await {
            Ok(lines) => {
                if let Err(e) = self.adopt_carrier(&lines, &demo) {
                    tracing::warn!(error = %e, "the carrier's lines could not be recorded");
                }
            }
            Err(e) => tracing::info!(error = %e, "the carrier's lines could not be fetched"),
        }
        Ok((account, carrier))
    }

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
}
