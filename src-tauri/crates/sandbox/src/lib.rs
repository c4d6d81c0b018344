//! The embedded sandbox carrier: a Twilio-compatible server on loopback (the subset of the 2010
//! Messages and IncomingPhoneNumbers API that the Twilio client speaks) with demo lines and
//! contacts, delivery progression, simulated replies, and faults on demand. The app uses it so a
//! new user has a working messenger through the same HTTP code path as Twilio; tests use it as a
//! stateful fake that can go offline for real (its listener closes).
//!
//! Two listeners: the API (Twilio's paths plus `/_sandbox/media`), which goes away while the
//! sandbox is offline and comes back on the same port, and an always-on control listener
//! (`/_sandbox/…`) that mirrors [`SandboxHandle`] for a sandbox running in another process.
//!
//! It is a faithful adversary rather than an ideal carrier: besides the faults it can be told
//! to inject ([`Failure`]), it can take on real Twilio's habits ([`Quirks`]: listing lag,
//! late media counts, trial bodies, a skewed clock), and fill a busy day ([`SandboxHandle::flood`]).

mod api;
mod control;
mod endpoint;
mod faults;
mod flood;
mod inbound;
mod listing;
mod optouts;
mod quirks;
mod state;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

pub use endpoint::{endpoint_file, load_endpoint, sandbox_dir, serve_sandbox};
pub use faults::{Failure, ServerStatus};
pub use flood::{Flooded, MAX_FLOOD};
pub use inbound::{demo_photos, ReplyMedia, MAX_REPLY_MEDIA, MAX_REPLY_MEDIA_BYTES};
pub use quirks::{Quirks, QuirksChange, TRIAL_PREFIX};
pub use state::{DemoContact, MessageMedia, SandboxLine, SandboxMessage};

use faults::Faults;
use state::Store;

/// The account the sandbox answers to unless told otherwise.
pub const DEFAULT_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
/// Shaped like a Twilio Auth Token (32 hexadecimal digits), so that the sandbox can also play a
/// customer's Twilio account when Switchboard is pointed at it (`SWITCHBOARD_TWILIO_API_URL`).
pub const DEFAULT_AUTH_TOKEN: &str = "5a4db0c5a4db0c5a4db0c5a4db0c5a4d";

/// How fast the simulated world moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delays {
    /// From `queued` to `sent`.
    pub sent: Duration,
    /// From `sent` to `delivered`.
    pub delivered: Duration,
    /// How long a demo contact takes to answer a message; `None`: demo contacts never answer.
    pub reply: Option<Duration>,
}

impl Default for Delays {
    fn default() -> Self {
        Delays {
            sent: Duration::from_millis(800),
            delivered: Duration::from_millis(1500),
            reply: Some(Duration::from_secs(4)),
        }
    }
}

#[derive(Clone)]
pub struct SandboxConfig {
    /// Where the state file and uploaded media live; created if missing.
    pub data_dir: PathBuf,
    /// Port of the Twilio API on 127.0.0.1; 0 picks a free one. Give the previous port to keep
    /// the URL a client already has across a restart.
    pub api_port: u16,
    /// Port of the control API on 127.0.0.1; 0 picks a free one.
    pub control_port: u16,
    pub account_sid: String,
    pub auth_token: String,
    pub delays: Delays,
}

