//! The date forms Twilio's 2010 API speaks: RFC 2822 timestamps in GMT on resources
//! (`Fri, 24 May 2019 17:44:46 +0000`) and whole UTC days (`YYYY-MM-DD`) in `DateSent` filters.
//! Shared by the client and the sandbox so both sides agree to the second.

const MS_PER_DAY: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31): Howard Hinnant's
/// `civil_from_days`, so no date crate is needed for the one calendar we use.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `ms` since the epoch as Twilio writes it: `Fri, 24 May 2019 17:44:46 +0000`.
pub fn format_rfc2822(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let secs = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[m as usize - 1],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Reads an RFC 2822 date (weekday optional, numeric or `GMT`/`UT`/`Z` zone) into ms since the
/// epoch. Also reads the RFC 7231 HTTP-date that `Retry-After` may carry, which has this form.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_weekday, rest)) => rest.trim_start(),
        None => s,
    };
    let mut parts = s.split_ascii_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let min: i64 = hms.next()?.parse().ok()?;
    let sec: i64 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
    let offset_min = match parts.next().unwrap_or("+0000") {
        "GMT" | "UT" | "UTC" | "Z" => 0,
        zone => {
            let (sign, digits) = match zone.as_bytes().first()? {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hh: i64 = digits[..2].parse().ok()?;
            let mm: i64 = digits[2..].parse().ok()?;
            sign * (hh * 60 + mm)
        }
    };
    // Bounded before any arithmetic: a carrier's (or a proxy's) absurd year or negative hour
    // is refused, never an overflow.
    if !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&min)
        || !(0..=60).contains(&sec)
        || parts.next().is_some()
    {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + h * 3600 + min * 60 + sec - offset_min * 60;
    Some(secs * 1000)
}

/// The UTC day of `ms`, as `DateSent` filters take it: `2019-05-24`.
pub fn format_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The start (00:00:00 UTC) of a `YYYY-MM-DD` day, in ms since the epoch.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * MS_PER_DAY)
}

/// The start of the UTC day that contains `ms`.
pub fn start_of_day(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY) * MS_PER_DAY
}

/// Milliseconds since the Unix epoch, the unit of every date the carriers exchange with us.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ms: i64, rfc: &str, day: &str) {
        assert_eq!(format_rfc2822(ms), rfc);
        assert_eq!(parse_rfc2822(rfc), Some(ms), "{rfc}");
        assert_eq!(format_day(ms), day);
        assert_eq!(parse_day(day), Some(start_of_day(ms)));
    }

    #[test]
    fn formats_and_reads_back_twilio_dates() {
        check(0, "Thu, 01 Jan 1970 00:00:00 +0000", "1970-01-01");
        // Twilio's own example in its OpenAPI document.
        check(
            1_558_719_886_000,
            "Fri, 24 May 2019 17:44:46 +0000",
            "2019-05-24",
        );
        check(
            951_782_400_000,
            "Tue, 29 Feb 2000 00:00:00 +0000",
            "2000-02-29",
        );
        check(
            1_798_761_599_000,
            "Thu, 31 Dec 2026 23:59:59 +0000",
            "2026-12-31",
        );
    }

    #[test]
    fn reads_other_zones_and_http_dates() {
        let gmt = Some(1_445_412_480_000);
        assert_eq!(parse_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT"), gmt);
        assert_eq!(parse_rfc2822("21 Oct 2015 09:28:00 +0200"), gmt);
        assert_eq!(parse_rfc2822("Wed, 21 Oct 2015 02:28:00 -0500"), gmt);
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in [
            "",
            "yesterday",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "21 Oct 2015 25:00:00 +0000",
            // Absurd years and negative fields: refused, never an overflow.
            "Wed, 21 Oct 99999999999999 07:28:00 GMT",
            "Wed, 21 Oct -9223372036854775808 07:28:00 GMT",
            "Wed, 21 Oct 2015 -1:28:00 GMT",
            "Wed, 21 Oct 2015 07:-28:00 GMT",
        ] {
            assert_eq!(parse_rfc2822(bad), None, "{bad}");
        }
        for bad in ["2015-13-01", "2015-10", "20151021"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
