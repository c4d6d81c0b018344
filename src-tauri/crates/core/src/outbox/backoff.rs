//! When to try a message (or a lookup) again: capped exponential backoff with jitter, and the
//! carrier's `Retry-After`, which nothing may cut short.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
