//! The outbox's rules, with no IO and no clock of their own: when to try a message again (capped
//! exponential backoff with jitter, honouring the carrier's `Retry-After`), how an outbox job
//! moves between states, and which jobs may leave now (order within a thread, a per-line rate
//! limit, a global cap). Times are milliseconds since the Unix epoch, passed in by the caller.

use std::collections::HashMap;
use std::time::Duration;

use crate::model::{LineId, ThreadId};

/// Capped exponential backoff with **equal jitter**: the delay after the `n`th failed attempt is
/// drawn uniformly from `[cap_n / 2, cap_n)` where `cap_n = min(max, base × 2^(n-1))`.
///
/// Equal rather than full jitter (`[0, cap_n)`): a desktop is one client, not a herd, so the
/// spreading that full jitter buys matters less than a guaranteed minimum spacing — with full
/// jitter an offline laptop could retry a few milliseconds after failing, again and again. Half
/// the window is still random, which is enough to keep the 20 messages of a fan-out that failed
/// together from retrying in lockstep against a rate-limited carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay after `attempt` failed attempts (1 after the first failure; 0 counts as 1),
    /// given `jitter`, a uniform sample from `[0, 1)` (clamped into it).
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let window = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let half = window / 2;
        half + half.mul_f64(jitter)
    }
}

/// Outgoing messages: 1 s, 2 s, 4 s … up to 5 minutes between attempts.
pub const SEND_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(5 * 60),
};

/// A carrier's `Retry-After` is honoured up to this: a garbled or hostile header must not park
/// the outbox for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// The delay before the next attempt of a message after `attempt` failed attempts
/// ([`SEND_BACKOFF`]).
pub fn next_delay(attempt: u32, jitter: f64) -> Duration {
    SEND_BACKOFF.delay(attempt, jitter)
}

/// [`next_delay`], or the carrier's `Retry-After` when that is longer (up to
/// [`MAX_RETRY_AFTER`]): retrying earlier than asked only earns another 429.
pub fn retry_delay(attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
    let ours = next_delay(attempt, jitter);
    match retry_after {
        Some(theirs) => ours.max(theirs.min(MAX_RETRY_AFTER)),
        None => ours,
    }
}

/// Where one outbox job is. The store keeps `Queued`, `Sending` and `Failed`; `Unknown` is kept
/// as `sending` there too (a job found `sending` by a new process is exactly that: its outcome is
/// unknown); `Sent` and `Deleted` jobs leave the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting; may leave at `due_at`.
    Queued { due_at: i64 },
    /// A request is in flight since `started_at`.
    Sending { started_at: i64 },
    /// The request may or may not have reached the carrier (the connection broke after it was
    /// sent, or the process died): reconcile with the carrier before any resend.
    Unknown { started_at: i64 },
    /// The carrier has it, under its id `sid`.
    Sent { sid: String },
    /// A permanent error: waits for the user (edit and retry, or delete) and blocks nothing.
    Failed {
        code: Option<String>,
        sentence: String,
    },
    /// The user deleted the failed message.
    Deleted,
}

/// A job: its state and how many attempts were made (the backoff grows with them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub attempts: u32,
    pub state: JobState,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// The runner hands it to the carrier.
    Start { now: i64 },
    /// The carrier accepted it.
    Accepted { sid: String },
    /// Offline, timeout, 5xx, 429: keep it queued and try later.
    Transient {
        now: i64,
        retry_after: Option<Duration>,
        jitter: f64,
    },
    /// Invalid number, opted-out recipient, rejected media…
    Permanent {
        code: Option<String>,
        sentence: String,
    },
    /// The outcome of the attempt is unknown (a broken connection, or a crash found at start-up).
    OutcomeUnknown,
    /// Reconciliation asked the carrier: `Some(sid)` means it has the message (adopt it),
    /// `None` that it never got it (send again, now, with the same idempotency key).
    Reconciled { found: Option<String>, now: i64 },
    /// The network came back: whatever waits goes now.
    ConnectivityBack { now: i64 },
    /// The user retries a failed message.
    UserRetry { now: i64 },
    /// The user deletes a failed message.
    UserDelete,
}

/// An event that cannot happen in the job's state (a bug, or a stale view of the job).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("an outbox job that is {state} cannot take {event}")]
pub struct Refused {
    pub state: &'static str,
    pub event: &'static str,
}

impl JobState {
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Queued { .. } => "queued",
            JobState::Sending { .. } => "sending",
            JobState::Unknown { .. } => "unknown",
            JobState::Sent { .. } => "sent",
            JobState::Failed { .. } => "failed",
            JobState::Deleted => "deleted",
        }
    }
}

