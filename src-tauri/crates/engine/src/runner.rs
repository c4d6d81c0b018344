//! The outbox runner: sends what the outbox holds, in order within each thread, under a global
//! cap and each line's rate limit; retries transient failures with backoff; records permanent
//! ones for the user; and makes sends **exactly once across crashes** by reconciling every job
//! found `sending` with the carrier before anything is resent. It also drives the inbound sync
//! (`sync.rs`) and publishes [`EngineEvent`]s.
//!
//! Signal's job queue and matrix-rust-sdk's send queue are the models: the job is written with
//! its message, its idempotency key (`client_id`) never changes, a permanent failure "wedges" a
//! message without blocking the ones after it, and start-up replays whatever was in flight.
//!
//! **One runner per data directory**: an OS lock on `<data_dir>/outbox.lock` (`flock` on Unix,
//! `LockFileEx` on Windows, through `std::fs::File::try_lock`), which the kernel releases when
//! the process dies, so a crash never leaves a stale lock behind.
//!
//! The rules (backoff, transitions, what may leave now) are pure functions in
//! `switchboard_core::outbox`; this file does the IO around them. Store calls are short SQLite
//! transactions made directly from the async code.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{Carrier, CarrierError, Media, SendRequest, TransientKind};
use switchboard_core::composer::{ComposeError, MAX_BODY_CHARS};
use switchboard_core::model::{LineId, MessageId, MessageStatus, ThreadId};
use switchboard_core::outbox::{self as rules, Job, JobEvent, JobState, Pending};
use switchboard_store::{MessageError, OutboxId, OutboxJob, OutboxState};
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinSet;

use crate::events::{EngineEvent, EVENT_BUFFER};
use crate::sync::{SyncState, SyncTally};
use crate::{Engine, EngineError, ErrorBody};

/// The lock file inside the data directory; it is never deleted (deleting a lock file others
/// may have open is how two processes end up holding "the" lock).
pub const LOCK_FILE_NAME: &str = "outbox.lock";

/// Where the runner's idea of "now" comes from. Times in the store are wall-clock milliseconds.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock (the app and the CLI).
    System,
    /// Wall time at `origin` plus tokio's elapsed time since: with tokio's clock paused, tests
    /// move through backoffs and rate limits instantly and deterministically.
    Tokio {
        origin_ms: i64,
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// A [`Clock::Tokio`] starting at the current wall time.
    pub fn tokio() -> Clock {
        Clock::Tokio {
            origin_ms: crate::now_ms(),
            origin: tokio::time::Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => crate::now_ms(),
            Clock::Tokio { origin_ms, origin } => {
                origin_ms
                    + tokio::time::Instant::now()
                        .duration_since(*origin)
                        .as_millis() as i64
            }
        }
    }

    /// The tokio instant at which this clock reads `at_ms` (now, if that is past).
    fn instant_at(&self, at_ms: i64) -> tokio::time::Instant {
        let wait = at_ms.saturating_sub(self.now_ms()).max(0);
        tokio::time::Instant::now() + Duration::from_millis(wait as u64)
    }
}

/// How the runner behaves; [`RunnerConfig::default`] suits the app and the CLI.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Requests to the carrier in flight at once, all lines together.
    pub max_in_flight: usize,
    /// How often the outbox is looked at when nothing is due: messages enqueued by another
    /// process (the CLI while the app runs) are noticed this late at worst.
    pub idle_poll: Duration,
    /// How often inbound messages and statuses are fetched while online.
    pub sync_interval: Duration,
    /// A carrier call that has not answered by then is abandoned; for a send its outcome is then
    /// unknown and reconciled, never blindly repeated.
    pub call_timeout: Duration,
    /// On shutdown, how long sends in flight may take to finish before they are abandoned
    /// (they are then reconciled at the next start).
    pub shutdown_grace: Duration,
    pub clock: Clock,
    /// A uniform sample from `[0, 1)` for the backoff's jitter.
    pub jitter: fn() -> f64,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig {
            max_in_flight: 4,
            idle_poll: Duration::from_secs(2),
            sync_interval: Duration::from_secs(5),
            call_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            clock: Clock::System,
            jitter: rand::random::<f64>,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Another process (the app, or the CLI) holds this data directory's outbox lock.
    #[error("another Switchboard is already sending from this data directory ({})", dir.display())]
    AlreadyRunning { dir: PathBuf },
    #[error("the outbox lock {} cannot be taken: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Engine(#[from] EngineError),
}

