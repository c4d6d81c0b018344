//! An in-memory carrier for the runner's and the sync's tests, with fault injection. Time is
//! tokio's (paused in tests), so latencies and backoffs cost nothing.
//!
//! It is an adversary as faithful as Twilio: `find_sent` matches what Twilio can match (From,
//! To, body), not our client id, so an identical text sent earlier is a candidate too; and with
//! a listing lag an accepted message is listed only some time after it was created.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_carrier::{
    Capabilities, Carrier, CarrierAccount, CarrierError, CarrierLine, CarrierMessage,
    CarrierStatus, Changes, FetchedMedia, SendRequest, SyncCursor, TransientKind,
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
    /// The connection breaks before the carrier got the request: the outcome is unknown to
    /// the sender, but nothing was created.
    LostRequest,
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
    /// How long after it is created a message is listed by `find_sent`.
    pub listing_lag: Duration,
    /// When each message created under a listing lag is listed, in milliseconds since the
    /// carrier was made (a message not in here is listed).
    pub listed_at: HashMap<String, u64>,
    /// What [`Capabilities::settle`] answers.
    pub settle: Duration,
    /// What the next `find_sent` calls meet instead of an answer.
    pub find_faults: VecDeque<Fault>,
    /// What the next `changes` calls meet instead of an answer.
    pub changes_faults: VecDeque<Fault>,
    /// Media the carrier holds: a message's content URLs (what `media_urls` answers) and
    /// each URL's content type and bytes (what `fetch_media` answers).
    pub media_lists: HashMap<String, Vec<String>>,
    pub media: HashMap<String, (Option<String>, Vec<u8>)>,
    /// What the next `media_urls` or `fetch_media` calls meet instead of an answer.
    pub media_faults: VecDeque<Fault>,
    /// The URLs `fetch_media` was asked for, in order.
    pub media_fetched: Vec<String>,
    /// Whether `changes` also lists the messages it accepted (once each, after the listing
    /// lag), as Twilio's listing shows an account's sent messages, ours included.
    pub lists_sent: bool,
    pub listed_sent: std::collections::HashSet<String>,
    /// When `find_sent` answered, and how many candidates it gave.
    pub found: Vec<(u64, usize)>,
    /// What `clock_offset_ms` answers: how far the carrier's clock is ahead.
    pub clock_offset_ms: Option<i64>,
}

pub struct FakeCarrier {
    pub state: Mutex<FakeState>,
    pub rate: f64,
    pub latency: Duration,
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

    /// Lists what it creates only `lag` later, and says (through [`Capabilities::settle`])
    /// that a message may turn up until `settle` after its send began.
    pub fn lagging(&self, lag: Duration, settle: Duration) {
        let mut s = self.state();
        s.listing_lag = lag;
        s.settle = settle;
    }

    /// Milliseconds since the carrier was made, on tokio's clock.
    pub fn elapsed_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
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

/// What a fault answers a read (a lookup, a sync round).
fn fault_error(fault: &Fault) -> CarrierError {
    match fault {
        Fault::Timeout => CarrierError::Transient {
            kind: TransientKind::Timeout,
            retry_after: None,
            message: "timed out".into(),
        },
        Fault::Server => CarrierError::Transient {
            kind: TransientKind::Server,
            retry_after: None,
            message: "503 Service Unavailable".into(),
        },
        Fault::RateLimited(after) => CarrierError::Transient {
            kind: TransientKind::RateLimited,
            retry_after: Some(*after),
            message: "429 Too Many Requests".into(),
        },
        Fault::Permanent => CarrierError::Permanent {
            code: Some("20003".into()),
            message: "The carrier refused the request.".into(),
        },
        Fault::LostAnswer | Fault::LostRequest => CarrierError::Unknown {
            message: "the connection broke".into(),
        },
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
        num_media: 0,
        messaging_service: None,
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
            settle: self.state().settle,
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
        let now = self.elapsed_ms();
        let accept = |s: &mut FakeState| {
            let sid = format!("SM{:032x}", s.accepted.len() + 1);
            let m = message(&sid, request, CarrierStatus::Queued);
            s.accepted.push((request.client_id.clone(), m.clone()));
            if !s.listing_lag.is_zero() {
                let listed = now + s.listing_lag.as_millis() as u64;
                s.listed_at.insert(sid, listed);
            }
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
            Some(Fault::LostRequest) => Err(CarrierError::Unknown {
                message: "the connection broke".into(),
            }),
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
        let now = self.elapsed_ms();
        let mut s = self.state();
        s.find_calls += 1;
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        if let Some(fault) = s.find_faults.pop_front() {
            return Err(fault_error(&fault));
        }
        // What Twilio can match: the line, the recipient and the words, oldest first.
        let candidates: Vec<CarrierMessage> = s
            .accepted
            .iter()
            .map(|(_, m)| m)
            .filter(|m| m.from == request.from && m.to == request.to && m.body == request.body)
            .filter(|m| s.listed_at.get(&m.sid).is_none_or(|&at| at <= now))
            .cloned()
            .collect();
        s.found.push((now, candidates.len()));
        Ok(candidates)
    }

    async fn changes(&self, cursor: &SyncCursor) -> Result<Changes, CarrierError> {
        let mut s = self.state();
        s.changes_at.push(self.born.elapsed().as_millis() as u64);
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        if let Some(fault) = s.changes_faults.pop_front() {
            return Err(fault_error(&fault));
        }
        if s.lists_sent {
            let now = self.elapsed_ms();
            let listed: Vec<CarrierMessage> = s
                .accepted
                .iter()
                .map(|(_, m)| m)
                .filter(|m| !s.listed_sent.contains(&m.sid))
                .filter(|m| s.listed_at.get(&m.sid).is_none_or(|&at| at <= now))
                .cloned()
                .collect();
            for m in listed {
                s.listed_sent.insert(m.sid.clone());
                s.changes.push(m);
            }
        }
        let from = cursor.0.as_u64().unwrap_or(0) as usize;
        let messages: Vec<CarrierMessage> = s.changes.iter().skip(from).cloned().collect();
        Ok(Changes {
            cursor: SyncCursor(serde_json::json!(from + messages.len())),
            messages,
            backfill: s.history_on_first_sync && cursor.0.is_null(),
        })
    }

    fn clock_offset_ms(&self) -> Option<i64> {
        self.state().clock_offset_ms
    }

    async fn media_urls(&self, message_sid: &str) -> Result<Vec<String>, CarrierError> {
        let mut s = self.state();
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        if let Some(fault) = s.media_faults.pop_front() {
            return Err(fault_error(&fault));
        }
        Ok(s.media_lists.get(message_sid).cloned().unwrap_or_default())
    }

    async fn fetch_media(&self, url: &str) -> Result<FetchedMedia, CarrierError> {
        let mut s = self.state();
        if s.offline {
            return Err(FakeCarrier::offline_error());
        }
        if let Some(fault) = s.media_faults.pop_front() {
            return Err(fault_error(&fault));
        }
        s.media_fetched.push(url.to_owned());
        match s.media.get(url) {
            Some((content_type, bytes)) => Ok(FetchedMedia {
                content_type: content_type.clone(),
                bytes: bytes.clone(),
            }),
            None => Err(CarrierError::Permanent {
                code: Some("20404".into()),
                message: "The requested resource was not found.".into(),
            }),
        }
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
                    images: Vec::new(),
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
