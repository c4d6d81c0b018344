//! This computer's time zone for core's `when` (`snooze THREAD "2026-12-01 15:00"`): the
//! system's rules through chrono (`TZ`, else /etc/localtime, else the OS's setting).

use chrono::{Local, LocalResult, NaiveDate, TimeZone};
use switchboard_engine::core::when::{LocalMapping, LocalZone, WallClock};

pub struct SystemZone;

impl LocalZone for SystemZone {
    fn resolve(&self, w: WallClock) -> LocalMapping {
        let Some(naive) = NaiveDate::from_ymd_opt(w.year, w.month, w.day)
            .and_then(|d| d.and_hms_opt(w.hour, w.minute, 0))
        else {
            return LocalMapping::Never;
        };
        match Local.from_local_datetime(&naive) {
            LocalResult::Single(t) => LocalMapping::One(t.timestamp_millis()),
            LocalResult::Ambiguous(first, second) => {
                LocalMapping::Twice(first.timestamp_millis(), second.timestamp_millis())
            }
            LocalResult::None => LocalMapping::Never,
        }
    }
}