impl JobEvent {
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Start { .. } => "start",
            JobEvent::Accepted { .. } => "accepted",
            JobEvent::Transient { .. } => "transient",
            JobEvent::Permanent { .. } => "permanent",
            JobEvent::OutcomeUnknown => "outcome_unknown",
            JobEvent::Reconciled { .. } => "reconciled",
            JobEvent::ConnectivityBack { .. } => "connectivity_back",
            JobEvent::UserRetry { .. } => "user_retry",
            JobEvent::UserDelete => "user_delete",
        }
    }
}

/// The one transition function of an outbox job. `Start` counts an attempt; the delay after a
/// transient error grows with the attempts made so far.
pub fn step(job: &Job, event: JobEvent) -> Result<Job, Refused> {
    use JobEvent as E;
    use JobState as S;
    let refused = Refused {
        state: job.state.name(),
        event: event.name(),
    };
    let to = |state| Job {
        attempts: job.attempts,
        state,
    };
    Ok(match (&job.state, event) {
        (S::Queued { due_at }, E::Start { now }) if *due_at <= now => Job {
            attempts: job.attempts.saturating_add(1),
            state: S::Sending { started_at: now },
        },
        (S::Sending { .. } | S::Unknown { .. }, E::Accepted { sid }) => to(S::Sent { sid }),
        (
            S::Sending { .. },
            E::Transient {
                now,
                retry_after,
                jitter,
            },
        ) => {
            let delay = retry_delay(job.attempts, jitter, retry_after);
            to(S::Queued {
                due_at: now.saturating_add(delay.as_millis() as i64),
            })
        }
        (S::Queued { .. } | S::Sending { .. }, E::Permanent { code, sentence }) => {
            to(S::Failed { code, sentence })
        }
        (S::Sending { started_at }, E::OutcomeUnknown) => to(S::Unknown {
            started_at: *started_at,
        }),
        (
            S::Unknown { .. },
            E::Reconciled {
                found: Some(sid), ..
            },
        ) => to(S::Sent { sid }),
        (S::Unknown { .. }, E::Reconciled { found: None, now }) => to(S::Queued { due_at: now }),
        (S::Queued { due_at }, E::ConnectivityBack { now }) => to(S::Queued {
            due_at: (*due_at).min(now),
        }),
        (S::Failed { .. }, E::UserRetry { now }) => to(S::Queued { due_at: now }),
        (S::Failed { .. }, E::UserDelete) => to(S::Deleted),
        _ => return Err(refused),
    })
}

/// A job still to be sent, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Outbox ids grow with enqueueing, so they order the messages of a thread.
    pub id: i64,
    pub thread: ThreadId,
    pub line: LineId,
    /// In flight, or of unknown outcome: blocks the rest of its thread.
    pub sending: bool,
    pub due_at: i64,
}

/// What may leave now, and when to look again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Job ids to start now, oldest first.
    pub send: Vec<i64>,
    /// The earliest time something that waits could leave (a backoff ending, a line's rate
    /// limit freeing up); `None` when nothing waits on time.
    pub wake_at: Option<i64>,
    /// Jobs due now but held back by their line's rate limit or the global cap: "everything
    /// due now" is not done while this is above zero.
    pub held: usize,
}

/// Chooses the jobs that may leave at `now`:
/// - **order within a thread**: only the oldest pending job of a thread may leave, and none while
///   an older one is in flight or of unknown outcome (failed jobs are not pending: they block
///   nothing);
/// - **per-line rate**: a line sends at most one message per `min_interval_ms`; `line_free_at`
///   says when each line may send again and is updated for the jobs chosen;
/// - **global cap**: at most `slots` jobs.
///
/// `pending` may come in any order.
pub fn plan(
    pending: &[Pending],
    now: i64,
    line_free_at: &mut HashMap<LineId, i64>,
    min_interval_ms: i64,
    slots: usize,
) -> Plan {
    let mut heads: HashMap<ThreadId, &Pending> = HashMap::new();
    for job in pending {
        heads
            .entry(job.thread)
            .and_modify(|head| {
                if job.id < head.id {
                    *head = job;
                }
            })
            .or_insert(job);
    }
    let mut heads: Vec<&Pending> = heads.into_values().filter(|h| !h.sending).collect();
    // Oldest due first, so a long-waiting message is not starved by newer ones on its line.
    heads.sort_by_key(|h| (h.due_at, h.id));

    let mut out = Plan::default();
    let wake = |at: i64, out: &mut Plan| {
        out.wake_at = Some(out.wake_at.map_or(at, |w| w.min(at)));
    };
    for head in heads {
        if head.due_at > now {
            wake(head.due_at, &mut out);
            continue;
        }
        let free_at = line_free_at.get(&head.line).copied().unwrap_or(i64::MIN);
        if free_at > now {
            wake(free_at, &mut out);
            out.held += 1;
            continue;
        }
        if out.send.len() >= slots {
            // A finished job frees a slot and wakes the runner; nothing to time.
            out.held += 1;
            continue;
        }
        out.send.push(head.id);
        line_free_at.insert(head.line, now.saturating_add(min_interval_ms.max(0)));
    }
    out
}

