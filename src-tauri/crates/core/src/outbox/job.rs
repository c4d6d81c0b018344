//! The state machine of one outbox job: queued, sending, of unknown outcome, sent, failed or
//! unconfirmed, deleted; one transition function, `step`, that refuses what cannot happen.

use std::time::Duration;

use super::backoff::{not_before, retry_delay};

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
    /// `None`, at or after `settled_at` (see [`super::settled_at`]), that it never got it (send again,
    /// now, with the same idempotency key). A `None` sooner proves nothing and is refused.
    Reconciled {
        found: Option<String>,
        now: i64,
        settled_at: i64,
    },
    /// The carrier keeps refusing to say whether it has the message (see [`super::judge`]).
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
#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

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
}