impl RunnerError {
    /// A stable snake_case name, the `code` of `{code, message}`.
    pub fn code(&self) -> &'static str {
        match self {
            RunnerError::AlreadyRunning { .. } => "runner_already_running",
            RunnerError::Lock { .. } => "runner_lock",
            RunnerError::Engine(e) => e.code(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// What [`Runner::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Accepted by the carrier.
    pub sent: u64,
    /// Found at the carrier after a crash or a lost answer, and recorded as sent without resending.
    pub adopted: u64,
    /// Not found at the carrier after a crash, so queued to be sent again.
    pub resent: u64,
    /// Transient failures: queued again with a later attempt time.
    pub retrying: u64,
    /// Permanent failures, waiting for the user.
    pub failed: u64,
    /// Sends whose outcome is unknown, to reconcile at the next run.
    pub unknown: u64,
    /// New inbound messages recorded.
    pub inbound: u64,
    /// Delivery statuses applied to our messages.
    pub statuses: u64,
    /// Whether the inbound sync reached the carrier.
    pub synced: bool,
    /// Messages still waiting to be sent afterwards.
    pub pending: i64,
}

/// The background worker of one data directory: the outbox and the inbound sync. Holds the
/// data directory's outbox lock for as long as it, a clone of it, or a send it started lives.
/// Clones are handles to the same runner (one spawned task runs it, commands nudge it); its
/// runs never overlap.
#[derive(Clone)]
pub struct Runner {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("lock", &self.inner.lock.path)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) engine: Arc<Engine>,
    pub(crate) carrier: Arc<dyn Carrier>,
    /// The account `carrier` is (see [`Engine::account_key`]), which the sync cursor is saved
    /// with.
    pub(crate) account: String,
    pub(crate) config: RunnerConfig,
    events: broadcast::Sender<EngineEvent>,
    outbox_wake: Notify,
    pub(crate) sync_wake: Notify,
    /// Set by a nudge or by connectivity returning; the outbox loop then makes everything queued
    /// due now, and the sync loop forgets its backoff.
    outbox_nudged: AtomicBool,
    pub(crate) sync_nudged: AtomicBool,
    /// `None` until the first carrier call tells.
    online: Mutex<Option<bool>>,
    last_pending: Mutex<Option<i64>>,
    /// One run at a time per runner: two outbox loops would each take the other's sends in
    /// flight for crashed ones and "reconcile" them into duplicates.
    run: tokio::sync::Mutex<()>,
    lock: RunnerLock,
}

impl Runner {
    /// Takes the data directory's outbox lock (refused with [`RunnerError::AlreadyRunning`]
    /// when another runner holds it) and prepares to run; nothing is sent before
    /// [`Runner::run_until_stopped`] or [`Runner::run_once`].
    pub fn start(
        engine: Arc<Engine>,
        carrier: Arc<dyn Carrier>,
        config: RunnerConfig,
    ) -> Result<Runner, RunnerError> {
        let dir = data_dir(&engine);
        let lock = RunnerLock::acquire(&dir)?;
        let account = engine.account_key().unwrap_or_default();
        let config = RunnerConfig {
            // Without a slot nothing would ever leave.
            max_in_flight: config.max_in_flight.max(1),
            ..config
        };
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Runner {
            inner: Arc::new(Inner {
                engine,
                carrier,
                account,
                config,
                events,
                outbox_wake: Notify::new(),
                sync_wake: Notify::new(),
                outbox_nudged: AtomicBool::new(false),
                sync_nudged: AtomicBool::new(false),
                online: Mutex::new(None),
                last_pending: Mutex::new(None),
                run: tokio::sync::Mutex::new(()),
                lock,
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// "Try now": everything queued becomes due at once and the sync polls at once. The app calls
    /// it when the OS reports the network back, and after enqueueing or retrying a message.
    pub fn nudge(&self) {
        self.inner.nudge();
    }

    /// The carrier this runner sends through.
    pub fn carrier(&self) -> Arc<dyn Carrier> {
        self.inner.carrier.clone()
    }

    /// Whether the last carrier call got through (`None` before the first one).
    pub fn online(&self) -> Option<bool> {
        *lock(&self.inner.online)
    }

    /// Sends and syncs until `shutdown` completes; then lets sends in flight finish (for up to
    /// [`RunnerConfig::shutdown_grace`]) and returns. Jobs left `sending` by a crash, here or
    /// in an earlier process, are reconciled with the carrier before anything else of their
    /// thread goes.
    pub async fn run_until_stopped(&self, shutdown: impl Future<Output = ()>) {
        let _running = self.inner.run.lock().await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let outbox = OutboxLoop::new(&self.inner, Mode::Forever);
        let loops = async {
            tokio::join!(
                outbox.run(stop_rx.clone()),
                self.inner.sync_loop(stop_rx.clone())
            )
        };
        tokio::pin!(loops);
        tokio::select! {
            _ = &mut loops => return,
            () = shutdown => {}
        }
        let _ = stop_tx.send(true);
        loops.await;
    }

    /// For scripts: reconciles what a crash left in flight, sends everything due now (waiting
    /// out the lines' rate limits, but not backoffs: a transient failure stays queued for later),
    /// then syncs once.
    pub async fn run_once(&self) -> RunSummary {
        let _running = self.inner.run.lock().await;
        // The sender stays alive (and silent) so the loop never sees a stop.
        let (_stop_tx, stop_rx) = watch::channel(false);
        let mut summary = OutboxLoop::new(&self.inner, Mode::Once).run(stop_rx).await;
        match self.inner.sync_round(&mut SyncState::default()).await {
            Ok(SyncTally { inbound, statuses }) => {
                summary.inbound = inbound;
                summary.statuses = statuses;
                summary.synced = true;
            }
            Err(e) => tracing::warn!(error = %e, "the inbound sync failed"),
        }
        summary.pending = self.inner.engine.store().pending_count().unwrap_or(-1);
        self.inner.publish_pending();
        summary
    }
}

/// The data directory of an engine's store: where its database file is.
fn data_dir(engine: &Engine) -> PathBuf {
    let db = engine.store().path();
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

struct RunnerLock {
    path: PathBuf,
    /// Holding the open file holds the lock; the kernel drops it with the process.
    _file: File,
}

impl RunnerLock {
    fn acquire(dir: &Path) -> Result<RunnerLock, RunnerError> {
        let path = dir.join(LOCK_FILE_NAME);
        let lock_error = |source| RunnerError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(RunnerError::AlreadyRunning {
                    dir: dir.to_owned(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(lock_error(e)),
        }
        // The holder's pid, for a person wondering who has it; the lock is what counts.
        let _ = file
            .set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()));
        Ok(RunnerLock { path, _file: file })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What an unanswered call means for a read: try again later.
pub(crate) fn unanswered() -> CarrierError {
    CarrierError::Transient {
        kind: TransientKind::Timeout,
        retry_after: None,
        message: "the carrier did not answer in time".into(),
    }
}

/// What an unanswered send means: it may have arrived, so it is reconciled, never repeated.
fn send_unanswered() -> CarrierError {
    CarrierError::Unknown {
        message: "the carrier did not answer in time".into(),
    }
}

impl Inner {
    /// Runs one carrier call under the call timeout and records its outcome for connectivity.
    pub(crate) async fn call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, CarrierError>>,
        on_timeout: fn() -> CarrierError,
    ) -> Result<T, CarrierError> {
        let result = tokio::time::timeout(self.config.call_timeout, call)
            .await
            .unwrap_or_else(|_| Err(on_timeout()));
        self.note_call(result.as_ref().map(|_| ()));
        result
    }

    pub(crate) fn emit(&self, event: EngineEvent) {
        // No subscriber is not an error: the CLI may not listen.
        let _ = self.events.send(event);
    }

    fn nudge(&self) {
        self.outbox_nudged.store(true, Ordering::SeqCst);
        self.sync_nudged.store(true, Ordering::SeqCst);
        self.outbox_wake.notify_one();
        self.sync_wake.notify_one();
    }

    /// Records the outcome of a carrier call for connectivity: "no connection" and timeouts
    /// mean offline, an answer (a success, or a permanent refusal) means online. Coming back
    /// online makes everything queued due now. A 5xx or a 429 changes nothing: treating it as
    /// "back online" would send everything at once into a struggling or rate-limiting carrier.
    pub(crate) fn note_call(&self, result: Result<(), &CarrierError>) {
        let online = match result {
            Ok(()) | Err(CarrierError::Permanent { .. }) => true,
            Err(CarrierError::Transient {
                kind: TransientKind::Offline | TransientKind::Timeout,
                ..
            }) => false,
            // The carrier answered but is struggling (5xx, 429), or the answer was lost: that
            // says nothing about the network.
            Err(_) => return,
        };
        let was = lock(&self.online).replace(online);
        if was == Some(online) {
            return;
        }
        tracing::info!(online, "carrier connectivity changed");
        self.emit(EngineEvent::Connectivity { online });
        if online && was == Some(false) {
            self.nudge();
        }
    }

    fn publish_pending(&self) {
        let pending = match self.engine.store().pending_count() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot count the outbox");
                return;
            }
        };
        let changed = lock(&self.last_pending).replace(pending) != Some(pending);
        if changed {
            self.emit(EngineEvent::OutboxCount { pending });
        }
    }

    fn emit_status(&self, job: &OutboxJob, status: MessageStatus) {
        self.emit(EngineEvent::MessageStatus {
            message_id: job.message_id,
            thread_id: job.thread_id,
            status,
        });
    }

    pub(crate) fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// The request for a job, the same on every attempt (the client id included).
    fn request_for(&self, job: &OutboxJob) -> Result<SendRequest, EngineError> {
        let store = self.engine.store();
        let line = store.get_line(job.line_id)?;
        let media = if job.has_attachment {
            store.get_attachment(job.message_id)?.map(|a| Media {
                kind: a.kind,
                bytes: a.bytes,
            })
        } else {
            None
        };
        Ok(SendRequest {
            from: line.number,
            to: job.counterpart.clone(),
            body: job.body.clone(),
            media,
            client_id: job.client_id.clone(),
        })
    }

    /// Hands one job (already marked `sending`) to the carrier and records what happened.
    async fn send(&self, job: OutboxJob, request: SendRequest, started_at: i64) -> Outcome {
        let result = self
            .call(self.carrier.send(&request), send_unanswered)
            .await;
        let attempt = Job {
            attempts: u32::try_from(job.attempts + 1).unwrap_or(u32::MAX),
            state: JobState::Sending { started_at },
        };
        let now = self.now();
        let event = match &result {
            Ok(accepted) => JobEvent::Accepted {
                sid: accepted.sid.clone(),
            },
            Err(CarrierError::Transient { retry_after, .. }) => JobEvent::Transient {
                now,
                retry_after: *retry_after,
                jitter: (self.config.jitter)(),
            },
            Err(CarrierError::Permanent { code, message }) => JobEvent::Permanent {
                code: code.clone(),
                sentence: message.clone(),
            },
            Err(CarrierError::Unknown { .. }) => JobEvent::OutcomeUnknown,
        };
        let why = result.as_ref().err().map(describe);
        match rules::step(&attempt, event) {
            Ok(next) => self.record(&job, next.state, why.as_deref(), now),
            Err(refused) => {
                tracing::error!(job = %job.id, %refused, "outbox rule refused a send outcome");
                Outcome::Unknown
            }
        }
    }

    /// Asks the carrier whether it already has a job left `sending` (by a crash, or by an
    /// answer that never came), then adopts it or queues it to be sent again.
    async fn reconcile(&self, job: OutboxJob, request: SendRequest) -> Outcome {
        let since = job.attempt_started_at.unwrap_or(job.created_at);
        let result = self
            .call(self.carrier.find_sent(&request, since), unanswered)
            .await;
        let found = match result {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(job = %job.id, error = %describe(&e), "reconciliation postponed");
                return Outcome::ReconcileLater;
            }
        };
        let now = self.now();
        let unknown = Job {
            attempts: u32::try_from(job.attempts).unwrap_or(u32::MAX),
            state: JobState::Unknown { started_at: since },
        };
        let event = JobEvent::Reconciled {
            found: found.as_ref().map(|m| m.sid.clone()),
            now,
        };
        let next = match rules::step(&unknown, event) {
            Ok(next) => next.state,
            Err(refused) => {
                tracing::error!(job = %job.id, %refused, "outbox rule refused a reconciliation");
                return Outcome::ReconcileLater;
            }
        };
        match (self.record(&job, next, None, now), found) {
            (Outcome::Sent, Some(found)) => {
                tracing::info!(job = %job.id, sid = %found.sid, "adopted a message the carrier already had");
                // It may have moved on (delivered) while we were away; the sync would tell too,
                // but its cursor may already be past that change.
                if let Some(status) = crate::sync::delivery_status(found.status) {
                    let store = self.engine.store();
                    let error = crate::sync::carrier_error(&found);
                    let applied = store
                        .apply_delivery_status(&found.sid, status, error.as_ref(), now)
                        .and_then(|_| store.get_message(job.message_id));
                    match applied {
                        Ok(m) if m.status != MessageStatus::Sent => {
                            self.emit_status(&job, m.status)
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(job = %job.id, error = %e, "cannot apply a status")
                        }
                    }
                }
                Outcome::Adopted
            }
            (Outcome::Retry, None) => {
                tracing::info!(job = %job.id, "the carrier never got the message: sending it again");
                Outcome::Resend
            }
            (other, _) => other,
        }
    }

    /// Writes a job's next state to the store and tells the clients.
    fn record(&self, job: &OutboxJob, next: JobState, why: Option<&str>, now: i64) -> Outcome {
        let store = self.engine.store();
        let (result, outcome, status) = match next {
            JobState::Sent { sid } => match store.mark_sent(job.id, &sid, now) {
                Ok(()) => (Ok(()), Outcome::Sent, Some(MessageStatus::Sent)),
                Err(e) => (Err(e), Outcome::Unknown, None),
            },
            JobState::Queued { due_at } => (
                store.mark_retry(job.id, due_at, why.unwrap_or("sending again"), now),
                Outcome::Retry,
                Some(MessageStatus::Queued),
            ),
            JobState::Failed { code, sentence } => (
                store.mark_failed(
                    job.id,
                    &MessageError {
                        code,
                        message: sentence,
                    },
                    now,
                ),
                Outcome::Failed,
                Some(MessageStatus::Failed),
            ),
            // Left `sending` in the store: the next reconciliation decides.
            JobState::Unknown { .. } | JobState::Sending { .. } => {
                tracing::warn!(job = %job.id, error = why.unwrap_or(""), "send outcome unknown");
                (Ok(()), Outcome::Unknown, None)
            }
            JobState::Deleted => (Ok(()), Outcome::Skipped, None),
        };
        match result {
            Ok(()) => {
                if let Some(status) = status {
                    self.emit_status(job, status);
                }
                outcome
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "cannot record a send outcome");
                Outcome::Unknown
            }
        }
    }
}

/// A carrier error as stored in `last_error` and logged: its kind and the carrier's sentence.
fn describe(e: &CarrierError) -> String {
    match e {
        CarrierError::Transient { kind, message, .. } => format!("{kind:?}: {message}"),
        CarrierError::Permanent { code, message } => {
            format!("{}: {message}", code.as_deref().unwrap_or("permanent"))
        }
        CarrierError::Unknown { message } => format!("unknown outcome: {message}"),
    }
}

/// How one carrier call for a job ended, for the loop's bookkeeping (the store is already
/// written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Adopted,
    Resend,
    Retry,
    Failed,
    /// Still `sending`: reconcile later.
    Unknown,
    ReconcileLater,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forever,
    /// Everything due at the start, one attempt each, then stop.
    Once,
}

/// The outbox side of a run: what is in flight, when each line may send again, and when each
/// job of unknown outcome is to be reconciled.
struct OutboxLoop<'a> {
    inner: &'a Arc<Inner>,
    mode: Mode,
    started_at: i64,
    tasks: JoinSet<(OutboxId, Outcome)>,
    by_task: HashMap<tokio::task::Id, OutboxId>,
    in_flight: HashSet<OutboxId>,
    line_free_at: HashMap<LineId, i64>,
    min_interval_ms: i64,
    /// Jobs of unknown outcome: failed reconciliations so far, and when to try again.
    reconcile_at: HashMap<OutboxId, (u32, i64)>,
    /// Once mode: jobs already tried in this run (they are not tried again).
    deferred: HashSet<OutboxId>,
    /// Once mode: jobs reconciliation found missing, to send in this run after all.
    resend: HashSet<OutboxId>,
    summary: RunSummary,
}

/// What one look at the outbox found.
struct Tick {
    wake_at: Option<i64>,
    /// Something is due now but waits for a line or a slot.
    held: bool,
    started: usize,
}

impl Tick {
    fn wake(&mut self, at: i64) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

impl<'a> OutboxLoop<'a> {
    fn new(inner: &'a Arc<Inner>, mode: Mode) -> OutboxLoop<'a> {
        OutboxLoop {
            inner,
            mode,
            started_at: inner.now(),
            tasks: JoinSet::new(),
            by_task: HashMap::new(),
            in_flight: HashSet::new(),
            line_free_at: HashMap::new(),
            min_interval_ms: rules::min_interval_ms(inner.carrier.capabilities().per_line_rate),
            reconcile_at: HashMap::new(),
            deferred: HashSet::new(),
            resend: HashSet::new(),
            summary: RunSummary::default(),
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) -> RunSummary {
        let inner = self.inner;
        loop {
            if *stop.borrow() {
                break;
            }
            let now = inner.now();
            let tick = self.tick(now).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the outbox");
                Tick {
                    wake_at: None,
                    held: false,
                    started: 0,
                }
            });
            inner.publish_pending();
            if self.mode == Mode::Once && self.tasks.is_empty() && !tick.held && tick.started == 0 {
                break;
            }
            let idle = now.saturating_add(inner.config.idle_poll.as_millis() as i64);
            let wake_at = tick.wake_at.map_or(idle, |w| w.min(idle));
            let deadline = inner.config.clock.instant_at(wake_at);
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = inner.outbox_wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(done);
                }
            }
            while let Some(done) = self.tasks.try_join_next_with_id() {
                self.finished(done);
            }
        }
        // Let what is in flight land, so its outcome is recorded rather than reconciled later.
        let grace = inner.config.shutdown_grace;
        let _ = tokio::time::timeout(grace, async {
            while let Some(done) = self.tasks.join_next_with_id().await {
                self.finished(done);
            }
        })
        .await;
        self.tasks.abort_all();
        inner.publish_pending();
        self.summary
    }

