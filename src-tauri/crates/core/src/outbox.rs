//! The outbox's rules, with no IO and no clock of their own: when to try a message again (capped
//! exponential backoff with jitter, honouring the carrier's `Retry-After` whatever happens), how
//! an outbox job moves between states, what a lookup of a message in doubt allows (adopt, look
//! again, send again, or give up and ask the user), and which jobs may leave now (order within a
//! thread, a per-line rate limit, a global cap). Times are milliseconds since the Unix epoch,
//! passed in by the caller.

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

/// When the carrier's `Retry-After` (capped at [`MAX_RETRY_AFTER`]) ends, for an answer at
/// `now`: nothing may bring the next request earlier, neither a user's send nor the network
/// coming back.
pub fn not_before(now: i64, retry_after: Option<Duration>) -> Option<i64> {
    retry_after.map(|after| now.saturating_add(after.min(MAX_RETRY_AFTER).as_millis() as i64))
}

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
/// unknown), and `Unconfirmed` as `failed` with the code `unconfirmed`
/// ([`crate::error_code::ErrorCode::Unconfirmed`]); `Sent` and
/// `Deleted` jobs leave the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting; may leave at `due_at`, and never before `not_before` (the end of the carrier's
    /// `Retry-After`), which nothing brings forward.
    Queued {
        due_at: i64,
        not_before: Option<i64>,
    },
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
    /// The carrier answered every lookup of a message in doubt with an error: whether it has
    /// the message cannot be told. Waits for the user like a failure and blocks nothing; a
    /// retry reconciles first (adopts it if found, sends it only if it never arrived).
    Unconfirmed { started_at: i64 },
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
    /// Reconciliation asked the carrier: `Some(sid)` means it has the message (adopt it);
    /// `None`, at or after `settled_at` (see [`settled_at`]), that it never got it (send again,
    /// now, with the same idempotency key). A `None` sooner proves nothing and is refused.
    Reconciled {
        found: Option<String>,
        now: i64,
        settled_at: i64,
    },
    /// The carrier keeps refusing to say whether it has the message (see [`judge`]).
    Unconfirmable,
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
            JobState::Unconfirmed { .. } => "unconfirmed",
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
            JobEvent::Unconfirmable => "unconfirmable",
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
        (S::Queued { due_at, .. }, E::Start { now }) if *due_at <= now => Job {
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
                not_before: not_before(now, retry_after),
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
        (
            S::Unknown { .. },
            E::Reconciled {
                found: None,
                now,
                settled_at,
            },
        ) if now >= settled_at => to(S::Queued {
            due_at: now,
            not_before: None,
        }),
        (S::Unknown { started_at }, E::Unconfirmable) => to(S::Unconfirmed {
            started_at: *started_at,
        }),
        (S::Queued { due_at, not_before }, E::ConnectivityBack { now }) => to(S::Queued {
            due_at: (*due_at).min(now.max(not_before.unwrap_or(i64::MIN))),
            not_before: *not_before,
        }),
        (S::Failed { .. }, E::UserRetry { now }) => to(S::Queued {
            due_at: now,
            not_before: None,
        }),
        // Whatever the carrier may have, it is asked again before anything is sent.
        (S::Unconfirmed { started_at }, E::UserRetry { .. }) => to(S::Unknown {
            started_at: *started_at,
        }),
        (S::Failed { .. } | S::Unconfirmed { .. }, E::UserDelete) => to(S::Deleted),
        _ => return Err(refused),
    })
}

/// Added to the carrier's settle before a message in doubt may be sent again: the attempt's
/// start is written a moment before its request leaves, timers fire late, and this computer's
/// clock may be stepped by a few seconds while we wait.
pub const RECONCILE_MARGIN: Duration = Duration::from_secs(10);

/// Lookups in a row that the carrier answers with an error before a message in doubt is handed
/// to the user as unconfirmed, rather than blocking its thread for ever.
pub const UNCONFIRMED_AFTER: u32 = 5;

/// What the user reads on an unconfirmed message.
pub const UNCONFIRMED_SENTENCE: &str = "Switchboard couldn't confirm whether this message was \
     sent. Retry checks with the carrier first and sends it only if it never arrived; Delete \
     removes it.";

/// The first instant, by this computer's clock, at which a message whose attempt began at
/// `started_at` can no longer turn up at the carrier: the carrier's settle (its
/// `Capabilities::settle`: how long after a send began its message may still be unlisted) plus
/// [`RECONCILE_MARGIN`]. Only a lookup at or after it that finds nothing allows sending the
/// message again.
pub fn settled_at(started_at: i64, settle: Duration) -> i64 {
    started_at
        .saturating_add(settle.as_millis() as i64)
        .saturating_add(RECONCILE_MARGIN.as_millis() as i64)
}

