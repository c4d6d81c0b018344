//! What the carrier reports, as the inbound sync writes it: received messages deduplicated by
//! the carrier's id (news, or a first sync's history recorded as read; a page in one
//! transaction), the messages the account sent from somewhere else (a colleague's desktop, the
//! console), delivery statuses of the messages we sent, and lookups by carrier id.
//!
//! A message sent elsewhere is recorded only when no job of ours could be it: a job of its
//! thread whose outcome is in doubt (`sending`, or failed as `unconfirmed`) may be that very
//! message, whose answer was lost, and its reconciliation rules out every candidate the store
//! already holds — recording the message would make that job be sent again. The check and the
//! write are one transaction, so no `mark_sent` can come in between.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::{Direction, MessageId, MessageStatus, ThreadId, ThreadKey};
use switchboard_core::optout;
use switchboard_core::triage;

use crate::error::{Result, StoreError};
use crate::messages::{
    allocate_message_ids, check_lines, index_bodies, insert_images, insert_message,
    insert_pending_media, is_forgotten, set_message_status, MessageError, NewImage, NewRow,
};
use crate::opt_outs::{self, OptOutSource};
use crate::rows;
use crate::threads::upsert_thread;
use crate::Store;

/// The result of recording an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub thread_id: ThreadId,
    pub message_id: MessageId,
    /// False when the carrier id was already recorded: nothing was written (no notification).
    pub is_new: bool,
    /// Whether it opted its sender out of the line or back in (a STOP or a START that changed
    /// what was kept).
    pub opt_out_changed: bool,
}

/// A message found by its carrier id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidMatch {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    pub direction: Direction,
    pub status: MessageStatus,
}

/// The outbound message a delivery status is about.
pub(crate) const DELIVERY_STATUS_SQL: &str =
    "SELECT id, status FROM messages WHERE carrier_sid = ?1 AND direction = ?2";

pub(crate) const BY_SID_SQL: &str =
    "SELECT id, thread_id, direction, status FROM messages WHERE carrier_sid = ?1";

/// A message received from the carrier, for [`Store::insert_inbound_batch`].
#[derive(Debug, Clone, Copy)]
pub struct NewInbound<'a> {
    pub key: &'a ThreadKey,
    pub body: &'a str,
    /// The carrier's id, which deduplicates it.
    pub carrier_sid: &'a str,
    pub created_at: i64,
    pub media: InboundMedia<'a>,
    /// The Messaging Service the carrier says it came through (Twilio's
    /// `messaging_service_sid`): an opt-out then covers every line of the service.
    pub messaging_service: Option<&'a str>,
}

/// The media items a received message carries.
#[derive(Debug, Clone, Copy, Default)]
pub enum InboundMedia<'a> {
    #[default]
    None,
    /// Already in hand: checked images, stored with the message.
    Images(&'a [NewImage]),
    /// To be downloaded: `count` items (the carrier's `NumMedia`), of which the carrier has
    /// listed the `urls` so far, in order. Recorded as downloading, with a download queued.
    Pending { count: usize, urls: &'a [String] },
}

impl InboundMedia<'_> {
    fn count(&self) -> usize {
        match self {
            InboundMedia::None => 0,
            InboundMedia::Images(images) => images.len(),
            InboundMedia::Pending { count, urls } => (*count).max(urls.len()),
        }
    }
}

/// A message the account sent from one of our lines from somewhere else, for
/// [`Store::insert_sent_elsewhere_batch`]: `key` is its (line, recipient) thread.
#[derive(Debug, Clone, Copy)]
pub struct NewSentElsewhere<'a> {
    pub key: &'a ThreadKey,
    pub body: &'a str,
    pub carrier_sid: &'a str,
    pub created_at: i64,
    /// Its status at the carrier (`sending` until the carrier has sent it).
    pub status: MessageStatus,
    /// Why it failed or was not delivered, as the carrier said.
    pub error: Option<&'a MessageError>,
    /// Its media, to be downloaded like a received message's.
    pub media: InboundMedia<'a>,
}

