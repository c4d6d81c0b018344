//! An in-memory carrier for the runner's and the sync's tests, with fault injection. Time is
//! tokio's (paused in tests), so latencies and backoffs cost nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_carrier::{
    Capabilities, Carrier, CarrierAccount, CarrierError, CarrierLine, CarrierMessage,
    CarrierStatus, Changes, SendRequest, SyncCursor, TransientKind,
};
use switchboard_core::model::{Line, E164};

use crate::compose::ComposeRequest;
use crate::testutil::engine;
use crate::{Clock, Engine, Runner, RunnerConfig};

/// What the next send call meets instead of success.
#[derive(Debug, Clone)]
pub enum Fault {
    Timeout,
    Server,
    RateLimited(Duration),
    Permanent,
    /// The carrier takes the message but the answer is lost on the way back.
    LostAnswer,
}

/// One send call as the carrier saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// Milliseconds since the carrier was made (tokio time).
    pub at: u64,
    pub to: String,
    pub body: String,
    pub client_id: String,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub offline: bool,
    pub faults: VecDeque<Fault>,
    /// Numbers refused for good (code, sentence).
    pub refuse: Vec<(String, String, String)>,
    pub calls: Vec<Call>,
    /// Messages the carrier has accepted, with their client ids.
    pub accepted: Vec<(String, CarrierMessage)>,
    /// What `changes` reports, in order; the cursor is an index into it.
    pub changes: Vec<CarrierMessage>,
    pub find_calls: usize,
    /// When `changes` was called, in milliseconds since the carrier was made.
    pub changes_at: Vec<u64>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// The account's numbers as `lines` lists them; `None` until a runner of an [`Office`]
    /// fills in its two lines.
    pub lines: Option<Vec<CarrierLine>>,
    /// When `lines` was called, in milliseconds since the carrier was made.
    pub lines_at: Vec<u64>,
    /// Whether an answer to a fresh cursor is history (a first sync), as Twilio's client says.
    pub history_on_first_sync: bool,
}

pub struct FakeCarrier {
    pub state: Mutex<FakeState>,
    pub rate: f64,
    pub latency: Duration,
    /// [`Capabilities::settle`]: 0, an ideal carrier that lists at once, unless a test says.
    pub settle: Duration,
    born: tokio::time::Instant,
}

impl FakeCarrier {
    pub fn new() -> Arc<FakeCarrier> {
        FakeCarrier::with(1.0, Duration::from_millis(100))
    }

    pub fn with(rate: f64, latency: Duration) -> Arc<FakeCarrier> {
        Arc::new(FakeCarrier {
            state: Mutex::new(FakeState::default()),
            rate,
            latency,
            settle: Duration::ZERO,
            born: tokio::time::Instant::now(),
        })
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub fn set_offline(&self, offline: bool) {
        self.state().offline = offline;
    }

    pub fn fail_next(&self, faults: &[Fault]) {
        self.state().faults.extend(faults.iter().cloned());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    pub fn accepted_bodies(&self) -> Vec<String> {
        self.state()
            .accepted
            .iter()
            .map(|(_, m)| m.body.clone())
            .collect()
    }

    /// A message the carrier already has (sent by an attempt whose answer was lost).
    pub fn already_has(&self, request: &SendRequest, sid: &str) {
        let message = message(sid, request, CarrierStatus::Sent);
        self.state()
            .accepted
            .push((request.client_id.clone(), message));
    }

    pub fn push_change(&self, m: CarrierMessage) {
        self.state().changes.push(m);
    }

    fn offline_error() -> CarrierError {
        CarrierError::Transient {
            kind: TransientKind::Offline,
            retry_after: None,
            message: "cannot reach the carrier".into(),
        }
    }
}

pub fn message(sid: &str, r: &SendRequest, status: CarrierStatus) -> CarrierMessage {
    CarrierMessage {
        sid: sid.into(),
        from: r.from.clone(),
        to: r.to.clone(),
        body: r.body.clone(),
        inbound: false,
        status,
        created_at: 0,
        error_code: None,
        error_message: None,
        media_urls: Vec::new(),
    }
}

#[async_trait]
impl Carrier for FakeCarrier {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mms: true,
            idempotency_keys: true,
            per_line_rate: self.rate,
            mms_budget: 5_000_000,
            settle: self.settle,
        }
    }

    async fn account(&self) -> Result<CarrierAccount, CarrierError> {
        Ok(CarrierAccount {
            sid: "AC-fake".into(),
            name: "Fake".into(),
        })
    }

    async fn lines(&self) -> Result<Vec<CarrierLine>, CarrierError> {
        let mut s = self.state();
        s.lines_at.push(self.born.elapsed().as_millis() as u64);
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        Ok(s.lines.clone().unwrap_or_default())
    }

