//! Real Twilio's habits, which an ideal fake would hide from the client: a new message is
//! listed only after a while, an MMS reports its media late, a trial account rewrites bodies,
//! and the carrier's clock is not this computer's. Each is off until switched on, and lives in
//! memory only: a restarted sandbox starts with none, so a forgotten switch cannot haunt the
//! next run.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::state::SandboxMessage;

/// What Twilio puts before every outbound body of a trial account.
pub const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";

/// The longest lag or skew the sandbox accepts: longer is a typo, not a carrier.
const MAX_SECS: f64 = 366.0 * 86_400.0;

/// The quirks in force. `Default` is the ideal carrier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quirks {
    /// A message created through the API (or received) appears in list answers and lookups
    /// (`GET Messages/{Sid}.json`, its Media) only this long after its creation.
    #[serde(rename = "list_lag_secs", with = "secs")]
    pub list_lag: Duration,
    /// For this long after an MMS is created its `num_media` is "0" and its Media list empty.
    #[serde(rename = "media_lag_secs", with = "secs")]
    pub media_lag: Duration,
    /// Outbound bodies are stored and answered with [`TRIAL_PREFIX`] before them, and the
    /// account says it is a trial.
    pub trial: bool,
    /// How far the sandbox's clock runs from this computer's (negative: behind). Every date
    /// it makes and the `Date` header of every API answer are shifted by it.
    pub clock_skew_secs: i64,
}

/// A change of some quirks (the control API's `POST /_sandbox/quirks`); the others stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuirksChange {
    pub list_lag_secs: Option<f64>,
    pub media_lag_secs: Option<f64>,
    pub trial: Option<bool>,
    pub clock_skew_secs: Option<i64>,
}

impl QuirksChange {
    /// `quirks` with this change, or why it is refused (nothing changes then).
    pub fn apply(&self, quirks: Quirks) -> Result<Quirks, String> {
        let lag = |what: &str, secs: Option<f64>, current: Duration| match secs {
            None => Ok(current),
            Some(s) if (0.0..=MAX_SECS).contains(&s) => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(format!(
                "{what} must be between 0 and {MAX_SECS} seconds, not {s}"
            )),
        };
        let skew = match self.clock_skew_secs {
            None => quirks.clock_skew_secs,
            Some(s) if (s.unsigned_abs() as f64) <= MAX_SECS => s,
            Some(s) => {
                return Err(format!(
                    "the clock skew must be within {MAX_SECS} seconds either way, not {s}"
                ))
            }
        };
        Ok(Quirks {
            list_lag: lag("the list lag", self.list_lag_secs, quirks.list_lag)?,
            media_lag: lag("the media lag", self.media_lag_secs, quirks.media_lag)?,
            trial: self.trial.unwrap_or(quirks.trial),
            clock_skew_secs: skew,
        })
    }
}

impl Quirks {
    /// The sandbox's clock now, in whole seconds (as Twilio's RFC 2822 dates are).
    pub fn now_ms(&self) -> i64 {
        whole_second(self.now_exact_ms())
    }

    /// The sandbox's clock now, to the millisecond, for the `Date` header.
    pub(crate) fn now_exact_ms(&self) -> i64 {
        crate::now_ms() + self.clock_skew_secs.saturating_mul(1000)
    }

    /// Whether a list or a lookup shows `message` yet.
    pub(crate) fn listed(&self, message: &SandboxMessage) -> bool {
        older_than(message, self.list_lag)
    }

    /// Whether `message`'s media are reported yet.
    pub(crate) fn media_ready(&self, message: &SandboxMessage) -> bool {
        older_than(message, self.media_lag)
    }
}

/// Lags count on this process's monotonic clock from when the sandbox took the message in, so
/// a clock skew changed meanwhile does not move them; a message from an earlier run is old.
fn older_than(message: &SandboxMessage, lag: Duration) -> bool {
    lag.is_zero()
        || message
            .arrived
            .is_none_or(|arrived: Instant| arrived.elapsed() >= lag)
}

/// `ms` down to its whole second.
pub fn whole_second(ms: i64) -> i64 {
    ms - ms.rem_euclid(1000)
}

/// A duration as seconds (fractions allowed) in JSON.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let before = Quirks {
            trial: true,
            clock_skew_secs: -90,
            ..Quirks::default()
        };
        let change = QuirksChange {
            list_lag_secs: Some(1.5),
            ..QuirksChange::default()
        };
        let after = change.apply(before).unwrap();
        assert_eq!(after.list_lag, Duration::from_millis(1500));
        assert!(after.trial);
        assert_eq!(after.clock_skew_secs, -90);
    }

    #[test]
    fn a_change_out_of_bounds_is_refused_whole() {
        #[track_caller]
        fn refused(change: QuirksChange) {
            assert!(change.apply(Quirks::default()).is_err(), "{change:?}");
        }
        refused(QuirksChange {
            list_lag_secs: Some(-1.0),
            ..QuirksChange::default()
        });
        refused(QuirksChange {
            media_lag_secs: Some(f64::NAN),
            ..QuirksChange::default()
        });
        refused(QuirksChange {
            clock_skew_secs: Some(i64::MIN),
            ..QuirksChange::default()
        });
    }

    #[test]
    fn whole_seconds_round_down_on_both_sides_of_the_epoch() {
        assert_eq!(whole_second(1_767_225_599_999), 1_767_225_599_000);
        assert_eq!(whole_second(1_000), 1_000);
        assert_eq!(whole_second(-1), -1_000);
    }
}
