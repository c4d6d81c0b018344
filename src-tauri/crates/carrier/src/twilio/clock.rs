//! The carrier's clock as seen from here. Every date Twilio writes (a message's `date_created`,
//! a listing's order) is on its clock, and a desktop's clock may be minutes off: the lookup of a
//! sent message and the sync's first window must be placed on the carrier's time line, or a fast
//! desktop looks for its message after the carrier dated it. Each answer's HTTP `Date` header
//! tells the carrier's time to the second; that is enough, since its dates have seconds too.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::dates::parse_rfc2822;

/// The offset (carrier minus this computer, in ms) measured on the latest answer that carried a
/// `Date` header.
#[derive(Debug, Default)]
pub(super) struct CarrierClock {
    offset_ms: AtomicI64,
    known: AtomicBool,
}

impl CarrierClock {
    /// Takes the `Date` of an answer to a request sent at `sent_ms` and answered at
    /// `answered_ms` (both this computer's clock). The carrier wrote the header somewhere in
    /// between, rounded down to its second: the middle of both, half a second on, is the best
    /// guess, within half a second plus half the round trip.
    pub(super) fn observe(&self, date: Option<&str>, sent_ms: i64, answered_ms: i64) {
        let Some(carrier_ms) = date.and_then(parse_rfc2822) else {
            return;
        };
        let here_ms = sent_ms + (answered_ms - sent_ms) / 2;
        self.offset_ms
            .store(carrier_ms + 500 - here_ms, Ordering::Relaxed);
        self.known.store(true, Ordering::Release);
    }

    /// How far the carrier's clock is ahead of this computer's (negative: behind), once an
    /// answer has told.
    pub(super) fn offset_ms(&self) -> Option<i64> {
        self.known
            .load(Ordering::Acquire)
            .then(|| self.offset_ms.load(Ordering::Relaxed))
    }

    /// This computer's instant `local_ms` on the carrier's clock (unchanged while the offset is
    /// unknown).
    pub(super) fn to_carrier(&self, local_ms: i64) -> i64 {
        local_ms + self.offset_ms().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_comes_from_the_date_header_and_the_round_trip() {
        let clock = CarrierClock::default();
        assert_eq!(clock.offset_ms(), None);
        assert_eq!(
            clock.to_carrier(1_000),
            1_000,
            "unknown: this computer's time"
        );
        clock.observe(None, 0, 0);
        assert_eq!(clock.offset_ms(), None, "no header tells nothing");

        // The carrier says 07:28:00 while this computer reads 07:29:30.0 to 07:29:30.4: this
        // desktop is 90 s fast.
        let carrier = parse_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let here = carrier + 90_000;
        clock.observe(Some("Wed, 21 Oct 2015 07:28:00 GMT"), here, here + 400);
        let offset = clock.offset_ms().unwrap();
        assert!((-90_000..=-89_000).contains(&offset), "{offset}");
        assert_eq!(clock.to_carrier(here), here + offset);

        clock.observe(Some("not a date"), 0, 0);
        assert_eq!(
            clock.offset_ms(),
            Some(offset),
            "an unreadable header is ignored"
        );
    }
}
