//! Where the runner's idea of "now" comes from: the wall clock, or, in tests, tokio's paused
//! clock so that backoffs and rate limits pass instantly and deterministically.

use std::time::Duration;

/// Where the runner's idea of "now" comes from. Times in the store are wall-clock milliseconds.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock (the app and the CLI).
    System,
    /// Wall time at `origin` plus tokio's elapsed time since: with tokio's clock paused, tests
    /// move through backoffs and rate limits instantly and deterministically.
    Tokio {
        origin_ms: i64,
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// A [`Clock::Tokio`] starting at the current wall time.
    pub fn tokio() -> Clock {
        Clock::Tokio {
            origin_ms: crate::now_ms(),
            origin: tokio::time::Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => crate::now_ms(),
            Clock::Tokio { origin_ms, origin } => {
                origin_ms
                    + tokio::time::Instant::now()
                        .duration_since(*origin)
                        .as_millis() as i64
            }
        }
    }

    /// The tokio instant at which this clock reads `at_ms` (now, if that is past).
    pub(super) fn instant_at(&self, at_ms: i64) -> tokio::time::Instant {
        let wait = at_ms.saturating_sub(self.now_ms()).max(0);
        tokio::time::Instant::now() + Duration::from_millis(wait as u64)
    }
}
