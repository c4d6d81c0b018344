//! A message the carrier accepted and then reported failed or undelivered (Twilio's 30001…30008
//! arrive as a status). The outbox let it go when the carrier accepted it, so no job waits for
//! the user: a retry is a new message, and the failed one goes, its carrier id forgotten (see
//! `messages::forget_message`) so that the sync never brings it back.

use rusqlite::{Connection, OptionalExtension};
use switchboard_core::model::{
    Direction, ImageKind, LineId, MessageId, MessageStatus, ThreadId, ThreadKey,
};

use super::{check_outgoing, enqueue_in, Enqueued, NewOutgoing};
use crate::error::{Result, StoreError};
use crate::messages::{forget_message, images_of};
use crate::{rows, Store};

/// A message the carrier accepted and then reported failed or undelivered: what sending it
/// again needs to check (its thread, its words, its images' kinds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierFailed {
    pub key: ThreadKey,
    pub body: String,
    pub images: Vec<ImageKind>,
}

impl Store {
    /// `message` if the carrier reported it failed or undelivered after accepting it (see
    /// [`CarrierFailed`]); `None` for any other message. The one place that decides it: retry
    /// and delete ask here, and [`Store::resend_carrier_failed`] and
    /// [`Store::delete_carrier_failed`] decide it again in their transaction.
    pub fn carrier_failed(&self, message: MessageId) -> Result<Option<CarrierFailed>> {
        self.read(|conn| {
            let Some((key, body)) = carrier_failed(conn, message)? else {
                return Ok(None);
            };
            let images = images_of(conn, message)?.iter().map(|i| i.kind).collect();
            Ok(Some(CarrierFailed { key, body, images }))
        })
    }

    /// Sends a message the carrier reported failed again as a NEW message, in one
    /// transaction: the same thread (line and recipient), the same images, its body or
    /// `new_body`, a new job under `client_id`, due now; the failed message goes. A retry of a
    /// message already retried finds it gone ([`StoreError::MessageNotFound`]): nothing is
    /// sent twice.
    pub fn resend_carrier_failed(
        &self,
        message: MessageId,
        new_body: Option<&str>,
        client_id: &str,
        now_ms: i64,
    ) -> Result<Enqueued> {
        self.write(|tx| {
            let (key, body) = carrier_failed(tx, message)?.ok_or(NOT_CARRIER_FAILED)?;
            let item = NewOutgoing {
                key,
                body: new_body.map_or(body, str::to_owned),
                images: images_of(tx, message)?,
                client_id: client_id.to_owned(),
            };
            check_outgoing(&item)?;
            let enqueued = enqueue_in(tx, std::slice::from_ref(&item), now_ms)?[0];
            forget_message(tx, message)?;
            Ok(enqueued)
        })
    }

    /// Deletes a message the carrier reported failed. Returns its thread, which disappears
    /// when the message was its only one.
    pub fn delete_carrier_failed(&self, message: MessageId) -> Result<ThreadId> {
        self.write(|tx| {
            carrier_failed(tx, message)?.ok_or(NOT_CARRIER_FAILED)?;
            forget_message(tx, message)
        })
    }
}

const NOT_CARRIER_FAILED: StoreError = StoreError::InvalidInput {
    what: "message",
    why: "only a message the carrier reported failed can be sent again or deleted here",
};

/// The thread key and body of `message` when the carrier reported it failed or undelivered
/// after accepting it (an outbound message with a carrier id and no job); `None` otherwise.
fn carrier_failed(conn: &Connection, message: MessageId) -> Result<Option<(ThreadKey, String)>> {
    let found = conn
        .prepare_cached(
            "SELECT t.line_id, t.counterpart, m.body, m.direction, m.status,
                 m.carrier_sid IS NOT NULL,
                 EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)
             FROM messages m JOIN threads t ON t.id = m.thread_id
             WHERE m.id = ?1",
        )?
        .query_row([message.0], |r| {
            let key = ThreadKey {
                line: LineId(r.get(0)?),
                counterpart: rows::e164(r, 1)?,
            };
            let failed = rows::direction(r, 3)? == Direction::Outbound
                && matches!(
                    rows::status(r, 4)?,
                    MessageStatus::Failed | MessageStatus::Undelivered
                )
                && r.get::<_, bool>(5)?
                && !r.get::<_, bool>(6)?;
            Ok((key, r.get::<_, String>(2)?, failed))
        })
        .optional()?;
    match found {
        None => Err(StoreError::MessageNotFound(message)),
        Some((_, _, false)) => Ok(None),
        Some((key, body, true)) => Ok(Some((key, body))),
    }
}
