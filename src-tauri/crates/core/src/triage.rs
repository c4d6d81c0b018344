//! Triage: which view a conversation is in. A thread is in the **inbox** until the user marks
//! it **done** (it then waits in the Done view) or **snoozes** it until a time (it waits in the
//! Snoozed view, and comes back on top of the inbox at that time). A new message — one received,
//! or one the user sends from here — brings a done or snoozed thread back to the inbox; a
//! message recorded quietly (history imported at a first sync, a message the account sent from
//! another device) does not.
//!
//! The store keeps the view as a column so that each view's list is read through an index;
//! it applies these rules as it records each change ([`Arrival::brings_back`], the snooze's end).

use serde::{Deserialize, Serialize};

use crate::error_code::ErrorCode;

/// A view of the conversation list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum View {
    #[default]
    Inbox,
    Snoozed,
    Done,
}

impl View {
    pub const ALL: [View; 3] = [View::Inbox, View::Snoozed, View::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            View::Inbox => "inbox",
            View::Snoozed => "snoozed",
            View::Done => "done",
        }
    }
}

/// What the user made of a thread, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Triage {
    /// Nothing: the thread is in the inbox.
    Open,
    /// Marked done at `at`.
    Done { at: i64 },
    /// Snoozed at `at` until `until` (milliseconds since the Unix epoch).
    Snoozed { at: i64, until: i64 },
}

/// The view a thread is in, given its triage, when its newest message that brings threads back
/// ([`Arrival::brings_back`]) was recorded, and now.
pub fn view_of(triage: Triage, last_arrival_at: Option<i64>, now: i64) -> View {
    let arrived_since = |at: i64| last_arrival_at.is_some_and(|arrival| arrival > at);
    match triage {
        Triage::Open => View::Inbox,
        Triage::Done { at } if arrived_since(at) => View::Inbox,
        Triage::Done { .. } => View::Done,
        Triage::Snoozed { at, until } if arrived_since(at) || now >= until => View::Inbox,
        Triage::Snoozed { .. } => View::Snoozed,
    }
}

/// When a thread comes back by itself: a snooze's end.
pub fn snooze_ends(triage: Triage) -> Option<i64> {
    match triage {
        Triage::Snoozed { until, .. } => Some(until),
        Triage::Open | Triage::Done { .. } => None,
    }
}

/// How a message comes into a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Received from the counterpart (the sync).
    Received,
    /// Sent by the user from this Switchboard (a reply, a new message, a retry).
    SentHere,
    /// Sent by the account from elsewhere (another desktop, the carrier's console), recorded
    /// quietly.
    SentElsewhere,
    /// Past messages recorded as read (a first sync, an import).
    History,
}

impl Arrival {
    /// Whether it brings a done or snoozed thread back to the inbox. Our own send does: after
    /// sending, the affected threads move to the top of the list (DESIGN.md), and a thread that
    /// vanished from the inbox on the user's own reply would look lost.
    pub fn brings_back(self) -> bool {
        match self {
            Arrival::Received | Arrival::SentHere => true,
            Arrival::SentElsewhere | Arrival::History => false,
        }
    }
}

/// The furthest a snooze may reach: a typo of the year should not hide a customer for ever.
pub const MAX_SNOOZE_MS: i64 = 366 * 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnoozeError {
    #[error("that time has passed: snooze until a time after now")]
    InThePast,
    #[error("a conversation can be snoozed for a year at most")]
    TooFar,
}

impl SnoozeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SnoozeError::InThePast => ErrorCode::TimeInThePast,
            SnoozeError::TooFar => ErrorCode::SnoozeTooFar,
        }
    }
}

/// Whether a thread may be snoozed until `until` at `now`.
pub fn check_snooze(until: i64, now: i64) -> Result<(), SnoozeError> {
    if until <= now {
        return Err(SnoozeError::InThePast);
    }
    if until - now > MAX_SNOOZE_MS {
        return Err(SnoozeError::TooFar);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_000_000;

    #[track_caller]
    fn check(triage: Triage, last_arrival: Option<i64>, now: i64, expected: View) {
        assert_eq!(
            view_of(triage, last_arrival, now),
            expected,
            "{triage:?}, last arrival {last_arrival:?}, now {now}"
        );
    }

    #[test]
    fn which_view_a_thread_is_in() {
        use View::*;
        check(Triage::Open, None, T, Inbox);
        check(Triage::Open, Some(T - 5), T, Inbox);
        // Done until a new message.
        check(Triage::Done { at: T }, None, T + 10, Done);
        check(Triage::Done { at: T }, Some(T - 1), T + 10, Done);
        check(Triage::Done { at: T }, Some(T), T + 10, Done);
        check(Triage::Done { at: T }, Some(T + 1), T + 10, Inbox);
        // Done never ends by itself.
        check(Triage::Done { at: T }, None, i64::MAX, Done);
        // Snoozed until its time, or until a new message.
        let snoozed = Triage::Snoozed {
            at: T,
            until: T + 100,
        };
        check(snoozed, None, T + 99, Snoozed);
        check(snoozed, Some(T - 1), T + 99, Snoozed);
        check(snoozed, None, T + 100, Inbox);
        check(snoozed, None, T + 101, Inbox);
        check(snoozed, Some(T + 1), T + 2, Inbox);
    }

    #[test]
    fn only_a_snooze_ends_by_itself() {
        assert_eq!(snooze_ends(Triage::Open), None);
        assert_eq!(snooze_ends(Triage::Done { at: T }), None);
        assert_eq!(
            snooze_ends(Triage::Snoozed {
                at: T,
                until: T + 100
            }),
            Some(T + 100)
        );
    }

    #[test]
    fn what_brings_a_thread_back() {
        let check = |arrival: Arrival, expected: bool| {
            assert_eq!(arrival.brings_back(), expected, "{arrival:?}");
        };
        check(Arrival::Received, true);
        check(Arrival::SentHere, true);
        check(Arrival::SentElsewhere, false);
        check(Arrival::History, false);
    }

    #[test]
    fn a_snooze_ends_after_now_and_within_a_year() {
        #[track_caller]
        fn check(until: i64, expected: Result<(), SnoozeError>) {
            assert_eq!(check_snooze(until, T), expected, "until {until}");
        }
        check(T - 1, Err(SnoozeError::InThePast));
        check(T, Err(SnoozeError::InThePast));
        check(T + 1, Ok(()));
        check(T + MAX_SNOOZE_MS, Ok(()));
        check(T + MAX_SNOOZE_MS + 1, Err(SnoozeError::TooFar));
        assert_eq!(SnoozeError::InThePast.code(), ErrorCode::TimeInThePast);
        assert_eq!(SnoozeError::TooFar.code(), ErrorCode::SnoozeTooFar);
    }

    #[test]
    fn views_serialise_in_snake_case() {
        for view in View::ALL {
            assert_eq!(serde_json::to_value(view).unwrap(), view.as_str());
        }
        assert_eq!(
            serde_json::to_value(Triage::Snoozed { at: 1, until: 2 }).unwrap(),
            serde_json::json!({"state": "snoozed", "at": 1, "until": 2})
        );
    }
}
