//! Where the inbound sync left off with Twilio, in the carrier's own dates: the newest message
//! listed so far, what was reported of the few messages just before it (the overlap that
//! absorbs Twilio's listing lag), the outbound messages still worth asking about one by one,
//! the MMS waiting for their media, and, after a long absence, where the catching up resumes.
//!
//! Everything in it is bounded, and nothing in it depends on when a round ran: a round that
//! finds nothing writes back exactly the cursor it read, which the engine need not save.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CarrierStatus, SyncCursor};

/// The cursor's form; another (an older client's, a damaged one) reads as a fresh cursor.
const VERSION: u32 = 2;
/// Messages remembered in the overlap. Only an account receiving thousands of messages a
/// minute comes near it; past it the oldest are forgotten, and if they are listed again they
/// are reported again, which the engine's deduplication by carrier id absorbs.
pub(super) const RECENT_MAX: usize = 2_000;
/// Outbound messages watched one by one, the newest kept.
pub(super) const WATCH_MAX: usize = 100;
/// MMS held back for their media at once; past it, they are reported without waiting.
pub(super) const HELD_MAX: usize = 50;

/// What was reported of a message in the overlap: its status and its `date_created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Seen(pub(super) CarrierStatus, pub(super) i64);

/// An outbound message whose status may still change, past the overlap: its status reported,
/// its `date_created`, and when to ask again (carrier's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Watched {
    pub(super) status: CarrierStatus,
    pub(super) created_ms: i64,
    pub(super) due_ms: i64,
}

/// An MMS listed before its media were: its `date_created` and when it was first listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Held {
    pub(super) created_ms: i64,
    pub(super) since_ms: i64,
}

/// A walk cut short by a round's budget: the listing page it goes on with, the date it goes
/// down to, what was already reported of the messages just above that date (the overlap of the
/// round that opened it), and whether it is a first sync's history (reported as backfill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Gap {
    pub(super) next: String,
    pub(super) until_ms: i64,
    pub(super) history: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) seen: BTreeMap<String, Seen>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TwilioCursor {
    /// The newest `date_created` listed; `None` until a first sync has run.
    pub(super) newest_ms: Option<i64>,
    pub(super) recent: BTreeMap<String, Seen>,
    pub(super) watch: BTreeMap<String, Watched>,
    pub(super) held: BTreeMap<String, Held>,
    pub(super) gap: Option<Gap>,
}

/// The cursor's JSON: `{"v": 2, "newest": 1764000000000, "recent": {"SM…": ["delivered",
/// 1764000000000]}, …}`, empty parts left out.
#[derive(Debug, Serialize, Deserialize)]
struct CursorJson {
    v: u32,
    newest: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    recent: BTreeMap<String, Seen>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    watch: BTreeMap<String, Watched>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    held: BTreeMap<String, Held>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gap: Option<Gap>,
}

impl TwilioCursor {
    /// A fresh, unreadable or older cursor means a first sync.
    pub(super) fn read(cursor: &SyncCursor) -> TwilioCursor {
        match serde_json::from_value::<CursorJson>(cursor.0.clone()) {
            Ok(c) if c.v == VERSION => TwilioCursor {
                newest_ms: Some(c.newest),
                recent: c.recent,
                watch: c.watch,
                held: c.held,
                gap: c.gap,
            },
            _ => TwilioCursor::default(),
        }
    }

    /// Its JSON; a cursor that has not run its first sync stays the empty one.
    pub(super) fn write(&self) -> SyncCursor {
        let Some(newest) = self.newest_ms else {
            return SyncCursor::default();
        };
        let json = CursorJson {
            v: VERSION,
            newest,
            recent: self.recent.clone(),
            watch: self.watch.clone(),
            held: self.held.clone(),
            gap: self.gap.clone(),
        };
        SyncCursor(serde_json::to_value(json).unwrap_or_default())
    }
}

/// Whether an outbound message of this status may still change it (to delivered, failed…).
pub(super) fn awaits_delivery(status: CarrierStatus) -> bool {
    matches!(
        status,
        CarrierStatus::Accepted
            | CarrierStatus::Scheduled
            | CarrierStatus::Queued
            | CarrierStatus::Sending
            | CarrierStatus::Sent
    )
}

/// Keeps the `max` entries of `map` with the greatest `key` (the newest; ties by sid, so the
/// result does not depend on the map's history) and returns the others.
pub(super) fn keep_newest<V>(
    map: &mut BTreeMap<String, V>,
    max: usize,
    key: impl Fn(&V) -> i64,
) -> Vec<(String, V)> {
    if map.len() <= max {
        return Vec::new();
    }
    let mut entries: Vec<(String, V)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|(a_sid, a), (b_sid, b)| key(b).cmp(&key(a)).then_with(|| a_sid.cmp(b_sid)));
    let dropped = entries.split_off(max);
    *map = entries.into_iter().collect();
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_json_form_and_others_read_as_fresh() {
        let mut cursor = TwilioCursor {
            newest_ms: Some(1_764_000_000_000),
            ..TwilioCursor::default()
        };
        cursor
            .recent
            .insert("SM1".into(), Seen(CarrierStatus::Sent, 1_764_000_000_000));
        cursor.watch.insert(
            "SM0".into(),
            Watched {
                status: CarrierStatus::Queued,
                created_ms: 1,
                due_ms: 2,
            },
        );
        let json = cursor.write();
        assert_eq!(json.0["v"], 2);
        assert_eq!(json.0["recent"]["SM1"][0], "sent");
        assert!(json.0.get("held").is_none(), "empty parts are left out");
        assert_eq!(TwilioCursor::read(&json), cursor);

        for other in [
            serde_json::Value::Null,
            serde_json::json!({"day": "2026-01-01", "seen": {}}),
            serde_json::json!({"v": 3, "newest": 5}),
        ] {
            assert_eq!(
                TwilioCursor::read(&SyncCursor(other)),
                TwilioCursor::default()
            );
        }
        assert_eq!(TwilioCursor::default().write(), SyncCursor::default());
    }

    #[test]
    fn keep_newest_keeps_the_newest_whatever_the_ties() {
        let mut map: BTreeMap<String, i64> = [("a", 1), ("b", 3), ("c", 2), ("d", 2), ("e", 5)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let dropped = keep_newest(&mut map, 3, |v| *v);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "c", "e"]);
        assert_eq!(dropped, [("d".to_owned(), 2), ("a".to_owned(), 1)]);
        assert!(keep_newest(&mut map, 5, |v| *v).is_empty());
        assert_eq!(map.len(), 3);
    }
}
