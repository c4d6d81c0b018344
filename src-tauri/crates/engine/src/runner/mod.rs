//! The outbox runner: sends what the outbox holds, in order within each thread, under a global
//! cap and each line's rate limit; retries transient failures with backoff; records permanent
//! ones for the user; and makes sends **exactly once across crashes** by reconciling every job
//! found `sending` with the carrier before anything is resent. It also drives the inbound sync
//! and the download of received media, and publishes [`EngineEvent`]s.
//!
//! Signal's job queue and matrix-rust-sdk's send queue are the models: the job is written with
//! its message, its idempotency key (`client_id`) never changes, a permanent failure "wedges" a
//! message without blocking the ones after it, and start-up replays whatever was in flight.
//!
//! The rules (backoff, transitions, what may leave now) are pure functions in
//! `switchboard_core::outbox`; this folder does the IO around them, in rooms along its seams
//! (each imports only from this file and from rooms listed before it):
//! - `clock`: where "now" comes from (the wall clock, or tokio's paused clock in tests);
//! - `lock`: one runner per data directory, through an OS file lock;
//! - `sync`: the inbound sync (replies and delivery statuses);
//! - `attempt`: one carrier call for one job — send, reconcile, record the outcome;
//! - `outbox_loop`: which jobs go now, what is in flight, when to look again;
//! - `media`: the download of received media (the store's download queue), beside the sync;
//! - `failed`: the user's hand on failed messages (retry, delete);
//! - `snooze`: the end of snoozes (a conversation back on top at its time);
//! - `testkit` (tests only): an in-memory carrier with fault injection, and an office to send from.
//!
//! Store calls are short SQLite transactions made directly from the async code.

mod attempt;
mod clock;
mod failed;
mod lock;
mod media;
mod outbox_loop;
#[cfg(test)]
mod scheduled_tests;
mod snooze;
mod sync;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{Carrier, CarrierError, TransientKind};
use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::MessageStatus;
use switchboard_store::OutboxJob;
use tokio::sync::{broadcast, watch, Notify};

use crate::events::{EngineEvent, EVENT_BUFFER};
use crate::{Engine, EngineError, ErrorBody};

pub use clock::Clock;
pub use lock::LOCK_FILE_NAME;
pub use sync::SYNC_BACKOFF;

use lock::RunnerLock;
use outbox_loop::{Mode, OutboxLoop};
use sync::{SyncState, SyncTally};

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
    pub fn code(&self) -> ErrorCode {
        match self {
            RunnerError::AlreadyRunning { .. } => ErrorCode::RunnerAlreadyRunning,
            RunnerError::Lock { .. } => ErrorCode::RunnerLock,
            RunnerError::Engine(e) => e.code(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
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
    /// Not found at the carrier once it could no longer turn up there, so queued to be sent
    /// again.
    pub resent: u64,
    /// Transient failures: queued again with a later attempt time.
    pub retrying: u64,
    /// Permanent failures, and messages the carrier would not confirm, waiting for the user.
    pub failed: u64,
    /// Sends whose outcome is unknown, to reconcile at the next run.
    pub unknown: u64,
    /// New inbound messages recorded.
    pub inbound: u64,
    /// Delivery statuses applied to our messages.
    pub statuses: u64,
    /// Messages the account sent from elsewhere (another desktop, the console), recorded in
    /// their threads.
    pub elsewhere: u64,
    /// Whether the inbound sync reached the carrier.
    pub synced: bool,
    /// Snoozed conversations back in the inbox, their time come.
    pub snoozes_ended: u64,
    /// Messages still waiting to be sent afterwards.
    pub pending: i64,
}

/// The background worker of one data directory: the outbox and the inbound sync. Holds the
/// data directory's outbox lock for as long as it, a clone of it, or a send it started lives.
/// Clones are handles to the same runner (one spawned task runs it, commands wake it); its
/// runs never overlap.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("lock", &self.inner.lock.path)
            .finish()
    }
}

