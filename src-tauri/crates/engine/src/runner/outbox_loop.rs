//! The outbox side of a run: which jobs may go now (the pure plan of `switchboard_core::outbox`),
//! what is in flight, when each line may send again, and when each job of unknown outcome is
//! to be looked up again (and what its earlier lookups learnt).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use switchboard_core::model::{LineId, MessageStatus};
use switchboard_core::outbox::{self as rules, Doubt, Pending};
use switchboard_store::{OutboxId, OutboxState};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attempt::Outcome;
use super::{Inner, RunSummary};
use crate::{EngineError, EngineEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Forever,
    /// Everything due at the start, one attempt each, then stop.
    Once,
}

/// The outbox side of a run: what is in flight, when each line may send again, and when each
/// job of unknown outcome is to be reconciled.
pub(super) struct OutboxLoop<'a> {
    inner: &'a Arc<Inner>,
    mode: Mode,
    started_at: i64,
    tasks: JoinSet<(OutboxId, Outcome)>,
    by_task: HashMap<tokio::task::Id, OutboxId>,
    in_flight: HashSet<OutboxId>,
    line_free_at: HashMap<LineId, i64>,
    min_interval_ms: i64,
    /// Jobs of unknown outcome that this run has looked up (or whose answer it lost), and when
    /// to look again; one found `sending` without an entry is looked up at once.
    in_doubt: HashMap<OutboxId, InDoubt>,
    /// Once mode: jobs already tried in this run (they are not tried again).
    deferred: HashSet<OutboxId>,
    /// Once mode: jobs reconciliation found missing, to send in this run after all.
    resend: HashSet<OutboxId>,
    summary: RunSummary,
}

/// A job of unknown outcome between two lookups.
#[derive(Debug, Clone, Copy)]
struct InDoubt {
    /// What the lookups so far learnt; `None` before the first.
    doubt: Option<Doubt>,
    at: i64,
    /// The end of the carrier's `Retry-After`, which connectivity coming back does not cut.
    not_before: Option<i64>,
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
    pub(super) fn new(inner: &'a Arc<Inner>, mode: Mode) -> OutboxLoop<'a> {
        OutboxLoop {
            inner,
            mode,
            started_at: inner.now(),
            tasks: JoinSet::new(),
            by_task: HashMap::new(),
            in_flight: HashSet::new(),
            line_free_at: HashMap::new(),
            min_interval_ms: rules::min_interval_ms(inner.carrier.capabilities().per_line_rate),
            in_doubt: HashMap::new(),
            deferred: HashSet::new(),
            resend: HashSet::new(),
            summary: RunSummary::default(),
        }
    }

    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) -> RunSummary {
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
        // Abandoned: their jobs stay `sending` and are reconciled at the next start. Waiting
        // for them to be gone means no carrier call of this run outlives it.
        self.tasks.abort_all();
        while let Some(done) = self.tasks.join_next_with_id().await {
            if let Ok(done) = done {
                self.finished(Ok(done));
            }
        }
        inner.publish_pending();
        self.summary
    }

    /// Makes the scheduled messages now due messages and jobs of the outbox (core's
    /// `schedule::due`: one late by more than the grace is held for the user instead, and
    /// said). A store that can't be written leaves them waiting for the next tick.
    fn release_scheduled(&mut self, now: i64) {
        let inner = self.inner;
        match inner.engine.store().release_due(now) {
            Ok(released) => {
                for e in &released.queued {
                    inner.emit(EngineEvent::MessageStatus {
                        message_id: e.message_id,
                        thread_id: e.thread_id,
                        status: MessageStatus::Queued,
                    });
                }
                if !released.queued.is_empty() {
                    tracing::info!(messages = released.queued.len(), "scheduled messages due");
                }
                if !released.held.is_empty() {
                    tracing::info!(messages = released.held.len(), "scheduled messages late");
                    let held = inner.engine.store().held_count().unwrap_or(0);
                    inner.emit(EngineEvent::ScheduledLate { held });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot release the scheduled messages"),
        }
    }

    /// Looks at the outbox once: starts reconciliations and sends that may go now.
    fn tick(&mut self, now: i64) -> Result<Tick, EngineError> {
        let inner = self.inner;
        let store = inner.engine.store();
        if inner.outbox_network_back.swap(false, Ordering::SeqCst) {
            let n = store.requeue_all_now(now)?;
            for waiting in self.in_doubt.values_mut() {
                waiting.at = waiting.not_before.map_or(now, |floor| floor.max(now));
            }
            tracing::debug!(requeued = n, "network back: the outbox is due now");
        }
        // Scheduled messages now due join the outbox first, so they go in this very tick. The
        // release is a write (a synced commit): it is made only when one is due.
        let mut next_scheduled = store.next_scheduled_at()?;
        if next_scheduled.is_some_and(|at| at <= now) && inner.serves_current_account() {
            self.release_scheduled(now);
            next_scheduled = store.next_scheduled_at()?;
        }
        let pending = store.pending_outbox()?;
        let mut tick = Tick {
            wake_at: None,
            held: false,
            started: 0,
        };
        if let Some(at) = next_scheduled {
            tick.wake(at);
        }
        // Read first, checked after: an account switch writes the account before the lines.
        if !inner.serves_current_account() {
            return Ok(tick);
        }

        // A job `sending` that this loop did not start is in doubt: reconcile it first. Until
        // then it blocks its thread, like any message in flight.
        for job in &pending {
            if job.state != OutboxState::Sending || self.in_flight.contains(&job.id) {
                continue;
            }
            match self.in_doubt.get(&job.id).copied() {
                Some(waiting) if waiting.at > now => tick.wake(waiting.at),
                _ if self.tasks.len() >= inner.config.max_in_flight => {}
                waiting => {
                    if self.start_reconcile(job.id, waiting.and_then(|w| w.doubt))? {
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

    fn start_reconcile(&mut self, id: OutboxId, doubt: Option<Doubt>) -> Result<bool, EngineError> {
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
            let outcome = task_inner.reconcile(job, request, doubt).await;
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
            Outcome::Failed | Outcome::Unconfirmed => s.failed += 1,
            Outcome::Unknown => {
                // A send whose answer was lost: look it up after the first step of the backoff.
                s.unknown += 1;
                self.deferred.insert(id);
                let delay = rules::SEND_BACKOFF.delay(1, (self.inner.config.jitter)());
                self.in_doubt.insert(
                    id,
                    InDoubt {
                        doubt: None,
                        at: now + delay.as_millis() as i64,
                        not_before: None,
                    },
                );
                return;
            }
            Outcome::LookAgain {
                doubt,
                at,
                not_before,
            } => {
                self.deferred.insert(id);
                self.in_doubt.insert(
                    id,
                    InDoubt {
                        doubt: Some(doubt),
                        at,
                        not_before,
                    },
                );
                return;
            }
            Outcome::Skipped => {}
        }
        self.in_doubt.remove(&id);
    }
}
