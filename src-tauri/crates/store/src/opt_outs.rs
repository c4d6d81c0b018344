//! Opt-outs: who texted STOP to which line (or Messaging Service), learnt from the messages the
//! sync records and from the carrier's 21610 refusals (`switchboard_core::optout` has the
//! rules). One row per (number, scope) holds the last change, out or back in, dated by the
//! message that made it: a change older than the one kept is ignored, so a STOP the carrier
//! lists late never undoes a START sent after it. Written inside the transactions that record
//! those messages and refusals (`carrier_sync`, `outbox`); nothing here imports them.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, E164};
use switchboard_core::optout::{Change, Scope};

use crate::error::Result;
use crate::rows;
use crate::Store;

/// How an opt-out became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOutSource {
    /// The person texted STOP (or another opt-out word).
    Keyword,
    /// The carrier refused a send to them as opted out (Twilio's 21610).
    Carrier,
}

impl OptOutSource {
    fn as_str(self) -> &'static str {
        match self {
            OptOutSource::Keyword => "keyword",
            OptOutSource::Carrier => "carrier",
        }
    }

    fn parse(s: &str) -> OptOutSource {
        match s {
            "carrier" => OptOutSource::Carrier,
            _ => OptOutSource::Keyword,
        }
    }
}

/// A number blocked from sending, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOut {
    pub number: E164,
    pub scope: Scope,
    /// The date of the message (or refusal) that opted them out, in ms.
    pub since: i64,
    pub source: OptOutSource,
}

/// The last change for `number` among the scopes that cover a line: the line's own and its
/// Messaging Service's. `?1` the number, `?2` the line's scope key, `?3` the line id.
const LAST_CHANGE_SQL: &str = "SELECT scope, opted_out, changed_at, source FROM opt_outs
    WHERE number = ?1 AND (scope = ?2 OR scope = (
        SELECT 'service:' || messaging_service FROM lines
        WHERE id = ?3 AND messaging_service IS NOT NULL))
    ORDER BY changed_at DESC LIMIT 1";

impl Store {
    /// Whether `number` has opted out of messages from `line` (its own opt-out, or its
    /// Messaging Service's), and since when.
    pub fn opt_out(&self, line: LineId, number: &E164) -> Result<Option<OptOut>> {
        self.read(|conn| opt_out(conn, line, number))
    }

    /// Every number opted out now, newest first.
    pub fn list_opt_outs(&self) -> Result<Vec<OptOut>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT number, scope, changed_at, source FROM opt_outs
                 WHERE opted_out = 1 ORDER BY changed_at DESC, number",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        rows::e164(r, 0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(number, scope, since, source)| {
                    Some(OptOut {
                        number,
                        scope: Scope::from_key(&scope)?,
                        since,
                        source: OptOutSource::parse(&source),
                    })
                })
                .collect())
        })
    }

    /// The Messaging Service a line's messages last named, if any.
    pub fn line_messaging_service(&self, line: LineId) -> Result<Option<String>> {
        self.read(|conn| messaging_service(conn, line))
    }
}

pub(crate) fn opt_out(conn: &Connection, line: LineId, number: &E164) -> Result<Option<OptOut>> {
    let last = conn
        .prepare_cached(LAST_CHANGE_SQL)?
        .query_row(
            params![number.as_str(), Scope::Line(line).to_key(), line.0],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(match last {
        Some((scope, true, since, source)) => Scope::from_key(&scope).map(|scope| OptOut {
            number: number.clone(),
            scope,
            since,
            source: OptOutSource::parse(&source),
        }),
        _ => None,
    })
}

/// Applies a change made by a message dated `at` from `number`, unless a later one is kept.
/// Returns whether it changed what is kept.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    number: &E164,
    change: &Change,
    at: i64,
    source: OptOutSource,
) -> Result<bool> {
    let (scope, out) = match change {
        Change::OptOut(scope) => (scope, true),
        Change::OptIn(scope) => (scope, false),
    };
    let written = tx
        .prepare_cached(
            "INSERT INTO opt_outs (number, scope, opted_out, changed_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (number, scope) DO UPDATE SET
                opted_out = excluded.opted_out, changed_at = excluded.changed_at,
                source = excluded.source
             WHERE excluded.changed_at >= opt_outs.changed_at",
        )?
        .execute(params![
            number.as_str(),
            scope.to_key(),
            out,
            at,
            source.as_str()
        ])?;
    Ok(written > 0)
}

/// Remembers the Messaging Service a message to `line` named.
pub(crate) fn note_service(tx: &Transaction<'_>, line: LineId, service: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE lines SET messaging_service = ?2
         WHERE id = ?1 AND messaging_service IS NOT ?2",
    )?
    .execute(params![line.0, service])?;
    Ok(())
}

/// The scope a carrier's refusal of a send from `line` covers: its Messaging Service when one
/// is known, else the line.
pub(crate) fn refusal_scope(tx: &Transaction<'_>, line: LineId) -> Result<Scope> {
    let service = messaging_service(tx, line)?;
    Ok(Scope::of_message(line, service.as_deref()))
}

