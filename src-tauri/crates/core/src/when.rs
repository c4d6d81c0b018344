//! A moment in the future as a person types it: RFC 3339 (`2026-12-01T15:00:00Z`, any offset)
//! or a local wall-clock time `YYYY-MM-DD HH:MM` read in this computer's time zone. Used by
//! `snooze THREAD UNTIL` and meant for any other "at a time" (`send --at`).
//!
//! The core does no IO, so it cannot read the time zone: the caller hands in a [`LocalZone`]
//! (the CLI's reads the system's rules; tests use fixed ones). A wall-clock time the zone skips
//! (a daylight-saving gap) is refused; one it repeats (the hour after the clocks go back) is its
//! first occurrence.

/// A wall-clock time, no zone: what `YYYY-MM-DD HH:MM` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

/// Where a wall-clock time falls in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalMapping {
    /// Milliseconds since the Unix epoch.
    One(i64),
    /// The clocks went back: the time happened twice; the earlier is first.
    Twice(i64, i64),
    /// The clocks went forward over it: it never happens.
    Never,
}

/// A time zone's rules, as the caller knows them.
pub trait LocalZone {
    fn resolve(&self, wall: WallClock) -> LocalMapping;
}

/// A zone at a fixed offset from UTC, in minutes east (tests, and `Z` itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedOffset(pub i32);

impl LocalZone for FixedOffset {
    fn resolve(&self, wall: WallClock) -> LocalMapping {
        LocalMapping::One(utc_ms(wall, 0) - i64::from(self.0) * 60_000)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("no time was given")]
    Empty,
    #[error(
        "\"{0}\" is not a time Switchboard can read: write it as 2026-12-01T15:00:00Z, or as a \
         local time 2026-12-01 15:00"
    )]
    Unreadable(String),
    #[error("{0} does not exist in this computer's time zone (the clocks skip it)")]
    NotOnTheClock(String),
    #[error("{0} is in the past: choose a time after now")]
    InThePast(String),
}

impl WhenError {
    pub fn code(&self) -> crate::error_code::ErrorCode {
        use crate::error_code::ErrorCode;
        match self {
            WhenError::Empty | WhenError::Unreadable(_) => ErrorCode::TimeUnreadable,
            WhenError::NotOnTheClock(_) => ErrorCode::TimeNotOnTheClock,
            WhenError::InThePast(_) => ErrorCode::TimeInThePast,
        }
    }
}

/// `text` as milliseconds since the Unix epoch, which must be after `now_ms`.
pub fn parse_future(text: &str, now_ms: i64, zone: &impl LocalZone) -> Result<i64, WhenError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WhenError::Empty);
    }
    let at = parse(text, zone)?;
    if at <= now_ms {
        return Err(WhenError::InThePast(text.to_owned()));
    }
    Ok(at)
}

/// `text` (RFC 3339, or local `YYYY-MM-DD HH:MM`) as milliseconds since the Unix epoch.
pub fn parse(text: &str, zone: &impl LocalZone) -> Result<i64, WhenError> {
    let unreadable = || WhenError::Unreadable(text.to_owned());
    let b = text.as_bytes();
    if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(unreadable());
    }
    let wall = WallClock {
        year: number(b, 0, 4).ok_or_else(unreadable)? as i32,
        month: after(b, 4, b'-', 5, 2).ok_or_else(unreadable)?,
        day: after(b, 7, b'-', 8, 2).ok_or_else(unreadable)?,
        hour: number(b, 11, 2).ok_or_else(unreadable)?,
        minute: after(b, 13, b':', 14, 2).ok_or_else(unreadable)?,
    };
    if !valid(wall) {
        return Err(unreadable());
    }
    let rest = &b[16..];
    if rest.is_empty() && b[10] == b' ' {
        return match zone.resolve(wall) {
            LocalMapping::One(at) | LocalMapping::Twice(at, _) => Ok(at),
            LocalMapping::Never => Err(WhenError::NotOnTheClock(text.to_owned())),
        };
    }
    // RFC 3339: seconds, an optional fraction, then `Z` or `±HH:MM`.
    if rest.len() < 3 || rest[0] != b':' {
        return Err(unreadable());
    }
    let second = number(rest, 1, 2)
        .filter(|s| *s <= 60)
        .ok_or_else(unreadable)?;
    let mut i = 3;
    let mut millis = 0;
    if rest.get(i) == Some(&b'.') {
        let digits = rest[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(unreadable());
        }
        for (k, c) in rest[i + 1..i + 1 + digits.min(3)].iter().enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][k];
        }
        i += 1 + digits;
    }
    let offset_minutes = match &rest[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() - i == 6 => {
            let zone = &rest[i..];
            let hours = number(zone, 1, 2)
                .filter(|h| *h < 24)
                .ok_or_else(unreadable)?;
            let minutes = after(zone, 3, b':', 4, 2)
                .filter(|m| *m < 60)
                .ok_or_else(unreadable)?;
            let sign = if *sign == b'-' { -1 } else { 1 };
            sign * (hours * 60 + minutes) as i64
        }
        _ => return Err(unreadable()),
    };
    // A leap second reads as the second after it.
    Ok(utc_ms(wall, 0) + i64::from(second) * 1000 + millis - offset_minutes * 60_000)
}

/// The `len` ASCII digits at `at`.
fn number(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let digits = b.get(at..at + len)?;
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// The digits at `at` after the separator `sep` at `sep_at`.
fn after(b: &[u8], sep_at: usize, sep: u8, at: usize, len: usize) -> Option<u32> {
    (b.get(sep_at) == Some(&sep)).then(|| number(b, at, len))?
}

fn valid(w: WallClock) -> bool {
    let leap = (w.year % 4 == 0 && w.year % 100 != 0) || w.year % 400 == 0;
    let days = match w.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&w.day) && w.hour < 24 && w.minute < 60 && w.year >= 1970
}