/// The spacing between two sends of a line allowed `rate` messages per second. A carrier that
/// states no usable rate gets Twilio's long-code rate, 1 per second, rather than none.
pub fn min_interval_ms(rate: f64) -> i64 {
    if rate.is_finite() && rate > 0.0 {
        (1000.0 / rate).ceil() as i64
    } else {
        1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes_with_equal_jitter() {
        let check = |attempt: u32, jitter: f64, expected_ms: u64| {
            assert_eq!(
                next_delay(attempt, jitter),
                Duration::from_millis(expected_ms),
                "attempt {attempt}, jitter {jitter}"
            );
        };
        // Jitter 0 gives half the window, jitter → 1 the whole window.
        check(0, 0.0, 500);
        check(1, 0.0, 500);
        check(1, 0.5, 750);
        check(2, 0.0, 1_000);
        check(3, 0.0, 2_000);
        check(4, 0.5, 6_000);
        check(9, 0.0, 128_000);
        check(10, 0.0, 150_000);
        check(10, 0.25, 187_500);
        check(1_000, 0.0, 150_000);
        check(u32::MAX, 0.5, 225_000);
        // Samples outside [0, 1) are clamped rather than trusted.
        check(3, -1.0, 2_000);
        check(3, 7.0, 4_000);
        check(3, f64::NAN, 2_000);
    }

    #[test]
    fn retry_after_wins_only_when_longer() {
        let check = |attempt: u32, retry_after: Option<u64>, expected_ms: u64| {
            assert_eq!(
                retry_delay(attempt, 0.0, retry_after.map(Duration::from_secs)),
                Duration::from_millis(expected_ms),
                "attempt {attempt}, Retry-After {retry_after:?}"
            );
        };
        check(1, None, 500);
        check(1, Some(30), 30_000);
        check(9, Some(30), 128_000);
        check(1, Some(0), 500);
        check(1, Some(86_400), 3_600_000);
    }

    fn job(attempts: u32, state: JobState) -> Job {
        Job { attempts, state }
    }

    #[test]
    fn job_transitions() {
        use JobEvent as E;
        use JobState as St;
        let queued = |due_at| St::Queued { due_at };
        let sending = |started_at| St::Sending { started_at };
        let failed = || St::Failed {
            code: Some("21211".into()),
            sentence: "The number is not a valid phone number.".into(),
        };
        let permanent = || E::Permanent {
            code: Some("21211".into()),
            sentence: "The number is not a valid phone number.".into(),
        };
        let transient = |now, retry_after: Option<u64>| E::Transient {
            now,
            retry_after: retry_after.map(Duration::from_secs),
            jitter: 0.0,
        };
        let sent = || St::Sent { sid: "SM1".into() };
        let check = |from: Job, event: E, expected: Result<Job, &str>| {
            let got = step(&from, event.clone());
            assert_eq!(got.map_err(|r| r.event), expected, "{from:?} + {event:?}");
        };
        // The happy path: an attempt is counted when it starts.
        check(
            job(0, queued(0)),
            E::Start { now: S },
            Ok(job(1, sending(S))),
        );
        check(job(0, queued(5 * S)), E::Start { now: S }, Err("start"));
        check(
            job(1, sending(S)),
            E::Accepted { sid: "SM1".into() },
            Ok(job(1, sent())),
        );
        // Transient errors: queued again after the backoff, or the carrier's Retry-After.
        check(
            job(1, sending(S)),
            transient(S, None),
            Ok(job(1, queued(S + 500))),
        );
        check(
            job(3, sending(S)),
            transient(S, None),
            Ok(job(3, queued(S + 2_000))),
        );
        check(
            job(1, sending(S)),
            transient(S, Some(30)),
            Ok(job(1, queued(31 * S))),
        );
        // Permanent errors wait for the user, who may retry or delete.
        check(job(1, sending(S)), permanent(), Ok(job(1, failed())));
        check(job(0, queued(S)), permanent(), Ok(job(0, failed())));
        check(
            job(1, failed()),
            E::UserRetry { now: 9 * S },
            Ok(job(1, queued(9 * S))),
        );
        check(job(1, failed()), E::UserDelete, Ok(job(1, St::Deleted)));
        check(job(1, failed()), E::Start { now: 9 * S }, Err("start"));
        check(job(0, queued(S)), E::UserDelete, Err("user_delete"));
        // An unknown outcome is reconciled before any resend: adopted, or queued at once.
        check(
            job(1, sending(S)),
            E::OutcomeUnknown,
            Ok(job(1, St::Unknown { started_at: S })),
        );
        check(
            job(1, St::Unknown { started_at: S }),
            E::Reconciled {
                found: Some("SM1".into()),
                now: 2 * S,
            },
            Ok(job(1, sent())),
        );
        check(
            job(1, St::Unknown { started_at: S }),
            E::Reconciled {
                found: None,
                now: 2 * S,
            },
            Ok(job(1, queued(2 * S))),
        );
        check(
            job(1, St::Unknown { started_at: S }),
            E::Start { now: 2 * S },
            Err("start"),
        );
        check(
            job(1, St::Unknown { started_at: S }),
            transient(2 * S, None),
            Err("transient"),
        );
        // Connectivity back: what waits goes now; nothing is pushed later.
        check(
            job(4, queued(60 * S)),
            E::ConnectivityBack { now: 2 * S },
            Ok(job(4, queued(2 * S))),
        );
        check(
            job(4, queued(S)),
            E::ConnectivityBack { now: 2 * S },
            Ok(job(4, queued(S))),
        );
        // Finished jobs take nothing.
        check(job(1, sent()), E::Start { now: S }, Err("start"));
        check(job(1, sent()), permanent(), Err("permanent"));
        check(
            job(1, St::Deleted),
            E::UserRetry { now: S },
            Err("user_retry"),
        );
    }

    fn pending(id: i64, thread: i64, line: i64, sending: bool, due_at: i64) -> Pending {
        Pending {
            id,
            thread: ThreadId(thread),
            line: LineId(line),
            sending,
            due_at,
        }
    }

    /// Plans at time 10 s with lines free unless said otherwise, 1 s between sends of a line.
    fn check_plan(
        jobs: &[Pending],
        busy_lines: &[(i64, i64)],
        slots: usize,
        expected_send: &[i64],
        expected_wake: Option<i64>,
        expected_held: usize,
    ) {
        let mut free: HashMap<LineId, i64> =
            busy_lines.iter().map(|&(l, at)| (LineId(l), at)).collect();
        let got = plan(jobs, 10 * S, &mut free, S, slots);
        assert_eq!(
            got,
            Plan {
                send: expected_send.to_vec(),
                wake_at: expected_wake,
                held: expected_held,
            },
            "{jobs:?}"
        );
        for id in &got.send {
            let line = jobs.iter().find(|j| j.id == *id).unwrap().line;
            assert_eq!(free[&line], 11 * S, "line {line} is busy for a second");
        }
    }

    #[test]
    fn planning() {
        // Nothing pending.
        check_plan(&[], &[], 4, &[], None, 0);
        // Two threads on two lines: both go.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 2, false, 0)],
            &[],
            4,
            &[1, 2],
            None,
            0,
        );
        // Within a thread only the oldest goes, whatever the order given.
        check_plan(
            &[pending(3, 1, 1, false, 0), pending(1, 1, 1, false, 0)],
            &[],
            4,
            &[1],
            None,
            0,
        );
        // An older message in flight (or of unknown outcome) holds back the rest of its thread.
        check_plan(
            &[pending(1, 1, 1, true, 0), pending(2, 1, 1, false, 0)],
            &[],
            4,
            &[],
            None,
            0,
        );
        // An older message waiting out a backoff holds back a newer one that is due.
        check_plan(
            &[pending(1, 1, 1, false, 30 * S), pending(2, 1, 1, false, 0)],
            &[],
            4,
            &[],
            Some(30 * S),
            0,
        );
        // Two threads on one line: one now, the other when the line is free again.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 1, false, 0)],
            &[],
            4,
            &[1],
            Some(11 * S),
            1,
        );
        // A line still busy from an earlier send.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 2, false, 0)],
            &[(1, 10 * S + 400)],
            4,
            &[2],
            Some(10 * S + 400),
            1,
        );
        // The global cap: the oldest due go first.
        check_plan(
            &[
                pending(1, 1, 1, false, 5 * S),
                pending(2, 2, 2, false, 0),
                pending(3, 3, 3, false, 0),
            ],
            &[],
            2,
            &[2, 3],
            None,
            1,
        );
        // Not yet due: only a wake-up time.
        check_plan(
            &[pending(1, 1, 1, false, 12 * S)],
            &[],
            4,
            &[],
            Some(12 * S),
            0,
        );
        // No slot at all: nothing starts.
        check_plan(&[pending(1, 1, 1, false, 0)], &[], 0, &[], None, 1);
    }

    #[test]
    fn rates() {
        let check =
            |rate: f64, expected: i64| assert_eq!(min_interval_ms(rate), expected, "{rate}");
        check(1.0, 1000);
        check(10.0, 100);
        check(3.0, 334);
        check(0.5, 2000);
        check(0.0, 1000);
        check(-1.0, 1000);
        check(f64::NAN, 1000);
        check(f64::INFINITY, 1000);
    }
}
