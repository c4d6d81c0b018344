//! Reconciling a message whose outcome is unknown (a lost answer, a crash mid-request): the rule
//! that nothing is sent again while the message could still turn up at the carrier, and when a
//! carrier that will not answer hands the message to the user.

use std::time::Duration;

use super::backoff::{not_before, retry_delay};

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
    /// The carrier will not say: hand it to the user ([`super::JobState::Unconfirmed`]).
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
#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

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
}