/// What [`Store::insert_sent_elsewhere_batch`] did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Elsewhere {
    Recorded {
        thread_id: ThreadId,
        message_id: MessageId,
    },
    /// Its carrier id is already a message's (ours, adopted or sent meanwhile), or one the user
    /// removed: nothing written.
    Known,
    /// A job of its thread is in doubt and could be this very message: nothing written; ask
    /// again once the job has settled.
    JobInDoubt,
}

/// Whether a job of the thread `(?1, ?2)` has an outcome in doubt: in flight or unknown
/// (`sending`), or failed because the carrier would not confirm it (`unconfirmed`). A queued
/// job is not: its last attempt, if any, was refused for sure, or looked for after the
/// carrier's settle and not found.
/// It reads the outbox (a few rows) and each job's message, never the thread's messages (any
/// number): `CROSS JOIN` keeps SQLite to that order.
pub(crate) const JOB_IN_DOUBT_SQL: &str = "SELECT EXISTS (
        SELECT 1 FROM outbox o
        CROSS JOIN messages m ON m.id = o.message_id
        CROSS JOIN threads t ON t.id = m.thread_id
        WHERE o.state IN ('sending', 'failed')
            AND (o.state = 'sending' OR m.error_code = ?3)
            AND t.line_id = ?1 AND t.counterpart = ?2)";

/// How received messages are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// News: each bumps its thread's unread count.
    New,
    /// The history a first sync finds (a new install, another account): recorded as read, for
    /// an unread count of two days' traffic would bury what is news.
    History,
}

impl Store {
    /// Records a message received from the carrier, unless its carrier id is already known.
    /// A new message bumps its thread to the top and its unread count.
    pub fn insert_inbound(
        &self,
        key: &ThreadKey,
        body: &str,
        carrier_sid: &str,
        created_at: i64,
        image: Option<&NewImage>,
    ) -> Result<Inbound> {
        let message = NewInbound {
            key,
            body,
            carrier_sid,
            created_at,
            media: match image {
                Some(image) => InboundMedia::Images(std::slice::from_ref(image)),
                None => InboundMedia::None,
            },
            messaging_service: None,
        };
        let recorded = self.insert_inbound_batch(&[message], Arrival::New)?;
        recorded.into_iter().next().ok_or(StoreError::InvalidInput {
            what: "inbound message",
            why: "it was not recorded",
        })
    }