impl SandboxConfig {
    /// The demo account on random ports, with the default delays.
    pub fn new(data_dir: impl Into<PathBuf>) -> SandboxConfig {
        SandboxConfig {
            data_dir: data_dir.into(),
            api_port: 0,
            control_port: 0,
            account_sid: DEFAULT_ACCOUNT_SID.into(),
            auth_token: DEFAULT_AUTH_TOKEN.into(),
            delays: Delays::default(),
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    // By hand, so that the auth token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("data_dir", &self.data_dir)
            .field("api_port", &self.api_port)
            .field("control_port", &self.control_port)
            .field("account_sid", &self.account_sid)
            .field("delays", &self.delays)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox couldn't listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the sandbox couldn't {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the sandbox's state file {path} is damaged: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0} is not one of the sandbox's lines")]
    UnknownLine(E164),
    #[error("{0}")]
    InvalidQuirk(String),
    #[error("a flood makes from 1 to {max} messages, not {asked}", max = MAX_FLOOD)]
    FloodSize { asked: u32 },
    #[error("the sandbox account has no line that can send SMS, so there is no one to flood")]
    NoLines,
    /// Too many media items, or too many bytes, for one message.
    #[error("{0}")]
    Media(String),
}

/// Statistics the control API reports (`GET /_sandbox/stats`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub online: bool,
    /// Messages accepted through `POST Messages.json`, ever (restarts included).
    pub received_count: u64,
    /// Messages the carrier holds, sent and received.
    pub messages: usize,
    /// Requests to the Twilio API listener since this sandbox started, whatever their answer
    /// (refused credentials, faults and unknown paths included): what a client's poll costs.
    pub api_requests: u64,
    pub api_base_url: String,
}

/// A running server on 127.0.0.1 and the means to stop it.
struct RunningServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningServer {
    fn start(listener: TcpListener, router: axum::Router) -> RunningServer {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "sandbox listener stopped");
            }
        });
        RunningServer { stop, task }
    }

    /// Closes the listener at once, then lets open connections finish briefly.
    async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Everything the servers, the background tasks and the handle share.
pub(crate) struct Shared {
    account_sid: String,
    auth_token: String,
    delays: Delays,
    store: Store,
    faults: Mutex<Faults>,
    /// In memory only: a restarted sandbox behaves ideally until told otherwise.
    quirks: Mutex<Quirks>,
    /// Every request to the API listener since start ([`Stats::api_requests`]).
    pub(crate) api_requests: AtomicU64,
    api_addr: SocketAddr,
    online: AtomicBool,
    api_server: tokio::sync::Mutex<Option<RunningServer>>,
    /// Bumped when the API goes away, so requests held by [`Failure::Timeout`] end.
    release: watch::Sender<u64>,
    tasks: Mutex<JoinSet<()>>,
    /// Fetches `MediaUrl`s on this machine, made at the first one (most runs never need it).
    pub(crate) media_fetcher: std::sync::OnceLock<reqwest::Client>,
}

impl Shared {
    fn api_base_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Runs `future` in the background until it ends or the sandbox shuts down.
    fn spawn(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // Reap what has finished so the set does not grow with every message.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(future);
    }

