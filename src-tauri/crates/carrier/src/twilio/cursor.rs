//! Where the inbound sync left off with Twilio, which can only filter by whole days: the day a
//! round lists from, what it already reported, and the outbound messages still worth watching.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dates::{format_day, parse_day, start_of_day};
use crate::{CarrierMessage, CarrierStatus, SyncCursor};

/// How far back a sync round looks before the newest message it has seen: a message the carrier
/// dates a little earlier than one already listed (clock skew, slow ingestion) is still found.
const SYNC_OVERLAP_MS: i64 = 10 * 60 * 1000;
/// Outbound messages whose status may still change are watched one by one for this long after
/// their day has left the listing window, so a "delivered" after midnight is not lost.
const PENDING_WATCH_MS: i64 = 24 * 60 * 60 * 1000;
/// At most this many such messages are watched, to bound the requests of one round.
const PENDING_MAX: usize = 100;

/// Where `changes` left off. Twilio can only filter by whole days of `date_sent`, so the cursor
/// keeps the day it lists from and what it has already reported from that day on (sid and
/// status, so a status change is reported again), plus outbound messages from earlier days that
/// may still change status.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct TwilioCursor {
    /// Start of the first UTC day still listed.
    pub(super) day_ms: i64,
    /// Reported messages sent on `day_ms` or later, with the status last reported.
    seen: BTreeMap<String, SeenMessage>,
    /// Outbound messages of earlier days whose status may still change, fetched one by one.
    pub(super) pending: BTreeMap<String, SeenMessage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SeenMessage {
    status: CarrierStatus,
    /// `date_sent` (ms), which decides whether the listing still shows it.
    at: i64,
    outbound: bool,
}

/// The cursor's JSON: `{"day": "2024-05-01", "seen": {...}, "pending": {...}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CursorJson {
    day: String,
    #[serde(default)]
    seen: BTreeMap<String, SeenMessage>,
    #[serde(default)]
    pending: BTreeMap<String, SeenMessage>,
}

impl TwilioCursor {
    /// A fresh (or unreadable) cursor starts at yesterday's day, so a first sync sees recent
    /// history without the account's whole past.
    pub(super) fn read(cursor: &SyncCursor, now_ms: i64) -> TwilioCursor {
        let parsed = serde_json::from_value::<CursorJson>(cursor.0.clone())
            .ok()
            .and_then(|c| Some((parse_day(&c.day)?, c)));
        match parsed {
            Some((day_ms, c)) => TwilioCursor {
                day_ms,
                seen: c.seen,
                pending: c.pending,
            },
            None => TwilioCursor {
                day_ms: start_of_day(now_ms - 86_400_000),
                ..TwilioCursor::default()
            },
        }
    }

    pub(super) fn write(&self) -> SyncCursor {
        let json = CursorJson {
            day: format_day(self.day_ms),
            seen: self.seen.clone(),
            pending: self.pending.clone(),
        };
        SyncCursor(serde_json::to_value(json).unwrap_or_default())
    }

    /// Takes one round's messages, returns those new or changed (oldest first) and moves the
    /// window forward to the day of the newest message minus the overlap.
    pub(super) fn absorb(
        &mut self,
        listed: Vec<(CarrierMessage, Option<i64>)>,
        fetched: Vec<CarrierMessage>,
        now_ms: i64,
    ) -> Vec<CarrierMessage> {
        let mut out = Vec::new();
        let mut newest = None::<i64>;
        for (m, sent_at) in listed {
            // Twilio lists by `date_sent` only messages that have one.
            let at = sent_at.unwrap_or(m.created_at);
            newest = newest.max(Some(at));
            let changed = self
                .seen
                .get(&m.sid)
                .or_else(|| self.pending.get(&m.sid))
                .is_none_or(|s| s.status != m.status);
            self.pending.remove(&m.sid);
            self.seen.insert(
                m.sid.clone(),
                SeenMessage {
                    status: m.status,
                    at,
                    outbound: !m.inbound,
                },
            );
            if changed {
                out.push(m);
            }
        }
        for m in fetched {
            let entry = self.pending.get_mut(&m.sid);
            if let Some(seen) = entry {
                if seen.status != m.status {
                    seen.status = m.status;
                    out.push(m);
                }
            }
        }
        if let Some(newest) = newest {
            self.day_ms = self.day_ms.max(start_of_day(newest - SYNC_OVERLAP_MS));
        }
        let day_ms = self.day_ms;
        let (keep, left): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.seen)
            .into_iter()
            .partition(|(_, s)| s.at >= day_ms);
        self.seen = keep;
        self.pending.extend(
            left.into_iter()
                .filter(|(_, s)| s.outbound && !is_final(s.status)),
        );
        let horizon = now_ms - PENDING_WATCH_MS;
        self.pending
            .retain(|_, s| !is_final(s.status) && s.at >= horizon);
        while self.pending.len() > PENDING_MAX {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, s)| s.at)
                .map(|(sid, _)| sid.clone());
            if let Some(sid) = oldest {
                self.pending.remove(&sid);
            }
        }
        out.sort_by_key(|m| m.created_at);
        out
    }
}