    async fn rename_line(&self, _sid: &str, _label: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn send(&self, request: &SendRequest) -> Result<CarrierMessage, CarrierError> {
        {
            let mut s = self.state();
            s.calls.push(Call {
                at: self.born.elapsed().as_millis() as u64,
                to: request.to.as_str().into(),
                body: request.body.clone(),
                client_id: request.client_id.clone(),
            });
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
        }
        tokio::time::sleep(self.latency).await;
        let mut s = self.state();
        s.in_flight -= 1;
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        let fault = s.faults.pop_front();
        let accept = |s: &mut FakeState| {
            let sid = format!("SM{:032x}", s.accepted.len() + 1);
            let m = message(&sid, request, CarrierStatus::Queued);
            s.accepted.push((request.client_id.clone(), m.clone()));
            m
        };
        match fault {
            Some(Fault::Timeout) => Err(CarrierError::Transient {
                kind: TransientKind::Timeout,
                retry_after: None,
                message: "timed out".into(),
            }),
            Some(Fault::Server) => Err(CarrierError::Transient {
                kind: TransientKind::Server,
                retry_after: None,
                message: "503 Service Unavailable".into(),
            }),
            Some(Fault::RateLimited(after)) => Err(CarrierError::Transient {
                kind: TransientKind::RateLimited,
                retry_after: Some(after),
                message: "429 Too Many Requests".into(),
            }),
            Some(Fault::Permanent) => Err(CarrierError::Permanent {
                code: Some("30007".into()),
                message: "The carrier filtered the message.".into(),
            }),
            Some(Fault::LostAnswer) => {
                accept(&mut s);
                Err(CarrierError::Unknown {
                    message: "the connection broke".into(),
                })
            }
            None => {
                let refused = s
                    .refuse
                    .iter()
                    .find(|(n, _, _)| n == request.to.as_str())
                    .cloned();
                match refused {
                    Some((_, code, message)) => Err(CarrierError::Permanent {
                        code: Some(code),
                        message,
                    }),
                    None => Ok(accept(&mut s)),
                }
            }
        }
    }

    async fn find_sent(
        &self,
        request: &SendRequest,
        _started_at_ms: i64,
    ) -> Result<Vec<CarrierMessage>, CarrierError> {
        let mut s = self.state();
        s.find_calls += 1;
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        Ok(s.accepted
            .iter()
            .filter(|(client_id, _)| *client_id == request.client_id)
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn changes(&self, cursor: &SyncCursor) -> Result<Changes, CarrierError> {
        let mut s = self.state();
        s.changes_at.push(self.born.elapsed().as_millis() as u64);
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        let from = cursor.0.as_u64().unwrap_or(0) as usize;
        let messages: Vec<CarrierMessage> = s.changes.iter().skip(from).cloned().collect();
        Ok(Changes {
            cursor: SyncCursor(serde_json::json!(from + messages.len())),
            messages,
            backfill: s.history_on_first_sync && cursor.0.is_null(),
        })
    }
}

/// An engine with two lines, Sales and Support.
pub struct Office {
    pub dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    pub sales: Line,
    pub support: Line,
}

pub fn office() -> Office {
    let (dir, engine) = engine();
    let sales = engine.add_line("+14155550100", "Sales", None).unwrap();
    let support = engine.add_line("+14155550101", "Support", None).unwrap();
    Office {
        dir,
        engine: Arc::new(engine),
        sales,
        support,
    }
}

impl Office {
    /// Enqueues `body` to each of `to` from `line`, as the composer does.
    pub fn send(
        &self,
        line: &Line,
        to: &[&str],
        body: &str,
    ) -> Vec<switchboard_core::model::MessageId> {
        self.engine
            .send(
                &ComposeRequest {
                    recipients: to.iter().map(|s| s.to_string()).collect(),
                    body: body.into(),
                    image: None,
                    line: Some(line.id),
                },
                None,
            )
            .unwrap()
            .sent
            .into_iter()
            .map(|s| s.message_id)
            .collect()
    }

    pub fn runner(&self, carrier: &Arc<FakeCarrier>) -> Runner {
        self.runner_with(carrier, RunnerConfig::default())
    }

    pub fn runner_with(&self, carrier: &Arc<FakeCarrier>, config: RunnerConfig) -> Runner {
        // The carrier's account holds the office's numbers, as the start adopted them.
        carrier
            .state()
            .lines
            .get_or_insert_with(|| vec![carrier_line(&self.sales), carrier_line(&self.support)]);
        let carrier: Arc<dyn Carrier> = carrier.clone();
        Runner::start(
            self.engine.clone(),
            carrier,
            RunnerConfig {
                clock: Clock::tokio(),
                // Mid-window: 750 ms, 1.5 s, 3 s, 6 s … between attempts.
                jitter: || 0.5,
                ..config
            },
        )
        .unwrap()
    }

    pub fn status(
        &self,
        id: switchboard_core::model::MessageId,
    ) -> switchboard_core::model::MessageStatus {
        self.engine.store().get_message(id).unwrap().status
    }
}

/// A line as the carrier lists it.
pub fn carrier_line(line: &Line) -> CarrierLine {
    CarrierLine {
        sid: format!("PN{}", &line.number.as_str()[1..]),
        number: line.number.clone(),
        label: line.label.clone(),
        sms: true,
        mms: true,
    }
}

pub fn num(s: &str) -> E164 {
    E164::from_normalized(s).unwrap()
}

/// Runs `runner` in the background for `d` of (paused) tokio time, then stops it.
pub async fn run_for(runner: &Runner, d: Duration) {
    runner.run_until_stopped(tokio::time::sleep(d)).await;
}