    async fn set_online(self: &Arc<Self>, online: bool) -> Result<(), SandboxError> {
        let mut server = self.api_server.lock().await;
        if online && server.is_none() {
            let listener = bind(self.api_addr.port()).await?;
            *server = Some(RunningServer::start(listener, api::router(self.clone())));
        } else if !online {
            if let Some(running) = server.take() {
                self.release.send_modify(|n| *n += 1);
                running.stop().await;
            }
        }
        self.online.store(online, Ordering::SeqCst);
        tracing::info!(online, "sandbox carrier");
        Ok(())
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail_next(&self, count: u32, failure: Failure, sends_only: bool) {
        self.faults().push(count, failure, sends_only);
    }

    fn take_failure(&self, is_send: bool) -> Option<Failure> {
        self.faults().take(is_send)
    }

    fn fail_number(&self, number: E164, code: Option<u32>) {
        self.faults().fail_number(number, code);
    }

    fn number_failure(&self, number: &E164) -> Option<u32> {
        self.faults().number_failure(number)
    }

    /// The quirks in force now.
    pub(crate) fn quirks(&self) -> Quirks {
        *self.quirks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change_quirks(&self, change: &QuirksChange) -> Result<Quirks, SandboxError> {
        let mut quirks = self.quirks.lock().unwrap_or_else(|e| e.into_inner());
        *quirks = change.apply(*quirks).map_err(SandboxError::InvalidQuirk)?;
        tracing::info!(quirks = ?*quirks, "sandbox quirks");
        Ok(*quirks)
    }

    /// The sandbox's clock (this computer's, shifted by the clock skew), in whole seconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.quirks().now_ms()
    }

    fn stats(&self) -> Stats {
        let (received_count, messages) = self.store.read(|s| (s.received_count, s.messages.len()));
        Stats {
            online: self.online.load(Ordering::SeqCst),
            received_count,
            messages,
            api_requests: self.api_requests.load(Ordering::Relaxed),
            api_base_url: self.api_base_url(),
        }
    }

    /// A person (`from`) writes to one of the lines, dated `at_ms` (now by default), to the
    /// second as Twilio dates, with `media` attached (an MMS, `MM…`, whose items are kept with
    /// the sandbox's media and served behind the account's credentials).
    fn receive(
        &self,
        from: &E164,
        to_line: &E164,
        body: &str,
        media: &[ReplyMedia],
        at_ms: Option<i64>,
    ) -> Result<SandboxMessage, SandboxError> {
        if let Some(sentence) = inbound::check(media) {
            return Err(SandboxError::Media(sentence));
        }
        if self.store.read(|s| s.line(to_line).is_none()) {
            return Err(SandboxError::UnknownLine(to_line.clone()));
        }
        let at = at_ms.map_or_else(|| self.now_ms(), quirks::whole_second);
        let mut stored = Vec::with_capacity(media.len());
        let mut attached = Vec::with_capacity(media.len());
        for item in media {
            let id = new_sid("ME");
            let path = self.store.media_path(&id);
            std::fs::write(&path, &item.bytes).map_err(|source| SandboxError::Io {
                action: "write",
                path,
                source,
            })?;
            attached.push(MessageMedia {
                sid: new_sid("ME"),
                url: format!("{}/_sandbox/media/{id}", self.api_base_url()),
                content_type: item.content_type.clone(),
            });
            stored.push(state::StoredMedia {
                id,
                content_type: item.content_type.clone(),
            });
        }
        let message = self.store.update(|s| {
            s.line(to_line)?;
            s.media.extend(stored);
            let message = SandboxMessage {
                sid: new_sid(if attached.is_empty() { "SM" } else { "MM" }),
                from: from.clone(),
                to: to_line.clone(),
                body: body.to_owned(),
                inbound: true,
                status: CarrierStatus::Received,
                created_at: at,
                updated_at: at,
                sent_at: Some(at),
                error_code: None,
                error_message: None,
                media: attached,
                auto_reply: false,
                seq: s.take_seq(),
                arrived: Some(Instant::now()),
            };
            s.insert_message(message.clone());
            // STOP, START and HELP are the carrier's to answer, at once, from the line.
            if let Some(answer) = s.apply_keyword(to_line, from, body) {
                let seq = s.take_seq();
                s.insert_message(SandboxMessage {
                    sid: new_sid("SM"),
                    from: to_line.clone(),
                    to: from.clone(),
                    body: answer.to_owned(),
                    inbound: false,
                    status: CarrierStatus::Delivered,
                    created_at: at,
                    updated_at: at,
                    sent_at: Some(at),
                    error_code: None,
                    error_message: None,
                    media: Vec::new(),
                    auto_reply: true,
                    seq,
                    arrived: Some(Instant::now()),
                });
            }
            Some(message)
        })?;
        message.ok_or_else(|| SandboxError::UnknownLine(to_line.clone()))
    }

    /// Moves an outbound message through `queued` → `sent` → `delivered` in the background.
    fn progress(self: &Arc<Self>, sid: String, from: CarrierStatus) {
        let shared = self.clone();
        self.spawn(async move {
            if from == CarrierStatus::Queued || from == CarrierStatus::Sending {
                tokio::time::sleep(shared.delays.sent).await;
                shared.set_status(&sid, CarrierStatus::Sent);
            }
            tokio::time::sleep(shared.delays.delivered).await;
            shared.set_status(&sid, CarrierStatus::Delivered);
        });
    }

    /// Moves an outbound message to `sent`, then to what Twilio reports for the delivery error
    /// `code`: `failed` for a queue overflow or a suspended account (30001, 30002), else
    /// `undelivered`, with the code and Twilio's words.
    fn fail_delivery(self: &Arc<Self>, sid: String, code: u32) {
        let shared = self.clone();
        self.spawn(async move {
            tokio::time::sleep(shared.delays.sent).await;
            shared.set_status(&sid, CarrierStatus::Sent);
            tokio::time::sleep(shared.delays.delivered).await;
            let status = match code {
                30001 | 30002 => CarrierStatus::Failed,
                _ => CarrierStatus::Undelivered,
            };
            let now = shared.now_ms();
            let saved = shared.store.update(|s| {
                if let Some(m) = s.message_mut(&sid) {
                    m.status = status;
                    m.updated_at = now;
                    m.error_code = Some(code);
                    m.error_message = Some(wire::twilio_message(code).to_owned());
                }
            });
            if let Err(e) = saved {
                tracing::error!(error = %e, "sandbox state not saved");
            }
        });
    }

    fn set_status(&self, sid: &str, status: CarrierStatus) {
        let now = self.now_ms();
        let saved = self.store.update(|s| {
            if let Some(m) = s.message_mut(sid) {
                m.status = status;
                m.updated_at = now;
                if status == CarrierStatus::Sent {
                    m.sent_at = Some(now);
                }
            }
        });
        if let Err(e) = saved {
            tracing::error!(error = %e, "sandbox state not saved");
        }
    }

    /// A demo contact answers a message sent to them, after the configured delay; asked for a
    /// photo (or photos), with one (or two) attached ([`demo_photos`]).
    fn maybe_reply(self: &Arc<Self>, message: &SandboxMessage) {
        let Some(delay) = self.delays.reply else {
            return;
        };
        let Some(contact) = state::demo_contacts()
            .into_iter()
            .find(|c| c.number == message.to)
        else {
            return;
        };
        let shared = self.clone();
        let line = message.from.clone();
        let photos = demo_photos(&message.body);
        self.spawn(async move {
            tokio::time::sleep(delay).await;
            let first_name = contact.name.split(' ').next().unwrap_or("");
            let text = match photos.len() {
                0 => format!("Hi, {first_name} here. Thanks for your message, talk soon!"),
                1 => format!("Hi, {first_name} here. Here's the photo you asked for."),
                _ => format!("Hi, {first_name} here. Here are the photos you asked for."),
            };
            if let Err(e) = shared.receive(&contact.number, &line, &text, &photos, None) {
                tracing::error!(error = %e, "sandbox reply not recorded");
            }
        });
    }
}

/// Controls a running sandbox from the same process.
pub struct SandboxHandle {
    shared: Arc<Shared>,
    control_addr: SocketAddr,
    control: RunningServer,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("api", &self.shared.api_addr)
            .field("control", &self.control_addr)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// Where a `TwilioClient` finds this carrier, e.g. `http://127.0.0.1:40123`.
    pub fn api_base_url(&self) -> String {
        self.shared.api_base_url()
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.shared.api_addr
    }