    /// Records messages received from the carrier in one transaction — one commit, which
    /// costs a flush to disk, for a whole page of a busy poll or of a first sync's history —
    /// in the order given, so that ids (and with them a thread's order within one
    /// `created_at`) follow the carrier's. Those whose carrier id is already known, in the
    /// store or earlier in `messages`, are left as they are. One answer per message, in order.
    pub fn insert_inbound_batch(
        &self,
        messages: &[NewInbound<'_>],
        arrival: Arrival,
    ) -> Result<Vec<Inbound>> {
        if messages.iter().any(|m| m.carrier_sid.is_empty()) {
            return Err(StoreError::InvalidInput {
                what: "carrier message id",
                why: "it is empty",
            });
        }
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let (unread, arrival) = match arrival {
            Arrival::New => (1, triage::Arrival::Received),
            Arrival::History => (0, triage::Arrival::History),
        };
        self.write(|tx| {
            messages
                .iter()
                .map(|m| record_inbound(tx, m, unread, arrival))
                .collect()
        })
    }

    /// Records messages sent from our lines elsewhere, in one transaction, in the order given:
    /// each as an outbound message marked `elsewhere`, with the carrier's status, id and date,
    /// its media to be downloaded, no outbox job, its thread created if needed and moved by its
    /// date, the unread count untouched (it is ours, not news). One answer per message, in
    /// order: those whose carrier id is known, and those a job in doubt could be, are left.
    pub fn insert_sent_elsewhere_batch(
        &self,
        messages: &[NewSentElsewhere<'_>],
    ) -> Result<Vec<Elsewhere>> {
        if messages.iter().any(|m| m.carrier_sid.is_empty()) {
            return Err(StoreError::InvalidInput {
                what: "carrier message id",
                why: "it is empty",
            });
        }
        if messages
            .iter()
            .any(|m| matches!(m.status, MessageStatus::Received | MessageStatus::Queued))
        {
            return Err(StoreError::InvalidInput {
                what: "message sent elsewhere",
                why: "its status is not one the carrier gives a sent message",
            });
        }
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| messages.iter().map(|m| record_elsewhere(tx, m)).collect())
    }

    /// Applies a delivery status reported by the carrier to the OUTBOUND message with that
    /// carrier id. Returns the message, or `None` when no message we sent has that id (an
    /// inbound message keeps `received`, whatever a status callback says about its id). A
    /// status never moves a message backwards (a late `sent` does not undo `delivered`).
    pub fn apply_delivery_status(
        &self,
        carrier_sid: &str,
        status: MessageStatus,
        error: Option<&MessageError>,
        now_ms: i64,
    ) -> Result<Option<MessageId>> {
        self.write(|tx| {
            let current = tx
                .prepare_cached(DELIVERY_STATUS_SQL)?
                .query_row(
                    params![
                        rows::Sid(carrier_sid),
                        rows::direction_code(Direction::Outbound)
                    ],
                    |r| Ok((r.get(0)?, rows::status(r, 1)?)),
                )
                .optional()?;
            let Some((id, current)) = current else {
                return Ok(None);
            };
            if progress(status) >= progress(current) && status != current {
                set_message_status(tx, MessageId(id), status, error, now_ms)?;
            }
            Ok(Some(MessageId(id)))
        })
    }

    /// The message the carrier knows as `carrier_sid`, if any.
    pub fn message_by_carrier_sid(&self, carrier_sid: &str) -> Result<Option<SidMatch>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(BY_SID_SQL)?
                .query_row([rows::Sid(carrier_sid)], |r| {
                    Ok(SidMatch {
                        message_id: MessageId(r.get(0)?),
                        thread_id: ThreadId(r.get(1)?),
                        direction: rows::direction(r, 2)?,
                        status: rows::status(r, 3)?,
                    })
                })
                .optional()?)
        })
    }
}

fn record_inbound(
    tx: &Transaction<'_>,
    m: &NewInbound<'_>,
    unread: i64,
    arrival: triage::Arrival,
) -> Result<Inbound> {
    if let Some((thread_id, message_id)) = known_sid(tx, m.carrier_sid)? {
        return Ok(Inbound {
            thread_id,
            message_id,
            is_new: false,
            opt_out_changed: false,
        });
    }
    let (thread_id, message_id) = write_carrier_message(
        tx,
        &CarrierRow {
            key: m.key,
            body: m.body,
            carrier_sid: m.carrier_sid,
            created_at: m.created_at,
            media: m.media,
            direction: Direction::Inbound,
            status: MessageStatus::Received,
        },
        unread,
        arrival,
    )?;
    // A STOP or a START is the carrier's business as much as ours: it blocks (or unblocks)
    // the sender from the line, recorded with the message, by its date.
    if let Some(service) = m.messaging_service.filter(|s| !s.trim().is_empty()) {
        opt_outs::note_service(tx, m.key.line, service)?;
    }
    let opt_out_changed = match optout::change(m.body, m.key.line, m.messaging_service) {
        Some(change) => opt_outs::apply(
            tx,
            &m.key.counterpart,
            &change,
            m.created_at,
            OptOutSource::Keyword,
        )?,
        None => false,
    };
    Ok(Inbound {
        thread_id,
        message_id,
        is_new: true,
        opt_out_changed,
    })
}

