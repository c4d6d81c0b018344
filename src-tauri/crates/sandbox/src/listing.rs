//! `GET Messages.json`: Twilio's filters (`To`, `From`, `DateSent`, `DateSent>`, `DateSent<`)
//! and paging (`PageSize`, `Page`, `PageToken`), newest first, over messages kept in listing
//! order, so that a page costs what it shows and not the size of the day (a page token names
//! the last message of the previous page, `PA<sid>`, as Twilio's do).

use serde_json::Value;
use switchboard_carrier::dates::{format_day, parse_day, parse_rfc2822};

use crate::quirks::Quirks;
use crate::state::{SandboxMessage, State};
use crate::wire::{self, Paging};

const FILTERS: &[&str] = &["To", "From", "DateSent", "DateSent>", "DateSent<"];

/// A `DateSent` value: a UTC day (`2019-06-11`), or an instant (RFC 2822, or
/// `2019-06-11 22:05:25` in GMT), which Twilio's document also shows it taking.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SentDate {
    Day(String),
    Instant(i64),
}

impl SentDate {
    fn read(value: &str) -> SentDate {
        let value = value.trim();
        if parse_day(value).is_some() {
            return SentDate::Day(value.to_owned());
        }
        parse_rfc2822(value)
            .or_else(|| parse_date_time(value))
            .map_or_else(|| SentDate::Day(value.to_owned()), SentDate::Instant)
    }

    /// How a message sent at `sent_ms` compares with this date, at its resolution.
    fn cmp(&self, sent_ms: i64) -> std::cmp::Ordering {
        match self {
            SentDate::Day(day) => format_day(sent_ms).as_str().cmp(day.as_str()),
            SentDate::Instant(at) => crate::quirks::whole_second(sent_ms).cmp(at),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` (or with a `T`), in GMT.
fn parse_date_time(value: &str) -> Option<i64> {
    let (day, time) = value.split_once([' ', 'T'])?;
    let start = parse_day(day)?;
    let time = time.split('.').next()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next().unwrap_or(Some(0))?);
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(start + ((h * 60 + m) * 60 + s) * 1000)
}

/// One request of `GET Messages.json`.
pub struct Listing {
    to: Option<String>,
    from: Option<String>,
    sent_on: Option<SentDate>,
    sent_from: Option<SentDate>,
    sent_until: Option<SentDate>,
    paging: Paging,
    /// The sid of the last message of the previous page.
    after: Option<String>,
}

/// The page a listing answers: its messages, and whether more follow.
pub struct Page {
    pub messages: Vec<SandboxMessage>,
    pub more: bool,
}

impl Listing {
    pub fn read(query: &[(String, String)]) -> Listing {
        let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let date = |k: &str| get(k).map(|v| SentDate::read(v));
        Listing {
            to: get("To").cloned(),
            from: get("From").cloned(),
            sent_on: date("DateSent"),
            sent_from: date("DateSent>"),
            sent_until: date("DateSent<"),
            paging: Paging::read(query, FILTERS),
            after: get("PageToken").and_then(|t| t.strip_prefix("PA").map(str::to_owned)),
        }
    }

    fn matches(&self, m: &SandboxMessage) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let dated = self.sent_on.is_some() || self.sent_from.is_some() || self.sent_until.is_some();
        // Twilio's DateSent filters skip messages not sent yet.
        let date_ok = match m.sent_at {
            None => !dated,
            Some(sent) => {
                self.sent_on.as_ref().is_none_or(|d| d.cmp(sent).is_eq())
                    && self.sent_from.as_ref().is_none_or(|d| d.cmp(sent) != Less)
                    && self
                        .sent_until
                        .as_ref()
                        .is_none_or(|d| d.cmp(sent) != Greater)
            }
        };
        date_ok
            && self.to.as_deref().is_none_or(|to| m.to.as_str() == to)
            && self
                .from
                .as_deref()
                .is_none_or(|from| m.from.as_str() == from)
    }

    /// The page this listing asks for, of the messages `quirks` lets a list show.
    pub fn page(&self, state: &State, quirks: &Quirks) -> Page {
        // Messages are oldest first: the page starts just before the token's message (or at
        // the newest) and walks back.
        let end = match &self.after {
            None => state.messages.len(),
            Some(sid) => match state.message(sid) {
                Some(last) => {
                    let key = last.order();
                    state.messages.partition_point(|m| m.order() < key)
                }
                // A token of no message: nothing after it.
                None => 0,
            },
        };
        let mut found = state.messages[..end]
            .iter()
            .rev()
            .filter(|m| quirks.listed(m) && self.matches(m));
        let messages: Vec<SandboxMessage> = found
            .by_ref()
            .take(self.paging.page_size)
            .cloned()
            .collect();
        let more = found.next().is_some();
        Page { messages, more }
    }

    /// Twilio's answer for `page`.
    pub fn answer(&self, account_sid: &str, page: &Page, quirks: &Quirks) -> Value {
        let path = format!("{}/Messages.json", wire::account_uri(account_sid));
        let next = page.messages.last().filter(|_| page.more).map(|last| {
            self.paging.uri(
                &path,
                self.paging.page + 1,
                Some(&format!("PA{}", last.sid)),
            )
        });
        let items = page
            .messages
            .iter()
            .map(|m| wire::message_json(account_sid, m, quirks.media_ready(m)))
            .collect();
        let token = self.after.as_ref().map(|sid| format!("PA{sid}"));
        wire::envelope(
            "messages",
            items,
            &path,
            &self.paging,
            token.as_deref(),
            next,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_sent_reads_days_and_instants() {
        #[track_caller]
        fn check(value: &str, expected: SentDate) {
            assert_eq!(SentDate::read(value), expected);
        }
        let day = parse_day("2019-06-19").unwrap();
        let at = day + (22 * 3600 + 4 * 60) * 1000;
        check("2019-06-19", SentDate::Day("2019-06-19".into()));
        check("Wed, 19 Jun 2019 22:04:00 -0000", SentDate::Instant(at));
        check("2019-06-19 22:04:00.000", SentDate::Instant(at));
        check("2019-06-19T22:04:00", SentDate::Instant(at));
        check("yesterday", SentDate::Day("yesterday".into()));
    }

    #[test]
    fn an_instant_compares_to_the_second_and_a_day_to_the_day() {
        let at = parse_day("2019-06-19").unwrap() + 3_600_000;
        let instant = SentDate::Instant(at);
        assert!(instant.cmp(at + 999).is_eq());
        assert!(instant.cmp(at + 1000).is_gt());
        assert!(instant.cmp(at - 1).is_lt());
        let day = SentDate::Day("2019-06-19".into());
        assert!(day.cmp(at).is_eq());
        assert!(day.cmp(at + 86_400_000).is_gt());
    }
}