    /// Looks at the outbox once: starts reconciliations and sends that may go now.
    fn tick(&mut self, now: i64) -> Result<Tick, EngineError> {
        let inner = self.inner;
        let store = inner.engine.store();
        if inner.outbox_nudged.swap(false, Ordering::SeqCst) {
            let n = store.requeue_all_now(now)?;
            for (_, at) in self.reconcile_at.values_mut() {
                *at = now;
            }
            tracing::debug!(requeued = n, "outbox nudged");
        }
        let pending = store.pending_outbox()?;
        let mut tick = Tick {
            wake_at: None,
            held: false,
            started: 0,
        };

        // A job `sending` that this loop did not start is in doubt: reconcile it first. Until
        // then it blocks its thread, like any message in flight.
        for job in &pending {
            if job.state != OutboxState::Sending || self.in_flight.contains(&job.id) {
                continue;
            }
            match self.reconcile_at.get(&job.id) {
                Some(&(_, at)) if at > now => tick.wake(at),
                _ if self.tasks.len() >= inner.config.max_in_flight => {}
                _ => {
                    if self.start_reconcile(job.id)? {
                        tick.started += 1;
                    }
                }
            }
        }

        let views: Vec<Pending> = pending
            .iter()
            .map(|p| Pending {
                id: p.id.0,
                thread: p.thread_id,
                line: p.line_id,
                sending: p.state == OutboxState::Sending,
                due_at: self.due_at(p.id, p.next_attempt_at),
            })
            .collect();
        let slots = inner.config.max_in_flight.saturating_sub(self.tasks.len());
        let plan = rules::plan(
            &views,
            now,
            &mut self.line_free_at,
            self.min_interval_ms,
            slots,
        );
        for id in plan.send {
            if self.start_send(OutboxId(id), now)? {
                tick.started += 1;
            }
        }
        if let Some(at) = plan.wake_at.filter(|&at| at != i64::MAX) {
            tick.wake(at);
        }
        tick.held = plan.held > 0;
        Ok(tick)
    }

