//! What the carrier reports, as the inbound sync writes it: received messages deduplicated by
//! the carrier's id (news, or a first sync's history recorded as read; a page in one
//! transaction), delivery statuses of the messages we sent, and lookups by carrier id.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Direction, MessageId, MessageStatus, ThreadId, ThreadKey};

use crate::error::{Result, StoreError};
use crate::messages::{
    allocate_message_ids, check_lines, index_bodies, insert_images, insert_message,
    insert_pending_media, set_message_status, MessageError, NewImage, NewRow,
};
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
        let unread = match arrival {
            Arrival::New => 1,
            Arrival::History => 0,
        };
        self.write(|tx| {
            messages
                .iter()
                .map(|m| record_inbound(tx, m, unread))
                .collect()
        })
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

fn record_inbound(tx: &Transaction<'_>, m: &NewInbound<'_>, unread: i64) -> Result<Inbound> {
    let known = tx
        .prepare_cached("SELECT thread_id, id FROM messages WHERE carrier_sid = ?1")?
        .query_row([rows::Sid(m.carrier_sid)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((thread, id)) = known {
        return Ok(Inbound {
            thread_id: ThreadId(thread),
            message_id: MessageId(id),
            is_new: false,
        });
    }
    check_lines(tx, [m.key.line])?;
    let id = MessageId(allocate_message_ids(tx, 1)?);
    let has_media = m.media.count() > 0;
    let preview = rows::preview(m.body, has_media);
    let thread_id = upsert_thread(tx, m.key, m.created_at, id, &preview, unread)?;
    insert_message(
        tx,
        &NewRow {
            thread_id,
            id,
            created_at: m.created_at,
            direction: Direction::Inbound,
            status: MessageStatus::Received,
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
    Ok(Inbound {
        thread_id,
        message_id: id,
        is_new: true,
    })
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
    use crate::testutil::new_store;

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