/// The wall-clock time read as UTC plus `offset_ms`: Howard Hinnant's `days_from_civil`.
pub fn utc_ms(w: WallClock, offset_ms: i64) -> i64 {
    let (y, m) = if w.month <= 2 {
        (i64::from(w.year) - 1, i64::from(w.month) + 9)
    } else {
        (i64::from(w.year), i64::from(w.month) - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * m + 2) / 5 + i64::from(w.day) - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + i64::from(w.hour) * 3600 + i64::from(w.minute) * 60) * 1000 + offset_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T15:00:00Z.
    const DEC_1_15H: i64 = 1_796_137_200_000;
    const NOW: i64 = DEC_1_15H - 86_400_000;

    /// A zone one hour east whose clocks skip 02:00–03:00 and repeat 01:00–02:00 on March 29,
    /// 2026 and October 25, 2026 respectively (as Europe/Paris does, simplified).
    struct Paris;
    impl LocalZone for Paris {
        fn resolve(&self, w: WallClock) -> LocalMapping {
            let at = utc_ms(w, -3_600_000);
            match (w.month, w.day, w.hour) {
                (3, 29, 2) => LocalMapping::Never,
                (10, 25, 1) => LocalMapping::Twice(at - 3_600_000, at),
                _ => LocalMapping::One(at),
            }
        }
    }

    #[track_caller]
    fn check(text: &str, expected: Result<i64, WhenError>) {
        assert_eq!(parse_future(text, NOW, &Paris), expected, "{text:?}");
    }

    fn unreadable(text: &str) -> Result<i64, WhenError> {
        Err(WhenError::Unreadable(text.to_owned()))
    }

    #[test]
    fn reads_rfc3339_and_local_times() {
        check("2026-12-01T15:00:00Z", Ok(DEC_1_15H));
        check("  2026-12-01T15:00:00Z ", Ok(DEC_1_15H));
        check("2026-12-01t15:00:00z", Ok(DEC_1_15H));
        check("2026-12-01 15:00:00Z", Ok(DEC_1_15H));
        check("2026-12-01T15:00:00.250Z", Ok(DEC_1_15H + 250));
        check("2026-12-01T15:00:00.25Z", Ok(DEC_1_15H + 250));
        check("2026-12-01T15:00:00.123456789Z", Ok(DEC_1_15H + 123));
        check("2026-12-01T16:30:00+01:30", Ok(DEC_1_15H));
        check("2026-12-01T10:00:00-05:00", Ok(DEC_1_15H));
        // Local: Paris is an hour ahead of UTC in December.
        check("2026-12-01 16:00", Ok(DEC_1_15H));
        check(
            "2026-12-31 23:59",
            Ok(utc_ms(wall(2026, 12, 31, 22, 59), 0)),
        );
        check("2028-02-29 12:00", Ok(utc_ms(wall(2028, 2, 29, 11, 0), 0)));
    }

    fn wall(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> WallClock {
        WallClock {
            year,
            month,
            day,
            hour,
            minute,
        }
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        check("", Err(WhenError::Empty));
        check("   ", Err(WhenError::Empty));
        for text in [
            "tomorrow",
            "2026-12-01",
            "2026-12-01T15:00",
            "2026-12-01T15:00:00",
            "2026-12-01 15:00Z",
            "2026-12-01 15:0",
            "2026-13-01 15:00",
            "2026-02-29 15:00",
            "2026-04-31 15:00",
            "2026-12-00 15:00",
            "2026-12-01 24:00",
            "2026-12-01 15:60",
            "2026/12/01 15:00",
            "2026-12-01T15:00:00+0100",
            "2026-12-01T15:00:00+25:00",
            "2026-12-01T15:00:00.Z",
            "2026-12-01T15:00:61Z",
            "2026-12-01 15:00 tomorrow",
            "２０２６-12-01 15:00",
        ] {
            check(text, unreadable(text.trim()));
        }
    }

    #[test]
    fn a_time_in_the_past_or_now_is_refused() {
        let past = "2026-11-30T15:00:00Z"; // NOW exactly
        check(past, Err(WhenError::InThePast(past.into())));
        check(
            "2020-01-01 09:00",
            Err(WhenError::InThePast("2020-01-01 09:00".into())),
        );
        assert_eq!(
            parse_future("2026-11-30T15:00:00.001Z", NOW, &Paris),
            Ok(NOW + 1)
        );
    }

    #[test]
    fn daylight_saving_gaps_are_refused_and_repeats_take_the_first() {
        let now = utc_ms(wall(2026, 1, 1, 0, 0), 0);
        assert_eq!(
            parse_future("2026-03-29 02:30", now, &Paris),
            Err(WhenError::NotOnTheClock("2026-03-29 02:30".into()))
        );
        assert_eq!(
            parse_future("2026-10-25 01:30", now, &Paris),
            Ok(utc_ms(wall(2026, 10, 25, 1, 30), -3_600_000) - 3_600_000)
        );
    }

    #[test]
    fn errors_have_codes() {
        use crate::error_code::ErrorCode;
        assert_eq!(WhenError::Empty.code(), ErrorCode::TimeUnreadable);
        assert_eq!(
            WhenError::NotOnTheClock(String::new()).code(),
            ErrorCode::TimeNotOnTheClock
        );
        assert_eq!(
            WhenError::InThePast(String::new()).code(),
            ErrorCode::TimeInThePast
        );
    }

    #[test]
    fn a_fixed_offset_is_east_of_utc() {
        assert_eq!(
            FixedOffset(60).resolve(wall(2026, 12, 1, 16, 0)),
            LocalMapping::One(DEC_1_15H)
        );
    }
}