struct Inner {
    engine: Arc<Engine>,
    carrier: Arc<dyn Carrier>,
    /// The account `carrier` is (see [`Engine::account_key`]), which the sync cursor is saved
    /// with.
    account: String,
    config: RunnerConfig,
    /// When this runner was started, by its clock: a first sync's messages dated from then on
    /// arrived while it ran, and are news, not history.
    started_ms: i64,
    events: broadcast::Sender<EngineEvent>,
    outbox_wake: Notify,
    sync_wake: Notify,
    /// Woken when the sync records media to download, and by the user's "Try again".
    media_wake: Notify,
    /// Woken by a client that snoozed a conversation: the soonest end may have changed.
    snooze_wake: Notify,
    /// Set when connectivity returns; the outbox loop then makes everything queued due now and
    /// the sync loop forgets its backoff — neither earlier than a carrier's `Retry-After` —
    /// and the media loop makes every download due now.
    outbox_network_back: AtomicBool,
    sync_network_back: AtomicBool,
    media_network_back: AtomicBool,
    /// Set once this runner has found the data directory switched to another account: it then
    /// starts nothing more (it is about to be replaced), said once in the log.
    account_gone: AtomicBool,
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
        let account = engine.account_key()?;
        Runner::start_serving(engine, carrier, account, config)
    }

    /// [`Runner::start`] for a carrier chosen for `account` (see [`Engine::account_key`]), read
    /// before the carrier was: should the account change in between, the runner serves the old
    /// one and sends nothing, rather than the new account's jobs through the old carrier.
    pub(crate) fn start_serving(
        engine: Arc<Engine>,
        carrier: Arc<dyn Carrier>,
        account: String,
        config: RunnerConfig,
    ) -> Result<Runner, RunnerError> {
        let dir = lock::data_dir(&engine);
        let lock = RunnerLock::acquire(&dir)?;
        let config = RunnerConfig {
            // Without a slot nothing would ever leave.
            max_in_flight: config.max_in_flight.max(1),
            ..config
        };
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let started_ms = config.clock.now_ms();
        Ok(Runner {
            inner: Arc::new(Inner {
                engine,
                carrier,
                account,
                config,
                started_ms,
                events,
                outbox_wake: Notify::new(),
                sync_wake: Notify::new(),
                media_wake: Notify::new(),
                snooze_wake: Notify::new(),
                outbox_network_back: AtomicBool::new(false),
                sync_network_back: AtomicBool::new(false),
                media_network_back: AtomicBool::new(false),
                account_gone: AtomicBool::new(false),
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

    /// "Look now": the outbox, the media download queue and the snoozes are read at once, so a
    /// message just enqueued or retried leaves (and media the user asked for again are fetched,
    /// and a snooze just set is timed) without
    /// waiting for the next idle look. Nothing else changes: what waits out a backoff or a
    /// carrier's `Retry-After` keeps waiting, and the sync keeps its pace (a user's send makes
    /// new work due, not everything).
    pub fn wake(&self) {
        self.inner.outbox_wake.notify_one();
        self.inner.media_wake.notify_one();
        self.inner.snooze_wake.notify_one();
    }

    /// The network is back (the OS says so; the runner also calls it itself when a carrier call
    /// gets through after failing to): everything queued becomes due now and the sync polls now,
    /// but nothing earlier than a carrier's `Retry-After`.
    pub fn network_back(&self) {
        self.inner.network_back();
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
    /// [`RunnerConfig::shutdown_grace`]; any still unanswered are abandoned, and reconciled at
    /// the next start) and returns once none is in flight any more, so a runner that replaces
    /// this one never overlaps its carrier calls. Jobs left `sending` by a crash, here or
    /// in an earlier process, are reconciled with the carrier before anything else of their
    /// thread goes.
    pub async fn run_until_stopped(&self, shutdown: impl Future<Output = ()>) {
        let _running = self.inner.run.lock().await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let outbox = OutboxLoop::new(&self.inner, Mode::Forever);
        let loops = async {
            tokio::join!(
                outbox.run(stop_rx.clone()),
                self.inner.sync_loop(stop_rx.clone()),
                self.inner.media_loop(stop_rx.clone()),
                self.inner.snooze_loop(stop_rx.clone())
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
    /// syncs once, then downloads the received media due now (once each) and ends the snoozes due.
    pub async fn run_once(&self) -> RunSummary {
        let _running = self.inner.run.lock().await;
        // The sender stays alive (and silent) so the loop never sees a stop.
        let (_stop_tx, stop_rx) = watch::channel(false);
        let mut summary = OutboxLoop::new(&self.inner, Mode::Once).run(stop_rx).await;
        match self.sync_once().await {
            Ok(SyncTally {
                inbound,
                statuses,
                elsewhere,
            }) => {
                summary.inbound = inbound;
                summary.statuses = statuses;
                summary.elsewhere = elsewhere;
                summary.synced = true;
            }
            Err(e) => tracing::warn!(error = %e, "the inbound sync failed"),
        }
        if self.inner.serves_current_account() {
            self.inner.media_round().await;
        }
        summary.snoozes_ended = self.inner.end_snoozes(self.inner.now()) as u64;
        summary.pending = self.inner.engine.store().pending_count().unwrap_or(-1);
        self.inner.publish_pending();
        summary
    }
}

impl Runner {
    /// One sync round, and a second at once when a message the first listed waits only for
    /// it to be recorded as sent elsewhere (the sends of this run are all recorded by now).
    async fn sync_once(&self) -> Result<SyncTally, sync::SyncError> {
        let mut state = SyncState::default();
        let mut tally = self.inner.sync_round(&mut state).await?;
        if state.awaits_another_round() {
            tally += self.inner.sync_round(&mut state).await?;
        }
        Ok(tally)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What an unanswered call means for a read: try again later.
fn unanswered() -> CarrierError {
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

    fn emit(&self, event: EngineEvent) {
        // No subscriber is not an error: the CLI may not listen.
        let _ = self.events.send(event);
    }

    fn network_back(&self) {
        self.outbox_network_back.store(true, Ordering::SeqCst);
        self.sync_network_back.store(true, Ordering::SeqCst);
        self.media_network_back.store(true, Ordering::SeqCst);
        self.outbox_wake.notify_one();
        self.sync_wake.notify_one();
        self.media_wake.notify_one();
    }

    /// Whether the data directory still sends through the account this runner was started on.
    /// Connecting or disconnecting an account writes the account first and the lines after
    /// (`account.rs`), so a runner that reads the outbox and then finds its account still
    /// current read only its own account's jobs; once the account changed it starts nothing
    /// more: a job of the new account's lines must never leave through the old carrier.
    fn serves_current_account(&self) -> bool {
        let current = match self.engine.account_key() {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell which account is in use; sending nothing");
                return false;
            }
        };
        let ours = current == self.account;
        if !ours && !self.account_gone.swap(true, Ordering::SeqCst) {
            tracing::info!("the account changed: this runner sends nothing more");
        }
        ours
    }

    /// Records the outcome of a carrier call for connectivity: "no connection" and timeouts
    /// mean offline, an answer (a success, or a permanent refusal) means online. Coming back
    /// online makes everything queued due now. A 5xx or a 429 changes nothing: treating it as
    /// "back online" would send everything at once into a struggling or rate-limiting carrier.
    fn note_call(&self, result: Result<(), &CarrierError>) {
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
            self.network_back();
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

    fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }
}