    /// The always-on control API, e.g. `http://127.0.0.1:40124`.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    pub fn account_sid(&self) -> &str {
        &self.shared.account_sid
    }

    pub fn auth_token(&self) -> &str {
        &self.shared.auth_token
    }

    /// Offline closes the API listener (connections are refused); online re-binds the same port.
    pub async fn set_online(&self, online: bool) -> Result<(), SandboxError> {
        self.shared.set_online(online).await
    }

    pub fn is_online(&self) -> bool {
        self.shared.online.load(Ordering::SeqCst)
    }

    /// The next `count` API requests fail with `failure`.
    pub fn fail_next(&self, count: u32, failure: Failure) {
        self.shared.fail_next(count, failure, false);
    }

    /// Like [`SandboxHandle::fail_next`], for the next `count` sends only (`POST Messages.json`).
    pub fn fail_next_sends(&self, count: u32, failure: Failure) {
        self.shared.fail_next(count, failure, true);
    }

    /// The quirks in force (none after a start).
    pub fn quirks(&self) -> Quirks {
        self.shared.quirks()
    }

    /// Changes the quirks `change` names; refused whole when a value is out of bounds.
    pub fn change_quirks(&self, change: &QuirksChange) -> Result<Quirks, SandboxError> {
        self.shared.change_quirks(change)
    }