    /// When a job may go, as this run sees it: in Once mode only what was due at the start
    /// (or found missing by reconciliation), and each job once.
    fn due_at(&self, id: OutboxId, next_attempt_at: i64) -> i64 {
        match self.mode {
            Mode::Forever => next_attempt_at,
            Mode::Once if self.resend.contains(&id) => next_attempt_at,
            Mode::Once if self.deferred.contains(&id) || next_attempt_at > self.started_at => {
                i64::MAX
            }
            Mode::Once => next_attempt_at,
        }
    }

    fn start_send(&mut self, id: OutboxId, now: i64) -> Result<bool, EngineError> {
        let inner = self.inner;
        let store = inner.engine.store();
        let job = store.outbox_job(id)?;
        let request = match inner.request_for(&job) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot build the request");
                return Ok(false);
            }
        };
        match store.mark_sending(id, now) {
            Ok(()) => {}
            // Deleted or changed since the outbox was read: nothing to do.
            Err(e) => {
                tracing::debug!(job = %id, error = %e, "job changed before sending");
                return Ok(false);
            }
        }
        inner.emit_status(&job, MessageStatus::Sending);
        let task_inner = Arc::clone(inner);
        let handle = self.tasks.spawn(async move {
            let outcome = task_inner.send(job, request, now).await;
            (id, outcome)
        });
        self.by_task.insert(handle.id(), id);
        self.in_flight.insert(id);
        Ok(true)
    }

    fn start_reconcile(&mut self, id: OutboxId) -> Result<bool, EngineError> {
        let inner = self.inner;
        let job = inner.engine.store().outbox_job(id)?;
        let request = match inner.request_for(&job) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot build the request");
                return Ok(false);
            }
        };
        let task_inner = Arc::clone(inner);
        let handle = self.tasks.spawn(async move {
            let outcome = task_inner.reconcile(job, request).await;
            (id, outcome)
        });
        self.by_task.insert(handle.id(), id);
        self.in_flight.insert(id);
        Ok(true)
    }

    fn finished(
        &mut self,
        done: Result<(tokio::task::Id, (OutboxId, Outcome)), tokio::task::JoinError>,
    ) {
        let (task, outcome) = match done {
            Ok((task, (_, outcome))) => (task, outcome),
            Err(e) => {
                // A panicked send: its job stays `sending` and is reconciled like a crash.
                tracing::error!(error = %e, "an outbox task failed");
                (e.id(), Outcome::Unknown)
            }
        };
        let Some(id) = self.by_task.remove(&task) else {
            return;
        };
        self.in_flight.remove(&id);
        let now = self.inner.now();
        let s = &mut self.summary;
        match outcome {
            Outcome::Sent => s.sent += 1,
            Outcome::Adopted => s.adopted += 1,
            Outcome::Resend => {
                s.resent += 1;
                self.resend.insert(id);
            }
            Outcome::Retry => {
                s.retrying += 1;
                self.deferred.insert(id);
            }
            Outcome::Failed => s.failed += 1,
            Outcome::Unknown | Outcome::ReconcileLater => {
                if outcome == Outcome::Unknown {
                    s.unknown += 1;
                }
                self.deferred.insert(id);
                let failures = self.reconcile_at.get(&id).map_or(0, |&(n, _)| n) + 1;
                let delay = rules::SEND_BACKOFF.delay(failures, (self.inner.config.jitter)());
                self.reconcile_at
                    .insert(id, (failures, now + delay.as_millis() as i64));
                return;
            }
            Outcome::Skipped => {}
        }
        self.reconcile_at.remove(&id);
    }
}