/// A job whose outcome is unknown, between two lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doubt {
    /// When the attempt in doubt began.
    pub started_at: i64,
    /// See [`settled_at`].
    pub settled_at: i64,
    /// Lookups so far that settled nothing (the backoff grows with them).
    pub lookups: u32,
    /// Lookups in a row that the carrier answered with an error.
    pub refused: u32,
}

impl Doubt {
    pub fn new(started_at: i64, settle: Duration) -> Doubt {
        Doubt {
            started_at,
            settled_at: settled_at(started_at, settle),
            lookups: 0,
            refused: 0,
        }
    }
}

/// What a lookup of a message in doubt got, once the carrier's candidates that other messages
/// of ours already hold were ruled out (an adopted candidate never reaches [`judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The carrier answered, and has nothing that can be this message.
    NotFound,
    /// The carrier answered the lookup with an error that waiting does not cure by itself
    /// (refused credentials, a request it rejects, an answer it cannot give).
    Refused,
    /// No answer: offline, a timeout, a struggling carrier (5xx, 429). Says nothing about the
    /// message and never makes it unconfirmed.
    Unanswered { retry_after: Option<Duration> },
}

/// What to do with a message in doubt after a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It cannot still appear at the carrier: send it again (the same idempotency key).
    Resend,
    /// Ask again at `at`, and never before `not_before` (the carrier's `Retry-After`).
    LookAgain { at: i64, not_before: Option<i64> },
    /// The carrier will not say: hand it to the user ([`JobState::Unconfirmed`]).
    Unconfirmed,
}