/// The Messaging Service a line's messages last named, if any.
fn messaging_service(conn: &Connection, line: LineId) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT messaging_service FROM lines WHERE id = ?1")?
        .query_row([line.0], |r| r.get(0))
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use switchboard_core::model::ThreadKey;

    use super::*;
    use crate::testutil::{key, num, test_key};
    use crate::{Arrival, InboundMedia, MessageError, NewInbound, NewOutgoing};

    const T0: i64 = 1_700_000_000_000;
    const ADA: &str = "+447700900001";

    fn inbound<'a>(k: &'a ThreadKey, sid: &'a str, body: &'a str, at: i64) -> NewInbound<'a> {
        NewInbound {
            key: k,
            body,
            carrier_sid: sid,
            created_at: at,
            media: InboundMedia::None,
            messaging_service: None,
        }
    }

    fn since(store: &Store, line: LineId) -> Option<i64> {
        store.opt_out(line, &num(ADA)).unwrap().map(|o| o.since)
    }

    #[test]
    fn stop_and_start_follow_the_messages_dates_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::create(&path, test_key()).unwrap();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let support = store
            .add_line(&num("+14155550101"), "Support", "#336699")
            .unwrap()
            .id;
        let k = key(sales, ADA);

        let stop = store.insert_inbound_batch(&[inbound(&k, "SM1", " stop ", T0)], Arrival::New);
        assert!(stop.unwrap()[0].opt_out_changed);
        assert_eq!(since(&store, sales), Some(T0));
        assert_eq!(
            since(&store, support),
            None,
            "a STOP covers its own line only"
        );

        // A START sent later lifts it; the STOP listed again (or late) changes nothing.
        let start =
            store.insert_inbound_batch(&[inbound(&k, "SM2", "Start", T0 + 1000)], Arrival::New);
        assert!(start.unwrap()[0].opt_out_changed);
        assert_eq!(since(&store, sales), None);
        let late =
            store.insert_inbound_batch(&[inbound(&k, "SM0", "QUIT", T0 - 1000)], Arrival::New);
        assert!(
            !late.unwrap()[0].opt_out_changed,
            "an older STOP is history"
        );
        assert_eq!(since(&store, sales), None);

        // A plain message, or a sentence with the word in it, changes nothing.
        let chat = store.insert_inbound_batch(
            &[inbound(&k, "SM3", "please stop by at 3", T0 + 2000)],
            Arrival::New,
        );
        assert!(!chat.unwrap()[0].opt_out_changed);
        store
            .insert_inbound_batch(
                &[inbound(&k, "SM4", "UNSUBSCRIBE", T0 + 3000)],
                Arrival::History,
            )
            .unwrap();
        assert_eq!(since(&store, sales), Some(T0 + 3000), "history counts too");
        drop(store);

        let store = Store::open(&path, test_key()).unwrap();
        let kept = store.list_opt_outs().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (
                kept[0].number.as_str(),
                &kept[0].scope,
                kept[0].since,
                kept[0].source
            ),
            (ADA, &Scope::Line(sales), T0 + 3000, OptOutSource::Keyword)
        );
    }

    #[test]
    fn a_stop_through_a_messaging_service_covers_its_other_lines() {
        let (_dir, store) = crate::testutil::new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let support = store
            .add_line(&num("+14155550101"), "Support", "#336699")
            .unwrap()
            .id;
        let other = store
            .add_line(&num("+14155550102"), "Other", "#336699")
            .unwrap()
            .id;
        // Support's messages name the service too, so it is known to be in it.
        let ks = key(support, "+447700900002");
        let mut hello = inbound(&ks, "SM9", "hello", T0);
        hello.messaging_service = Some("MG1");
        store.insert_inbound_batch(&[hello], Arrival::New).unwrap();
        assert_eq!(
            store.line_messaging_service(support).unwrap().as_deref(),
            Some("MG1")
        );

        let k = key(sales, ADA);
        let mut stop = inbound(&k, "SM1", "STOPALL", T0 + 1);
        stop.messaging_service = Some("MG1");
        store.insert_inbound_batch(&[stop], Arrival::New).unwrap();
        assert_eq!(since(&store, sales), Some(T0 + 1));
        assert_eq!(since(&store, support), Some(T0 + 1));
        assert_eq!(since(&store, other), None, "not in the service");
    }

    #[test]
    fn a_21610_refusal_opts_the_recipient_out_of_the_line() {
        let (_dir, store) = crate::testutil::new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let queued = store
            .enqueue_outgoing(
                &[NewOutgoing {
                    key: key(sales, ADA),
                    body: "Your order is ready".into(),
                    images: Vec::new(),
                    client_id: "c1".into(),
                }],
                T0,
            )
            .unwrap();
        let refused = MessageError {
            code: Some(optout_code()),
            message: "Attempt to send to unsubscribed recipient".into(),
        };
        store
            .mark_failed(queued[0].outbox_id, &refused, T0 + 5)
            .unwrap();
        let kept = store.opt_out(sales, &num(ADA)).unwrap().unwrap();
        assert_eq!((kept.since, kept.source), (T0 + 5, OptOutSource::Carrier));

        // Another permanent error says nothing of opt-outs.
        let other = store
            .enqueue_outgoing(
                &[NewOutgoing {
                    key: key(sales, "+447700900002"),
                    body: "Hello".into(),
                    images: Vec::new(),
                    client_id: "c2".into(),
                }],
                T0,
            )
            .unwrap();
        let invalid = MessageError {
            code: Some("21211".into()),
            message: "Invalid 'To' Phone Number".into(),
        };
        store
            .mark_failed(other[0].outbox_id, &invalid, T0 + 6)
            .unwrap();
        assert_eq!(store.opt_out(sales, &num("+447700900002")).unwrap(), None);
    }

    fn optout_code() -> String {
        switchboard_core::optout::TWILIO_OPTED_OUT.to_owned()
    }

    #[test]
    fn the_lookup_reads_the_primary_key() {
        let (_dir, store) = crate::testutil::new_store();
        let plan = store
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {LAST_CHANGE_SQL}"))?;
                let rows = stmt
                    .query_map(params![ADA, "line:1", 1], |r| r.get::<_, String>(3))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows.join("\n"))
            })
            .unwrap();
        assert!(!plan.contains("SCAN opt_outs"), "{plan}");
        assert!(plan.contains("opt_outs USING PRIMARY KEY"), "{plan}");
    }
}