// --- The user's hand on failed messages ------------------------------------------------------

impl Engine {
    /// Queues a failed message again, due now, optionally with an edited body (the idempotency
    /// key stays the same). Call [`Runner::nudge`] afterwards for it to go at once.
    pub fn retry_failed_message(
        &self,
        message: MessageId,
        new_body: Option<&str>,
    ) -> crate::Result<()> {
        if let Some(body) = new_body {
            let chars = body.chars().count();
            if chars > MAX_BODY_CHARS {
                return Err(ComposeError::BodyTooLong {
                    chars,
                    limit: MAX_BODY_CHARS,
                }
                .into());
            }
        }
        let job = self.failed_job(message)?;
        self.store.retry_failed(job.id, new_body, crate::now_ms())?;
        Ok(())
    }

    /// Deletes a failed message (cancels it). Returns its thread, which disappears when the
    /// message was its only one.
    pub fn delete_failed_message(&self, message: MessageId) -> crate::Result<ThreadId> {
        self.failed_job(message)?;
        Ok(self.store.delete_failed_message(message)?)
    }

    fn failed_job(&self, message: MessageId) -> crate::Result<OutboxJob> {
        match self.store.outbox_job_for_message(message)? {
            Some(job) if job.state == OutboxState::Failed => Ok(job),
            Some(_) => Err(EngineError::Invalid {
                what: "message",
                why: "It has not failed: it is still waiting to be sent.".into(),
            }),
            None => {
                self.store.get_message(message)?;
                Err(EngineError::Invalid {
                    what: "message",
                    why: "It has not failed: only a failed message can be retried or deleted."
                        .into(),
                })
            }
        }
    }
}

