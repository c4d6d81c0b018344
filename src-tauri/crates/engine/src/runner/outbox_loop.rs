//! The outbox side of a run: which jobs may go now (the pure plan of `switchboard_core::outbox`),
//! what is in flight, when each line may send again, and when each job of unknown outcome is
//! to be reconciled.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use switchboard_core::model::{LineId, MessageStatus};
use switchboard_core::outbox::{self as rules, Pending};
use switchboard_store::{OutboxId, OutboxState};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attempt::Outcome;
use super::{Inner, RunSummary};
use crate::EngineError;

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
            reconcile_at: HashMap::new(),
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