/// The reconciliation rule: **no resend until the message cannot still appear**. A "not found"
/// before [`Doubt::settled_at`] proves nothing (the carrier may not list it yet): the message
/// is looked up again, at the latest at that instant — earlier too, with a growing backoff, so
/// that a message listed late is adopted soon and unblocks its thread. Only a "not found" at or
/// after it sends again. A carrier that answers [`UNCONFIRMED_AFTER`] lookups in a row with an
/// error makes the message unconfirmed; one that does not answer just waits.
pub fn judge(doubt: &mut Doubt, lookup: Lookup, now: i64, jitter: f64) -> Verdict {
    let (backoff, floor) = match lookup {
        Lookup::NotFound if now >= doubt.settled_at => return Verdict::Resend,
        Lookup::NotFound => {
            doubt.refused = 0;
            (None, None)
        }
        Lookup::Refused => {
            doubt.refused = doubt.refused.saturating_add(1);
            if doubt.refused >= UNCONFIRMED_AFTER {
                return Verdict::Unconfirmed;
            }
            (None, None)
        }
        Lookup::Unanswered { retry_after } => (retry_after, not_before(now, retry_after)),
    };
    doubt.lookups = doubt.lookups.saturating_add(1);
    let delay = retry_delay(doubt.lookups, jitter, backoff);
    let at = now.saturating_add(delay.as_millis() as i64);
    let at = match lookup {
        Lookup::NotFound => at.min(doubt.settled_at),
        _ => at,
    };
    Verdict::LookAgain {
        at,
        not_before: floor,
    }
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
        let queued = |due_at| St::Queued {
            due_at,
            not_before: None,
        };
        let floored = |due_at, not_before| St::Queued {
            due_at,
            not_before: Some(not_before),
        };
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
            Ok(job(1, floored(31 * S, 31 * S))),
        );
        // A Retry-After shorter than our backoff still sets the floor, and a hostile one is
        // capped.
        check(
            job(9, sending(S)),
            transient(S, Some(30)),
            Ok(job(9, floored(129 * S, 31 * S))),
        );
        check(
            job(1, sending(S)),
            transient(S, Some(86_400)),
            Ok(job(1, floored(3_601 * S, 3_601 * S))),
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
        // An unknown outcome is reconciled before any resend: adopted, or queued at once once
        // it cannot still appear; a "not found" sooner proves nothing.
        let unknown = || St::Unknown { started_at: S };
        let reconciled = |found: Option<&str>, now, settled_at| E::Reconciled {
            found: found.map(str::to_owned),
            now,
            settled_at,
        };
        check(job(1, sending(S)), E::OutcomeUnknown, Ok(job(1, unknown())));
        check(
            job(1, unknown()),
            reconciled(Some("SM1"), 2 * S, 70 * S),
            Ok(job(1, sent())),
        );
        check(
            job(1, unknown()),
            reconciled(None, 70 * S, 70 * S),
            Ok(job(1, queued(70 * S))),
        );
        check(
            job(1, unknown()),
            reconciled(None, 69 * S, 70 * S),
            Err("reconciled"),
        );
        check(job(1, unknown()), E::Start { now: 2 * S }, Err("start"));
        check(job(1, unknown()), transient(2 * S, None), Err("transient"));
        // A carrier that will not say: the user decides, and a retry asks it again first.
        let unconfirmed = || St::Unconfirmed { started_at: S };
        check(
            job(1, unknown()),
            E::Unconfirmable,
            Ok(job(1, unconfirmed())),
        );
        check(
            job(1, unconfirmed()),
            E::UserRetry { now: 90 * S },
            Ok(job(1, unknown())),
        );
        check(
            job(1, unconfirmed()),
            E::UserDelete,
            Ok(job(1, St::Deleted)),
        );
        check(job(1, unconfirmed()), E::Start { now: S }, Err("start"));
        check(job(1, sending(S)), E::Unconfirmable, Err("unconfirmable"));
        // Connectivity back: what waits goes now, but never before the carrier's Retry-After;
        // nothing is pushed later.
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
        check(
            job(1, floored(60 * S, 31 * S)),
            E::ConnectivityBack { now: 2 * S },
            Ok(job(1, floored(31 * S, 31 * S))),
        );
        check(
            job(1, floored(31 * S, 31 * S)),
            E::ConnectivityBack { now: 2 * S },
            Ok(job(1, floored(31 * S, 31 * S))),
        );
        check(
            job(1, floored(60 * S, 31 * S)),
            E::ConnectivityBack { now: 40 * S },
            Ok(job(1, floored(40 * S, 31 * S))),
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

    #[test]
    fn a_message_in_doubt_is_sent_again_only_once_it_cannot_still_appear() {
        // Sent at 0 s to a carrier that settles in 60 s: settled at 70 s with the margin.
        let fresh = || Doubt::new(0, Duration::from_secs(60));
        assert_eq!(fresh().settled_at, 70 * S);
        let look_again = |at| Verdict::LookAgain {
            at,
            not_before: None,
        };
        #[track_caller]
        fn check(doubt: &mut Doubt, lookup: Lookup, now: i64, expected: Verdict) {
            assert_eq!(
                judge(doubt, lookup, now, 0.0),
                expected,
                "{lookup:?} at {now}"
            );
        }
        let mut d = fresh();
        // Not found early: looked up again with a growing backoff, and at the settle instant
        // at the latest; only then sent again.
        check(&mut d, Lookup::NotFound, S, look_again(S + 500));
        check(&mut d, Lookup::NotFound, 2 * S, look_again(3 * S));
        check(&mut d, Lookup::NotFound, 64 * S, look_again(66 * S));
        d.lookups = 20;
        check(&mut d, Lookup::NotFound, 66 * S, look_again(70 * S));
        check(&mut d, Lookup::NotFound, 70 * S - 1, look_again(70 * S));
        check(&mut d, Lookup::NotFound, 70 * S, Verdict::Resend);
        check(&mut fresh(), Lookup::NotFound, 3_600 * S, Verdict::Resend);

        // No answer waits, however long, honouring Retry-After; never unconfirmed.
        let mut d = fresh();
        for _ in 0..100 {
            let Verdict::LookAgain { .. } = judge(
                &mut d,
                Lookup::Unanswered { retry_after: None },
                3_600 * S,
                0.0,
            ) else {
                panic!("an unanswered lookup only waits");
            };
        }
        check(
            &mut fresh(),
            Lookup::Unanswered {
                retry_after: Some(Duration::from_secs(30)),
            },
            S,
            Verdict::LookAgain {
                at: 31 * S,
                not_before: Some(31 * S),
            },
        );

        // Refusals in a row make it unconfirmed; an answer between them starts the count again.
        let mut d = fresh();
        for n in 1..UNCONFIRMED_AFTER {
            let verdict = judge(&mut d, Lookup::Refused, 3_600 * S, 0.0);
            assert!(matches!(verdict, Verdict::LookAgain { .. }), "refusal {n}");
        }
        // The fifth lookup: 8 s of backoff.
        check(&mut d, Lookup::NotFound, 10 * S, look_again(18 * S));
        for _ in 1..UNCONFIRMED_AFTER {
            let verdict = judge(&mut d, Lookup::Refused, 3_600 * S, 0.0);
            assert!(matches!(verdict, Verdict::LookAgain { .. }), "{d:?}");
        }
        check(&mut d, Lookup::Refused, 3_600 * S, Verdict::Unconfirmed);
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