fn is_final(status: CarrierStatus) -> bool {
    matches!(
        status,
        CarrierStatus::Delivered
            | CarrierStatus::Undelivered
            | CarrierStatus::Failed
            | CarrierStatus::Received
            | CarrierStatus::Read
            | CarrierStatus::Canceled
    )
}

#[cfg(test)]
mod tests {
    use switchboard_core::model::E164;

    use super::*;

    fn message(sid: &str, status: CarrierStatus, at: i64) -> CarrierMessage {
        CarrierMessage {
            sid: sid.into(),
            from: E164::from_normalized("+14155550100").unwrap(),
            to: E164::from_normalized("+14155550123").unwrap(),
            body: "hi".into(),
            inbound: false,
            status,
            created_at: at,
            error_code: None,
            error_message: None,
            media_urls: vec![],
        }
    }

    #[test]
    fn cursor_reports_each_status_once_and_keeps_watching_after_the_day_moves() {
        let day1 = parse_day("2026-01-01").unwrap();
        let day2 = parse_day("2026-01-02").unwrap();
        let mut cursor = TwilioCursor {
            day_ms: day1,
            ..TwilioCursor::default()
        };
        let late = day1 + 86_400_000 - 1000;
        let now = day2 + 7_200_000;
        let listed = |sid: &str, status, at| vec![(message(sid, status, at), Some(at))];
        let sids = |ms: Vec<CarrierMessage>| ms.into_iter().map(|m| m.sid).collect::<Vec<_>>();

        let first = cursor.absorb(listed("SM1", CarrierStatus::Sent, late), vec![], now);
        assert_eq!(sids(first), ["SM1"]);
        let again = cursor.absorb(listed("SM1", CarrierStatus::Sent, late), vec![], now);
        assert!(
            again.is_empty(),
            "an unchanged message is not reported twice"
        );

        // A message of the next day, well past the overlap, moves the window to day 2: SM1,
        // still only "sent", is then watched by sid.
        let next = cursor.absorb(
            listed("SM2", CarrierStatus::Sent, day2 + 3_600_000),
            vec![],
            now,
        );
        assert_eq!(sids(next), ["SM2"]);
        assert_eq!(cursor.day_ms, day2);
        assert!(cursor.pending.contains_key("SM1"));

        let delivered = cursor.absorb(
            vec![],
            vec![message("SM1", CarrierStatus::Delivered, late)],
            now,
        );
        assert_eq!(sids(delivered), ["SM1"]);
        assert!(
            !cursor.pending.contains_key("SM1"),
            "a final status ends the watch"
        );
    }

    #[test]
    fn cursor_survives_its_json_form() {
        let mut cursor = TwilioCursor {
            day_ms: parse_day("2026-01-01").unwrap(),
            ..TwilioCursor::default()
        };
        let at = cursor.day_ms + 5;
        cursor.absorb(
            vec![(message("SM1", CarrierStatus::Sent, at), Some(at))],
            vec![],
            at,
        );
        let json = cursor.write();
        assert_eq!(json.0["day"], "2026-01-01");
        let back = TwilioCursor::read(&json, 0);
        assert_eq!(back.day_ms, cursor.day_ms);
        assert_eq!(back.seen.len(), 1);
    }
}