/// An in-memory carrier for the runner's and the sync's tests, with fault injection. Time is
/// tokio's (paused in tests), so latencies and backoffs cost nothing.
#[cfg(test)]
pub(crate) mod testkit {
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
            }
        }

        async fn account(&self) -> Result<CarrierAccount, CarrierError> {
            Ok(CarrierAccount {
                sid: "AC-fake".into(),
                name: "Fake".into(),
            })
        }

        async fn lines(&self) -> Result<Vec<CarrierLine>, CarrierError> {
            Ok(Vec::new())
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
            _since_ms: i64,
        ) -> Result<Option<CarrierMessage>, CarrierError> {
            let mut s = self.state();
            s.find_calls += 1;
            if s.offline {
                return Err(FakeCarrier::offline_error());
            }
            Ok(s.accepted
                .iter()
                .find(|(client_id, _)| *client_id == request.client_id)
                .map(|(_, m)| m.clone()))
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

    pub fn num(s: &str) -> E164 {
        E164::from_normalized(s).unwrap()
    }

    /// Runs `runner` in the background for `d` of (paused) tokio time, then stops it.
    pub async fn run_for(runner: &Runner, d: Duration) {
        runner.run_until_stopped(tokio::time::sleep(d)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_carrier::CarrierStatus;
    use switchboard_core::model::MessageStatus;
    use tokio::sync::broadcast::Receiver;

    use super::testkit::*;
    use super::*;

    const ADA: &str = "+14155550142";
    const GRACE: &str = "+14155550143";

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn drain(rx: &mut Receiver<EngineEvent>) -> Vec<EngineEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn call_times(carrier: &FakeCarrier) -> Vec<u64> {
        carrier.calls().iter().map(|c| c.at).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_queued_goes_once_from_its_line() {
        let o = office();
        let a = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let b = o.send(&o.support, &[GRACE], "Ticket closed")[0];
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();

        let summary = runner.run_once().await;

        assert_eq!((summary.sent, summary.failed, summary.pending), (2, 0, 0));
        assert!(summary.synced);
        let accepted = carrier.state().accepted.clone();
        let from: Vec<&str> = accepted.iter().map(|(_, m)| m.from.as_str()).collect();
        assert_eq!(from, ["+14155550100", "+14155550101"]);
        assert_eq!(
            (o.status(a), o.status(b)),
            (MessageStatus::Sent, MessageStatus::Sent)
        );
        let events = drain(&mut events);
        assert!(events.contains(&EngineEvent::MessageStatus {
            message_id: a,
            thread_id: o.engine.store().get_message(a).unwrap().thread_id,
            status: MessageStatus::Sent
        }));
        assert_eq!(
            events.last(),
            Some(&EngineEvent::OutboxCount { pending: 0 })
        );
        assert!(o.engine.outbox().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_and_server_errors_are_retried_after_the_backoff() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let carrier = FakeCarrier::new();
        carrier.fail_next(&[Fault::Timeout, Fault::Server]);
        let runner = o.runner(&carrier);

        run_for(&runner, secs(10)).await;

        // 100 ms of latency per call, then 750 ms and 1.5 s of backoff; the first retry also
        // waits for the line's one-second spacing.
        assert_eq!(call_times(&carrier), [0, 1000, 2600]);
        assert_eq!(o.status(m), MessageStatus::Sent);
        let ids: Vec<String> = carrier.calls().into_iter().map(|c| c.client_id).collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one idempotency key: {ids:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_retried_no_earlier_than_retry_after() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let carrier = FakeCarrier::new();
        carrier.fail_next(&[Fault::RateLimited(secs(30))]);
        let runner = o.runner(&carrier);

        run_for(&runner, secs(20)).await;
        let job = o.engine.outbox().unwrap().remove(0);
        assert_eq!(job.state, OutboxState::Queued);
        assert!(job.last_error.as_deref().unwrap().contains("RateLimited"));
        assert_eq!(o.status(m), MessageStatus::Queued);

        run_for(&runner, secs(20)).await;
        assert_eq!(o.status(m), MessageStatus::Sent);
        let times = call_times(&carrier);
        assert_eq!(times.len(), 2);
        assert_eq!(
            times[1] - times[0],
            30_100,
            "Retry-After counts from the answer"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn offline_messages_wait_with_growing_backoff_and_go_when_the_network_returns() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let carrier = FakeCarrier::new();
        carrier.set_offline(true);
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();
        let mut offline_seen = Vec::new();
        let mut back_after = Duration::ZERO;

        runner
            .run_until_stopped(async {
                tokio::time::sleep(secs(400)).await;
                offline_seen = drain(&mut events);
                assert_eq!(o.status(m), MessageStatus::Queued);
                assert_eq!(o.engine.store().pending_count().unwrap(), 1);
                // Back online. The next send attempt is minutes away (about 609 s), but the
                // sync's next poll (at most 45 s away) gets through and that sends at once.
                carrier.set_offline(false);
                let back = tokio::time::Instant::now();
                while o.status(m) != MessageStatus::Sent {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                back_after = back.elapsed();
            })
            .await;

        // Doubling from 750 ms (plus 100 ms per call, and the line's 1 s spacing at first).
        let times = call_times(&carrier);
        assert_eq!(
            times[..10],
            [0, 1000, 2600, 5700, 11800, 23900, 48000, 96100, 192200, 384300]
        );
        assert_eq!(times.len(), 11);
        assert!(back_after <= secs(46), "took {back_after:?}");
        assert!(offline_seen.contains(&EngineEvent::Connectivity { online: false }));
        assert!(offline_seen.contains(&EngineEvent::OutboxCount { pending: 1 }));
        let after = drain(&mut events);
        assert!(after.contains(&EngineEvent::Connectivity { online: true }));
        assert!(after.contains(&EngineEvent::OutboxCount { pending: 0 }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_nudge_sends_what_waits_at_once() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let carrier = FakeCarrier::new();
        carrier.set_offline(true);
        let runner = o.runner(&carrier);
        run_for(&runner, secs(100)).await;
        let before = carrier.calls().len();

        carrier.set_offline(false);
        runner.nudge();
        run_for(&runner, secs(1)).await;

        assert_eq!(o.status(m), MessageStatus::Sent);
        assert_eq!(carrier.calls().len(), before + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn one_refused_recipient_of_twenty_fails_alone_and_the_line_keeps_its_rate() {
        let o = office();
        let to: Vec<String> = (0..20).map(|i| format!("+1415555{:04}", 200 + i)).collect();
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let ids = o.send(&o.sales, &to, "We are closed on Monday");
        let carrier = FakeCarrier::new();
        carrier.state().refuse.push((
            to[7].into(),
            "21211".into(),
            "The 'To' number is not a valid phone number.".into(),
        ));
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert_eq!((summary.sent, summary.failed, summary.pending), (19, 1, 0));
        for (i, id) in ids.iter().enumerate() {
            let expected = if i == 7 {
                MessageStatus::Failed
            } else {
                MessageStatus::Sent
            };
            assert_eq!(o.status(*id), expected, "recipient {i}");
        }
        let failed = o.engine.store().get_message(ids[7]).unwrap();
        let error = failed.error.unwrap();
        assert_eq!(error.code.as_deref(), Some("21211"));
        assert_eq!(
            error.message,
            "The 'To' number is not a valid phone number."
        );
        // One line at one message per second: 20 calls over 19 seconds, never closer.
        assert_eq!(carrier.calls()[7].to, to[7]);
        let times = call_times(&carrier);
        assert_eq!(times.len(), 20);
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 1000), "{times:?}");
        assert_eq!(*times.last().unwrap(), 19_000);
    }

    #[tokio::test(start_paused = true)]
    async fn the_global_cap_bounds_the_requests_in_flight() {
        let o = office();
        let to: Vec<String> = (0..20).map(|i| format!("+1415555{:04}", 200 + i)).collect();
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        o.send(&o.sales, &to, "We are closed on Monday");
        let carrier = FakeCarrier::with(1_000.0, secs(1));
        let runner = o.runner_with(
            &carrier,
            RunnerConfig {
                max_in_flight: 4,
                ..RunnerConfig::default()
            },
        );

        assert_eq!(runner.run_once().await.sent, 20);
        assert_eq!(carrier.state().max_in_flight, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn order_is_kept_within_a_thread() {
        let o = office();
        for body in ["one", "two", "three"] {
            o.send(&o.sales, &[ADA], body);
        }
        o.send(&o.sales, &[GRACE], "other thread");
        let carrier = FakeCarrier::with(1_000.0, Duration::from_millis(100));
        carrier.fail_next(&[Fault::Server]);
        let runner = o.runner(&carrier);

        run_for(&runner, secs(10)).await;

        let calls: Vec<String> = carrier.calls().into_iter().map(|c| c.body).collect();
        // "one" fails and is retried before "two" or "three" leave; the other thread does not
        // wait for it.
        assert_eq!(calls, ["one", "other thread", "one", "two", "three"]);
        assert_eq!(
            carrier.accepted_bodies(),
            ["other thread", "one", "two", "three"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_message_does_not_block_the_rest_of_its_thread() {
        let o = office();
        let ids: Vec<_> = ["one", "two", "three"]
            .iter()
            .map(|b| o.send(&o.sales, &[ADA], b)[0])
            .collect();
        let carrier = FakeCarrier::new();
        carrier.fail_next(&[Fault::Permanent]);
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert_eq!((summary.sent, summary.failed), (2, 1));
        assert_eq!(o.status(ids[0]), MessageStatus::Failed);
        assert_eq!(carrier.accepted_bodies(), ["two", "three"]);
    }

    /// A job left `sending` by a process that died mid-request, behind which a later message
    /// of the same thread waits.
    fn crashed_mid_request(o: &Office) -> (OutboxJob, SendRequest, MessageId) {
        let first = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let second = o.send(&o.sales, &[ADA], "It arrives tomorrow")[0];
        let store = o.engine.store();
        let job = store.outbox_job_for_message(first).unwrap().unwrap();
        store.mark_sending(job.id, crate::now_ms()).unwrap();
        let request = SendRequest {
            from: o.sales.number.clone(),
            to: num(ADA),
            body: job.body.clone(),
            media: None,
            client_id: job.client_id.clone(),
        };
        (store.outbox_job(job.id).unwrap(), request, second)
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_cut_by_a_crash_is_adopted_when_the_carrier_has_it() {
        let o = office();
        let (job, request, second) = crashed_mid_request(&o);
        let carrier = FakeCarrier::new();
        let sid = "SM0000000000000000000000000000abcd";
        carrier.already_has(&request, sid);
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert_eq!((summary.adopted, summary.resent, summary.sent), (1, 0, 1));
        let calls: Vec<String> = carrier.calls().into_iter().map(|c| c.body).collect();
        assert_eq!(
            calls,
            ["It arrives tomorrow"],
            "the first was not sent again"
        );
        let adopted = o
            .engine
            .store()
            .message_by_carrier_sid(sid)
            .unwrap()
            .unwrap();
        assert_eq!(adopted.message_id, job.message_id);
        assert_eq!(adopted.status, MessageStatus::Sent);
        assert_eq!(o.status(second), MessageStatus::Sent);
    }

    #[tokio::test(start_paused = true)]
    async fn an_adopted_message_takes_the_status_the_carrier_reached_meanwhile() {
        let o = office();
        let (job, request, _) = crashed_mid_request(&o);
        let carrier = FakeCarrier::new();
        carrier.already_has(&request, "SM0000000000000000000000000000abcd");
        carrier.state().accepted[0].1.status = CarrierStatus::Delivered;
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();

        assert_eq!(runner.run_once().await.adopted, 1);

        assert_eq!(o.status(job.message_id), MessageStatus::Delivered);
        let statuses: Vec<MessageStatus> = drain(&mut events)
            .into_iter()
            .filter_map(|e| match e {
                EngineEvent::MessageStatus {
                    message_id, status, ..
                } if message_id == job.message_id => Some(status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [MessageStatus::Sent, MessageStatus::Delivered]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_cut_by_a_crash_is_sent_again_once_when_the_carrier_lacks_it() {
        let o = office();
        let (job, _, _) = crashed_mid_request(&o);
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert_eq!((summary.adopted, summary.resent, summary.sent), (0, 1, 2));
        let calls = carrier.calls();
        let bodies: Vec<&str> = calls.iter().map(|c| c.body.as_str()).collect();
        assert_eq!(bodies, ["Your order has shipped", "It arrives tomorrow"]);
        assert_eq!(
            calls[0].client_id, job.client_id,
            "the same idempotency key"
        );
        assert_eq!(o.status(job.message_id), MessageStatus::Sent);
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_with_the_carrier_unreachable_waits_and_sends_nothing() {
        let o = office();
        let (job, _, second) = crashed_mid_request(&o);
        let carrier = FakeCarrier::new();
        carrier.set_offline(true);
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert_eq!((summary.sent, summary.resent, summary.pending), (0, 0, 2));
        assert!(
            carrier.calls().is_empty(),
            "nothing resent, nothing overtook it"
        );
        assert_eq!(o.status(job.message_id), MessageStatus::Sending);
        assert_eq!(o.status(second), MessageStatus::Queued);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_reconciled_not_resent() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        let carrier = FakeCarrier::new();
        carrier.fail_next(&[Fault::LostAnswer]);
        let runner = o.runner(&carrier);

        run_for(&runner, secs(5)).await;

        assert_eq!(carrier.calls().len(), 1);
        assert_eq!(carrier.state().find_calls, 1);
        assert_eq!(o.status(m), MessageStatus::Sent);
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_that_never_answers_is_reconciled_not_resent() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "Your order has shipped")[0];
        // Accepts, then hangs for ten minutes: longer than the runner waits.
        let carrier = FakeCarrier::with(1.0, secs(600));
        let runner = o.runner_with(
            &carrier,
            RunnerConfig {
                call_timeout: secs(30),
                ..RunnerConfig::default()
            },
        );
        carrier.already_has(
            &SendRequest {
                from: o.sales.number.clone(),
                to: num(ADA),
                body: "Your order has shipped".into(),
                media: None,
                client_id: o.engine.outbox().unwrap()[0].client_id.clone(),
            },
            "SM00000000000000000000000000000042",
        );

        run_for(&runner, secs(40)).await;

        assert_eq!(carrier.calls().len(), 1);
        assert_eq!(o.status(m), MessageStatus::Sent);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_runner_on_the_same_data_directory_is_refused() {
        let o = office();
        let carrier = FakeCarrier::new();
        let first = o.runner(&carrier);
        let dyn_carrier: Arc<dyn Carrier> = carrier.clone();

        let err = Runner::start(
            o.engine.clone(),
            dyn_carrier.clone(),
            RunnerConfig::default(),
        )
        .unwrap_err();

        assert_eq!(err.code(), "runner_already_running");
        assert!(
            err.to_string()
                .starts_with("another Switchboard is already sending from this data directory"),
            "{err}"
        );
        drop(first);
        // The lock file stays behind, as after a crash; only a live holder counts.
        assert!(o.dir.path().join("data").join(LOCK_FILE_NAME).exists());
        Runner::start(o.engine.clone(), dyn_carrier, RunnerConfig::default())
            .expect("the lock goes with its runner");
    }

    #[tokio::test(start_paused = true)]
    async fn failed_messages_can_be_edited_and_retried_or_deleted() {
        let o = office();
        let a = o.send(&o.sales, &[ADA], "Your ordr has shipped")[0];
        let b = o.send(&o.sales, &[GRACE], "Gone")[0];
        let carrier = FakeCarrier::new();
        carrier.fail_next(&[Fault::Permanent, Fault::Permanent]);
        let runner = o.runner(&carrier);
        assert_eq!(runner.run_once().await.failed, 2);
        let client_id = carrier.calls()[0].client_id.clone();

        // Only failed messages: a sent one is refused.
        o.engine
            .retry_failed_message(a, Some("Your order has shipped"))
            .unwrap();
        assert_eq!(
            o.engine.retry_failed_message(a, None).unwrap_err().code(),
            "invalid_input"
        );
        let thread_b = o.engine.delete_failed_message(b).unwrap();
        assert_eq!(
            o.engine.store().get_thread(thread_b).unwrap_err().code(),
            "thread_not_found"
        );

        assert_eq!(runner.run_once().await.sent, 1);
        let last = carrier.calls().pop().unwrap();
        assert_eq!(
            (last.body.as_str(), last.client_id),
            ("Your order has shipped", client_id)
        );
        assert_eq!(o.status(a), MessageStatus::Sent);
        assert_eq!(
            o.engine.delete_failed_message(a).unwrap_err().code(),
            "invalid_input"
        );
    }
}