    /// New messages are listed and found by lookups only `lag` after their creation.
    pub fn set_list_lag(&self, lag: Duration) -> Result<Quirks, SandboxError> {
        self.change_quirks(&QuirksChange {
            list_lag_secs: Some(lag.as_secs_f64()),
            ..QuirksChange::default()
        })
    }

    /// An MMS reports no media for `lag` after its creation.
    pub fn set_media_lag(&self, lag: Duration) -> Result<Quirks, SandboxError> {
        self.change_quirks(&QuirksChange {
            media_lag_secs: Some(lag.as_secs_f64()),
            ..QuirksChange::default()
        })
    }

    /// Outbound bodies get Twilio's trial prefix ([`TRIAL_PREFIX`]), or no longer do.
    pub fn set_trial(&self, trial: bool) -> Result<Quirks, SandboxError> {
        self.change_quirks(&QuirksChange {
            trial: Some(trial),
            ..QuirksChange::default()
        })
    }

    /// The sandbox's clock runs `secs` seconds ahead of this computer's (behind if negative).
    pub fn set_clock_skew(&self, secs: i64) -> Result<Quirks, SandboxError> {
        self.change_quirks(&QuirksChange {
            clock_skew_secs: Some(secs),
            ..QuirksChange::default()
        })
    }

    /// A busy day: `count` messages (up to [`MAX_FLOOD`]) spread over the 24 hours before
    /// now, in and out on every line, about one in ten an MMS; saved once.
    pub fn flood(&self, count: u32) -> Result<Flooded, SandboxError> {
        flood::flood(&self.shared, count)
    }

    /// Sends to `number` are refused with Twilio error `twilio_code` (21610: opted out); a
    /// delivery error (30001…30010: 30003, the phone is off) is reported instead, after the
    /// message was accepted and sent, as its `failed` or `undelivered` status.
    pub fn fail_number(&self, number: E164, twilio_code: u32) {
        self.shared.fail_number(number, Some(twilio_code));
    }

    /// Sends to `number` succeed again.
    pub fn clear_failing_number(&self, number: E164) {
        self.shared.fail_number(number, None);
    }

    /// `from` writes `body` to the line `to_line` now, or dated `at_ms` (for tests of dates).
    pub fn reply(
        &self,
        from: &E164,
        to_line: &E164,
        body: &str,
        at_ms: Option<i64>,
    ) -> Result<SandboxMessage, SandboxError> {
        self.shared.receive(from, to_line, body, &[], at_ms)
    }

    /// `from` writes `body` to the line `to_line` now with up to [`MAX_REPLY_MEDIA`] items
    /// attached: an MMS, whose Media list and content the API serves (after the media lag, if
    /// set, as for any MMS).
    pub fn reply_with_media(
        &self,
        from: &E164,
        to_line: &E164,
        body: &str,
        media: &[ReplyMedia],
    ) -> Result<SandboxMessage, SandboxError> {
        self.shared.receive(from, to_line, body, media, None)
    }

    /// How many messages the API has accepted for sending, ever (restarts included).
    pub fn received_count(&self) -> u64 {
        self.shared.store.read(|s| s.received_count)
    }

    /// Every message, sent and received, oldest first.
    pub fn messages(&self) -> Vec<SandboxMessage> {
        self.shared.store.read(|s| s.messages.clone())
    }

