//! Scheduled messages' rules: when a time to send at is acceptable, and what happens to one
//! found due late (the computer was off or asleep at its time).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A scheduled message found late by at most this long just goes; later than that, it waits
/// for the person to confirm it (a "see you in 10 minutes" sent three hours late is worse than
/// none).
pub const LATE_GRACE_MS: i64 = 15 * 60_000;

/// The furthest ahead a message can be scheduled.
pub const MAX_AHEAD_MS: i64 = 366 * 24 * 3_600_000;

/// A time the composer cannot schedule for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SendAtError {
    #[error("That time has passed: pick a time in the future, or send the message now.")]
    InThePast,
    #[error("A message can be scheduled at most a year ahead.")]
    TooFarAhead,
}

/// Whether a message can be scheduled for `at` (ms) at `now`: a time already passed is
/// refused (a minute's slack for the seconds spent picking it, which then sends at once).
pub fn check_send_at(at: i64, now: i64) -> Result<(), SendAtError> {
    if at < now - 60_000 {
        Err(SendAtError::InThePast)
    } else if at > now + MAX_AHEAD_MS {
        Err(SendAtError::TooFarAhead)
    } else {
        Ok(())
    }
}

/// What a due scheduled message does when looked at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Not yet its time.
    Wait,
    /// On time, or late by at most the grace: it goes.
    Go,
    /// Late by more than the grace: it waits for the person to confirm it.
    Confirm,
}

pub fn due(send_at: i64, now: i64) -> Due {
    if send_at > now {
        Due::Wait
    } else if now - send_at <= LATE_GRACE_MS {
        Due::Go
    } else {
        Due::Confirm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;

    #[test]
    fn times_to_schedule_for() {
        let table = [
            (NOW + MINUTE, Ok(())),
            (NOW, Ok(())),
            (NOW - 30_000, Ok(())),
            (NOW - 2 * MINUTE, Err(SendAtError::InThePast)),
            (NOW + MAX_AHEAD_MS, Ok(())),
            (NOW + MAX_AHEAD_MS + 1, Err(SendAtError::TooFarAhead)),
        ];
        for (at, expected) in table {
            assert_eq!(check_send_at(at, NOW), expected, "{}", at - NOW);
        }
    }

    #[test]
    fn late_ones_wait_for_a_confirmation_past_the_grace() {
        let table = [
            (NOW + 1, Due::Wait),
            (NOW, Due::Go),
            (NOW - MINUTE, Due::Go),
            (NOW - LATE_GRACE_MS, Due::Go),
            (NOW - LATE_GRACE_MS - 1, Due::Confirm),
            (NOW - 8 * 60 * MINUTE, Due::Confirm),
        ];
        for (send_at, expected) in table {
            assert_eq!(due(send_at, NOW), expected, "{}", NOW - send_at);
        }
    }
}