fn record_elsewhere(tx: &Transaction<'_>, m: &NewSentElsewhere<'_>) -> Result<Elsewhere> {
    // A message the user deleted or sent again is ours still: it never comes back.
    if known_sid(tx, m.carrier_sid)?.is_some() || is_forgotten(tx, m.carrier_sid)? {
        return Ok(Elsewhere::Known);
    }
    let in_doubt: bool = tx.prepare_cached(JOB_IN_DOUBT_SQL)?.query_row(
        params![
            m.key.line.0,
            m.key.counterpart.as_str(),
            ErrorCode::Unconfirmed.as_str()
        ],
        |r| r.get(0),
    )?;
    if in_doubt {
        return Ok(Elsewhere::JobInDoubt);
    }
    let (thread_id, message_id) = write_carrier_message(
        tx,
        &CarrierRow {
            key: m.key,
            body: m.body,
            carrier_sid: m.carrier_sid,
            created_at: m.created_at,
            media: m.media,
            direction: Direction::Outbound,
            status: m.status,
        },
        0,
        triage::Arrival::SentElsewhere,
    )?;
    tx.prepare_cached(
        "UPDATE messages SET elsewhere = 1, error_code = ?2, error_message = ?3 WHERE id = ?1",
    )?
    .execute(params![
        message_id.0,
        m.error.and_then(|e| e.code.as_deref()),
        m.error.map(|e| e.message.as_str())
    ])?;
    Ok(Elsewhere::Recorded {
        thread_id,
        message_id,
    })
}

/// The thread and id of the message the carrier knows as `carrier_sid`, if it is recorded.
fn known_sid(tx: &Transaction<'_>, carrier_sid: &str) -> Result<Option<(ThreadId, MessageId)>> {
    Ok(tx
        .prepare_cached("SELECT thread_id, id FROM messages WHERE carrier_sid = ?1")?
        .query_row([rows::Sid(carrier_sid)], |r| {
            Ok((ThreadId(r.get(0)?), MessageId(r.get(1)?)))
        })
        .optional()?)
}

/// A message the carrier has, received or sent elsewhere, as the sync writes it.
struct CarrierRow<'a> {
    key: &'a ThreadKey,
    body: &'a str,
    carrier_sid: &'a str,
    created_at: i64,
    media: InboundMedia<'a>,
    direction: Direction,
    status: MessageStatus,
}

/// Writes a message the carrier has, with its thread (moved by its date, `unread` added), its
/// media and its index entry.
fn write_carrier_message(
    tx: &Transaction<'_>,
    m: &CarrierRow<'_>,
    unread: i64,
    arrival: triage::Arrival,
) -> Result<(ThreadId, MessageId)> {
    check_lines(tx, [m.key.line])?;
    let id = MessageId(allocate_message_ids(tx, 1)?);
    let has_media = m.media.count() > 0;
    let preview = rows::preview(m.body, has_media);
    let thread_id = upsert_thread(tx, m.key, m.created_at, id, &preview, unread, arrival)?;
    insert_message(
        tx,
        &NewRow {
            thread_id,
            id,
            created_at: m.created_at,
            direction: m.direction,
            status: m.status,
            body: m.body,
            has_attachment: has_media,
            carrier_sid: Some(m.carrier_sid),
        },
    )?;
    match m.media {
        InboundMedia::None => {}
        InboundMedia::Images(images) => insert_images(tx, id, images)?,
        InboundMedia::Pending { count, urls } => insert_pending_media(tx, id, count, urls)?,
    }
    index_bodies(tx, [(id, m.body)])?;
    Ok((thread_id, id))
}