    pub fn lines(&self) -> Vec<SandboxLine> {
        self.shared.store.read(|s| s.lines.clone())
    }

    /// The account buys `number`: a new line (IncomingPhoneNumber) with these capabilities.
    pub fn add_line(
        &self,
        number: E164,
        friendly_name: &str,
        sms: bool,
        mms: bool,
    ) -> Result<SandboxLine, SandboxError> {
        let line = SandboxLine {
            sid: new_sid("PN"),
            number,
            friendly_name: friendly_name.to_owned(),
            sms,
            mms,
            created_at: self.shared.now_ms(),
        };
        self.shared.store.update(|s| {
            s.lines.retain(|l| l.number != line.number);
            s.lines.push(line.clone());
        })?;
        Ok(line)
    }

    /// The account releases `number`; false when it was no line.
    pub fn remove_line(&self, number: &E164) -> Result<bool, SandboxError> {
        self.shared.store.update(|s| {
            let before = s.lines.len();
            s.lines.retain(|l| &l.number != number);
            s.lines.len() != before
        })
    }

    /// What `number` can send, as IncomingPhoneNumbers reports it; false when it is no line.
    pub fn set_line_capabilities(&self, number: &E164, sms: bool, mms: bool) -> bool {
        self.shared
            .store
            .update(|s| {
                s.lines
                    .iter_mut()
                    .find(|l| &l.number == number)
                    .map(|l| (l.sms, l.mms) = (sms, mms))
                    .is_some()
            })
            .unwrap_or(false)
    }

    pub fn demo_contacts(&self) -> Vec<DemoContact> {
        state::demo_contacts()
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops both listeners and every background task; the state stays on disk.
    pub async fn shutdown(self) {
        let _ = self.shared.set_online(false).await;
        self.control.stop().await;
        let mut tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Starts the sandbox carrier with the state found in `config.data_dir`.
pub async fn serve(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    let store = Store::open(&config.data_dir, quirks::whole_second(now_ms()))?;
    let api_listener = bind(config.api_port).await?;
    let api_addr = local_addr(&api_listener, config.api_port)?;
    let control_listener = bind(config.control_port).await?;
    let control_addr = local_addr(&control_listener, config.control_port)?;
    let shared = Arc::new(Shared {
        account_sid: config.account_sid,
        auth_token: config.auth_token,
        delays: config.delays,
        store,
        faults: Mutex::new(Faults::default()),
        quirks: Mutex::new(Quirks::default()),
        api_requests: AtomicU64::new(0),
        api_addr,
        online: AtomicBool::new(true),
        api_server: tokio::sync::Mutex::new(None),
        release: watch::Sender::new(0),
        tasks: Mutex::new(JoinSet::new()),
        media_fetcher: std::sync::OnceLock::new(),
    });
    *shared.api_server.lock().await = Some(RunningServer::start(
        api_listener,
        api::router(shared.clone()),
    ));
    // Messages that were on their way when the sandbox stopped carry on.
    let unfinished: Vec<(String, CarrierStatus)> = shared.store.read(|s| {
        s.messages
            .iter()
            .filter(|m| {
                !m.inbound
                    && matches!(
                        m.status,
                        CarrierStatus::Queued | CarrierStatus::Sending | CarrierStatus::Sent
                    )
            })
            .map(|m| (m.sid.clone(), m.status))
            .collect()
    });
    for (sid, status) in unfinished {
        shared.progress(sid, status);
    }
    let control = RunningServer::start(control_listener, control::router(shared.clone()));
    tracing::info!(api = %api_addr, control = %control_addr, "sandbox carrier listening");
    Ok(SandboxHandle {
        shared,
        control_addr,
        control,
    })
}

async fn bind(port: u16) -> Result<TcpListener, SandboxError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, port: u16) -> Result<SocketAddr, SandboxError> {
    listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        source,
    })
}

pub(crate) use switchboard_carrier::dates::now_ms;

/// A Twilio-shaped sid: a two-letter prefix and 32 hex digits.
pub(crate) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