/// Rank of a status along the outbound life; inbound `received` stays where it is.
fn progress(status: MessageStatus) -> u8 {
    match status {
        MessageStatus::Queued => 0,
        MessageStatus::Sending => 1,
        MessageStatus::Sent => 2,
        MessageStatus::Delivered
        | MessageStatus::Undelivered
        | MessageStatus::Failed
        | MessageStatus::Received => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{key, new_store, num};
    use crate::{NewOutgoing, OutboxId};

    const T0: i64 = 1_700_000_000_000;

    fn elsewhere<'a>(
        key: &'a ThreadKey,
        sid: &'a str,
        body: &'a str,
        at: i64,
    ) -> NewSentElsewhere<'a> {
        NewSentElsewhere {
            key,
            body,
            carrier_sid: sid,
            created_at: at,
            status: MessageStatus::Sent,
            error: None,
            media: InboundMedia::None,
        }
    }

    /// A job of ours in `key`'s thread, queued.
    fn job(store: &Store, key: &ThreadKey, body: &str, client_id: &str) -> OutboxId {
        store
            .enqueue_outgoing(
                &[NewOutgoing {
                    key: key.clone(),
                    body: body.into(),
                    images: Vec::new(),
                    client_id: client_id.into(),
                }],
                T0,
            )
            .unwrap()[0]
            .outbox_id
    }

    #[test]
    fn a_message_sent_elsewhere_is_an_outbound_message_of_its_thread_recorded_once() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let k = key(sales, "+447700900001");
        store
            .insert_inbound(&k, "Is it ready?", "SM1", T0, None)
            .unwrap();
        let urls =
            ["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME1".to_owned()];
        let colleague = NewSentElsewhere {
            media: InboundMedia::Pending {
                count: 2,
                urls: &urls,
            },
            ..elsewhere(&k, "MM2", "Yes, here it is", T0 + 5_000)
        };
        let recorded = store
            .insert_sent_elsewhere_batch(&[colleague, colleague])
            .unwrap();
        let Elsewhere::Recorded {
            thread_id,
            message_id,
        } = recorded[0]
        else {
            panic!("not recorded: {recorded:?}");
        };
        assert_eq!(
            recorded[1],
            Elsewhere::Known,
            "deduplicated within a batch too"
        );
        let m = store.get_message(message_id).unwrap();
        assert_eq!(
            (
                m.direction,
                m.status,
                m.body.as_str(),
                m.created_at,
                m.sent_elsewhere
            ),
            (
                Direction::Outbound,
                MessageStatus::Sent,
                "Yes, here it is",
                T0 + 5_000,
                true
            )
        );
        assert_eq!(m.attachments.len(), 2, "its media wait for the downloader");
        let t = store.get_thread(thread_id).unwrap();
        assert_eq!(
            (t.unread, t.preview.as_str()),
            (1, "Yes, here it is"),
            "ours, not news"
        );
        assert!(store.list_outbox().unwrap().is_empty(), "never sent by us");
        assert_eq!(
            store.insert_sent_elsewhere_batch(&[colleague]).unwrap(),
            [Elsewhere::Known]
        );

        // Its later statuses apply by its carrier id, like our own messages'.
        store
            .apply_delivery_status("MM2", MessageStatus::Delivered, None, T0 + 9_000)
            .unwrap();
        assert_eq!(
            store.get_message(message_id).unwrap().status,
            MessageStatus::Delivered
        );

        // One that failed keeps the carrier's words; an older one leaves the preview.
        let error = MessageError {
            code: Some("30006".into()),
            message: "The number cannot receive messages.".into(),
        };
        let failed = NewSentElsewhere {
            status: MessageStatus::Failed,
            error: Some(&error),
            ..elsewhere(&k, "SM3", "An older try", T0 - 60_000)
        };
        let Elsewhere::Recorded { message_id, .. } =
            store.insert_sent_elsewhere_batch(&[failed]).unwrap()[0]
        else {
            panic!("not recorded");
        };
        let m = store.get_message(message_id).unwrap();
        assert_eq!((m.status, m.error), (MessageStatus::Failed, Some(error)));
        assert_eq!(
            store.get_thread(thread_id).unwrap().preview,
            "Yes, here it is"
        );
    }

    #[test]
    fn a_message_sent_elsewhere_waits_while_a_job_of_its_thread_could_be_it() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let (k, other) = (key(sales, "+447700900001"), key(sales, "+447700900002"));
        let check = |k: &ThreadKey, sid: &str, expected: &str| {
            let got = store
                .insert_sent_elsewhere_batch(&[elsewhere(k, sid, "On my way", T0)])
                .unwrap();
            let got = match got[0] {
                Elsewhere::Recorded { .. } => "recorded",
                Elsewhere::Known => "known",
                Elsewhere::JobInDoubt => "in doubt",
            };
            assert_eq!(got, expected, "{sid}");
        };
        // Queued and never tried: the carrier cannot have it yet.
        let first = job(&store, &k, "On my way", "c1");
        check(&k, "SM1", "recorded");
        // In flight, or its answer lost: it may be this very message.
        store.mark_sending(first, T0).unwrap();
        check(&k, "SM2", "in doubt");
        check(&other, "SM3", "recorded");
        // Settled under another carrier id: no longer in doubt.
        store.mark_sent(first, "SM9", T0 + 1).unwrap();
        check(&k, "SM2", "recorded");
        check(&k, "SM9", "known");
        // Failed because the carrier would not confirm it: still in doubt; failed for sure: not.
        let unconfirmed = job(&store, &k, "On my way", "c2");
        store.mark_sending(unconfirmed, T0).unwrap();
        let error = |code: &str| MessageError {
            code: Some(code.into()),
            message: "…".into(),
        };
        store
            .mark_failed(unconfirmed, &error("unconfirmed"), T0)
            .unwrap();
        check(&k, "SM4", "in doubt");
        store
            .delete_failed_message(store.outbox_job(unconfirmed).unwrap().message_id)
            .unwrap();
        let refused = job(&store, &k, "On my way", "c3");
        store.mark_sending(refused, T0).unwrap();
        store.mark_failed(refused, &error("21211"), T0).unwrap();
        check(&k, "SM4", "recorded");
    }

    #[test]
    fn the_doubt_check_reads_the_outbox_not_the_threads_messages() {
        let (_dir, store) = new_store();
        let plan: String = store
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {JOB_IN_DOUBT_SQL}"))?;
                let steps: Vec<String> = stmt
                    .query_map(params![1, "+447700900001", "unconfirmed"], |r| {
                        r.get::<_, String>(3)
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(steps.join("\n"))
            })
            .unwrap();
        assert!(plan.contains("SCAN o"), "{plan}");
        assert!(plan.contains("messages_by_id"), "{plan}");
        assert!(
            !plan.contains("SCAN m") && !plan.contains("SCAN t"),
            "{plan}"
        );
    }

    #[test]
    fn a_message_sent_elsewhere_needs_a_carrier_id_and_a_sent_status() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id;
        let k = key(sales, "+447700900001");
        let check = |m: NewSentElsewhere<'_>, expected: &str| {
            let got = store.insert_sent_elsewhere_batch(&[m]).unwrap_err();
            assert_eq!(got.code().as_str(), expected, "{m:?}");
        };
        check(elsewhere(&k, "", "x", T0), "invalid_input");
        for status in [MessageStatus::Received, MessageStatus::Queued] {
            check(
                NewSentElsewhere {
                    status,
                    ..elsewhere(&k, "SM1", "x", T0)
                },
                "invalid_input",
            );
        }
        let nowhere = key(crate::LineId(99), "+447700900001");
        check(elsewhere(&nowhere, "SM1", "x", T0), "line_not_found");
        assert!(store.list_threads(None, 10, None).unwrap().is_empty());
    }

    #[test]
    fn the_sid_lookup_uses_its_index() {
        let (_dir, store) = new_store();
        let plan: String = store
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {BY_SID_SQL}"))?;
                let steps: Vec<String> = stmt
                    .query_map([rows::Sid("SM1")], |r| r.get::<_, String>(3))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(steps.join("\n"))
            })
            .unwrap();
        assert!(plan.contains("messages_by_carrier_sid"), "{plan}");
        assert!(!plan.contains("SCAN"), "{plan}");
    }
}
