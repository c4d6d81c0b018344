//! The durable outbox: one job per outgoing message, written with the message by
//! `enqueue_outgoing`, what the outbox runner reads, and the state changes it makes. A job is
//! `queued` (due at `next_attempt_at`, never before `not_before`, the end of the carrier's
//! `Retry-After`), `sending` (an attempt is in flight: after a crash its outcome is unknown and
//! must be reconciled with the carrier), or `failed` (a permanent error, or a message the carrier
//! would not confirm — its message's error code says which: it waits for the user and blocks
//! nothing). A job leaves the table once the carrier has accepted the message.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{
    Direction, LineId, MessageId, MessageStatus, ThreadId, ThreadKey, E164,
};
use switchboard_core::optout;
use switchboard_core::triage;

use crate::error::{is_unique_violation, Result, StoreError};
use crate::messages::{
    allocate_message_ids, check_lines, get_message, index_bodies, insert_images, insert_message,
    is_forgotten, set_message_status, MessageError, NewImage, NewRow,
};
use crate::opt_outs::{self, OptOutSource};
use crate::rows;
use crate::threads::{get_thread, refresh_thread_last_message, upsert_thread};
use crate::{DraftKey, Store};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl std::fmt::Display for OutboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Queued,
    Sending,
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        [
            OutboxState::Queued,
            OutboxState::Sending,
            OutboxState::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A job with what the runner needs to send it (its images, if any, via `attachments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OutboxJob {
    pub id: OutboxId,
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    pub line_id: LineId,
    pub counterpart: E164,
    /// The idempotency key, the same for every attempt.
    pub client_id: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// When the last attempt began: reconciliation looks for the message from then on.
    pub attempt_started_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub body: String,
    pub has_attachment: bool,
}

/// One recipient's message of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutgoing {
    pub key: ThreadKey,
    pub body: String,
    /// Up to 10, sent as one MMS.
    pub images: Vec<NewImage>,
    /// The idempotency key of this message, kept across retries and unique in the store.
    pub client_id: String,
}

/// What [`Store::enqueue_outgoing`] made for one [`NewOutgoing`], in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enqueued {
    pub thread_id: ThreadId,
    pub message_id: MessageId,
    pub outbox_id: OutboxId,
}

/// A job that still has to go (queued) or is in flight (sending), without its body: what the
/// runner needs to choose what leaves next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOutbox {
    pub id: OutboxId,
    pub thread_id: ThreadId,
    pub line_id: LineId,
    pub state: OutboxState,
    pub next_attempt_at: i64,
}

const JOB_SELECT: &str = "SELECT o.id, o.message_id, m.thread_id, t.line_id, t.counterpart,
        o.client_id, o.state, o.attempts, o.next_attempt_at, o.attempt_started_at, o.last_error,
        o.created_at, m.body, m.has_attachment
    FROM outbox o
    JOIN messages m ON m.id = o.message_id
    JOIN threads t ON t.id = m.thread_id";

/// Jobs of lines no longer in the connected account are held where they are, queued or
/// `sending`: another carrier would refuse them, or could not tell whether a send cut off by a
/// crash went through. They go on when their account is connected again.
pub(crate) const PENDING_SQL: &str =
    "SELECT o.id, m.thread_id, t.line_id, o.state, o.next_attempt_at
    FROM outbox o
    JOIN messages m ON m.id = o.message_id
    JOIN threads t ON t.id = m.thread_id
    JOIN lines l ON l.id = t.line_id
    WHERE o.state IN ('queued', 'sending') AND l.in_account = 1
    ORDER BY o.id";

/// Brings every queued job waiting out a backoff forward to `?1`, but none before the end of
/// its carrier's `Retry-After`. The range on `next_attempt_at` keeps `outbox_due` in use.
pub(crate) const REQUEUE_ALL_SQL: &str =
    "UPDATE outbox SET next_attempt_at = max(?1, ifnull(not_before, ?1))
    WHERE state = 'queued' AND next_attempt_at > ?1
        AND (not_before IS NULL OR next_attempt_at > not_before)";

impl Store {
    /// Writes a send durably, in ONE transaction: for each item its message (`queued`), its
    /// image and its outbox job, creating threads as needed and moving them to the top of the
    /// list. Any failure (an unknown line, a client id already used) writes nothing at all.
    pub fn enqueue_outgoing(&self, items: &[NewOutgoing], now_ms: i64) -> Result<Vec<Enqueued>> {
        items.iter().try_for_each(check_outgoing)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.write(|tx| enqueue_in(tx, items, now_ms))?;
        tracing::debug!(messages = out.len(), "enqueued outgoing messages");
        Ok(out)
    }

    /// [`Store::enqueue_outgoing`] for what a composer sent: its draft `draft` is removed in the
    /// same transaction, so that no crash can leave the messages queued and their draft back in
    /// the composer at the next start (to be sent a second time), nor the draft gone and the
    /// messages not queued. A refused send keeps its draft.
    pub fn enqueue_outgoing_from_draft(
        &self,
        items: &[NewOutgoing],
        now_ms: i64,
        draft: DraftKey,
    ) -> Result<Vec<Enqueued>> {
        items.iter().try_for_each(check_outgoing)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.write(|tx| {
            let out = enqueue_in(tx, items, now_ms)?;
            crate::drafts::clear_draft_in(tx, draft)?;
            Ok(out)
        })?;
        tracing::debug!(messages = out.len(), "enqueued a draft's messages");
        Ok(out)
    }

    /// Every job, oldest first: what the UI shows as "waiting to be sent" and "failed".
    pub fn list_outbox(&self) -> Result<Vec<OutboxJob>> {
        self.read(|conn| {
            let sql = format!("{JOB_SELECT} ORDER BY o.id");
            let jobs = conn
                .prepare_cached(&sql)?
                .query_map([], job_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(jobs)
        })
    }

    pub fn outbox_job(&self, id: OutboxId) -> Result<OutboxJob> {
        self.read(|conn| get_job(conn, id))
    }

    /// Every queued or sending job of the account's lines, oldest first. The outbox holds what
    /// has not gone yet (a few messages, a few thousand after a long time offline), so the whole
    /// list is cheap.
    pub fn pending_outbox(&self) -> Result<Vec<PendingOutbox>> {
        self.read(|conn| {
            let jobs = conn
                .prepare_cached(PENDING_SQL)?
                .query_map([], |r| {
                    let state: String = r.get(3)?;
                    Ok(PendingOutbox {
                        id: OutboxId(r.get(0)?),
                        thread_id: ThreadId(r.get(1)?),
                        line_id: LineId(r.get(2)?),
                        state: OutboxState::parse(&state).ok_or_else(|| {
                            rusqlite::Error::FromSqlConversionFailure(
                                3,
                                rusqlite::types::Type::Text,
                                format!("not an outbox state: {state:?}").into(),
                            )
                        })?,
                        next_attempt_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(jobs)
        })
    }

    /// Connectivity is back: every queued job waiting out a backoff becomes due at `now_ms`,
    /// or at the end of its carrier's `Retry-After` when that is later. Returns how many were
    /// brought forward.
    pub fn requeue_all_now(&self, now_ms: i64) -> Result<usize> {
        self.write(|tx| Ok(tx.prepare_cached(REQUEUE_ALL_SQL)?.execute([now_ms])?))
    }

    /// How many jobs wait to be sent (queued or in flight), for "3 messages will be sent".
    pub fn pending_count(&self) -> Result<i64> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// The outbox job of a message, if it still has one (a sent message has none).
    pub fn outbox_job_for_message(&self, message: MessageId) -> Result<Option<OutboxJob>> {
        let id: Option<i64> = self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT id FROM outbox WHERE message_id = ?1")?
                .query_row([message.0], |r| r.get(0))
                .optional()?)
        })?;
        id.map(|id| self.outbox_job(OutboxId(id))).transpose()
    }

    /// Deletes a message whose job has failed, with its job and image, in one transaction that
    /// first checks the job is still `failed`: a queued or in-flight message is the runner's and
    /// may already be at the carrier. Returns the message's thread (which disappears when it has
    /// nothing left).
    pub fn delete_failed_message(&self, message: MessageId) -> Result<ThreadId> {
        self.write(|tx| {
            let job: Option<(i64, String)> = tx
                .prepare_cached("SELECT id, state FROM outbox WHERE message_id = ?1")?
                .query_row([message.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((job, state)) = job else {
                // A sent or received message, or none at all.
                get_message(tx, message)?;
                return Err(StoreError::InvalidInput {
                    what: "message",
                    why: "only a message that failed to send can be cancelled",
                });
            };
            if state != OutboxState::Failed.as_str() {
                return Err(StoreError::OutboxJobState {
                    job,
                    state: OutboxState::parse(&state).map_or("unknown", OutboxState::as_str),
                    action: "delete",
                });
            }
            let thread: i64 = tx.query_row(
                "DELETE FROM messages WHERE id = ?1 RETURNING thread_id",
                [message.0],
                |r| r.get(0),
            )?;
            refresh_thread_last_message(tx, ThreadId(thread))?;
            Ok(ThreadId(thread))
        })
    }

    /// queued → sending: an attempt begins now. Written before the request goes out, so a
    /// crash during it leaves a `sending` job to reconcile.
    pub fn mark_sending(&self, id: OutboxId, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "start sending",
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1,
                     attempt_started_at = ?2, not_before = NULL
                 WHERE id = ?1 AND state = 'queued' RETURNING message_id",
                params![id.0, now_ms],
            )?;
            set_message_status(tx, message, MessageStatus::Sending, None, now_ms)
        })
    }

    /// sending → done: the carrier accepted the message under `carrier_sid`. The job is
    /// removed; delivery statuses then arrive through `apply_delivery_status`. A carrier id
    /// another message holds, or held before the user retried or deleted it (see
    /// `forgotten_sids`), is refused ([`StoreError::DuplicateCarrierSid`]): it is not this
    /// message, and a lookup that matched its words goes on to the next candidate.
    pub fn mark_sent(&self, id: OutboxId, carrier_sid: &str, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            if is_forgotten(tx, carrier_sid)? {
                return Err(StoreError::DuplicateCarrierSid {
                    carrier_sid: carrier_sid.to_owned(),
                });
            }
            let message = transition(
                tx,
                id,
                "mark as sent",
                "DELETE FROM outbox WHERE id = ?1 AND state = 'sending' RETURNING message_id",
                [id.0],
            )?;
            tx.prepare_cached(
                "UPDATE messages SET status = ?4, carrier_sid = ?2, error_code = NULL,
                     error_message = NULL, updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![
                message.0,
                rows::Sid(carrier_sid),
                now_ms,
                rows::status_code(MessageStatus::Sent)
            ])
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DuplicateCarrierSid {
                        carrier_sid: carrier_sid.to_owned(),
                    }
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
    }

    /// sending → queued after a transient error (offline, timeout, 5xx, 429): try again at
    /// `next_attempt_at`, and never before `not_before` (the end of the carrier's
    /// `Retry-After`), whatever brings the outbox forward meanwhile.
    pub fn mark_retry(
        &self,
        id: OutboxId,
        next_attempt_at: i64,
        not_before: Option<i64>,
        error: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "schedule a retry",
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, not_before = ?3,
                     last_error = ?4
                 WHERE id = ?1 AND state = 'sending' RETURNING message_id",
                params![id.0, next_attempt_at, not_before, error],
            )?;
            set_message_status(tx, message, MessageStatus::Queued, None, now_ms)
        })
    }

    /// queued or sending → failed after a permanent error; the message shows the carrier's
    /// code and sentence. Later messages of the thread are not held back.
    pub fn mark_failed(&self, id: OutboxId, error: &MessageError, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "mark as failed",
                "UPDATE outbox SET state = 'failed', last_error = ?2
                 WHERE id = ?1 AND state IN ('queued', 'sending') RETURNING message_id",
                params![id.0, error.message],
            )?;
            set_message_status(tx, message, MessageStatus::Failed, Some(error), now_ms)?;
            // The carrier's word that the recipient opted out: no send from this line (or
            // its Messaging Service) is tried again until they opt back in.
            if error.code.as_deref() == Some(optout::TWILIO_OPTED_OUT) {
                let thread = get_message(tx, message)?.thread_id;
                let key = get_thread(tx, thread)?.key();
                if opt_outs::opt_out(tx, key.line, &key.counterpart)?.is_some() {
                    // Known already (the runner refused it itself): keep the STOP's date.
                    return Ok(());
                }
                let scope = opt_outs::refusal_scope(tx, key.line)?;
                opt_outs::apply(
                    tx,
                    &key.counterpart,
                    &optout::Change::OptOut(scope),
                    now_ms,
                    OptOutSource::Carrier,
                )?;
            }
            Ok(())
        })
    }

    /// failed → queued, due now, after the user asked to retry, optionally with an edited
    /// body. The idempotency key stays the same.
    pub fn retry_failed(&self, id: OutboxId, new_body: Option<&str>, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "retry",
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, not_before = NULL,
                     last_error = NULL
                 WHERE id = ?1 AND state = 'failed' RETURNING message_id",
                params![id.0, now_ms],
            )?;
            set_message_status(tx, message, MessageStatus::Queued, None, now_ms)?;
            if let Some(body) = new_body {
                let (thread, has_attachment): (i64, bool) = tx.query_row(
                    "UPDATE messages SET body = ?2 WHERE id = ?1 RETURNING thread_id, has_attachment",
                    params![message.0, body],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if body.is_empty() && !has_attachment {
                    return Err(StoreError::InvalidInput {
                        what: "message",
                        why: "it has neither text nor an image",
                    });
                }
                tx.execute(
                    "UPDATE threads SET preview = ?3 WHERE id = ?1 AND last_message_id = ?2",
                    params![thread, message.0, rows::preview(body, has_attachment)],
                )?;
            }
            Ok(())
        })
    }

    /// failed → sending, for a message the carrier would not confirm that the user retries:
    /// its outcome is in doubt again, so the runner reconciles it (from the same attempt start)
    /// before anything is sent. Its words cannot change: the carrier may have them as they were.
    pub fn reconcile_failed(&self, id: OutboxId, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "check with the carrier",
                "UPDATE outbox SET state = 'sending', last_error = NULL
                 WHERE id = ?1 AND state = 'failed' AND attempt_started_at IS NOT NULL
                 RETURNING message_id",
                [id.0],
            )?;
            set_message_status(tx, message, MessageStatus::Sending, None, now_ms)
        })
    }
}

/// A message to send has text or an image, and an idempotency key.
pub(crate) fn check_outgoing(item: &NewOutgoing) -> Result<()> {
    if item.body.is_empty() && item.images.is_empty() {
        return Err(StoreError::InvalidInput {
            what: "message",
            why: "it has neither text nor an image",
        });
    }
    if item.client_id.is_empty() {
        return Err(StoreError::InvalidInput {
            what: "client id",
            why: "it is empty",
        });
    }
    Ok(())
}

/// The writes of [`Store::enqueue_outgoing`] inside the caller's transaction (items already
/// checked for a body or an image and a client id).
pub(crate) fn enqueue_in(
    tx: &Transaction<'_>,
    items: &[NewOutgoing],
    now_ms: i64,
) -> Result<Vec<Enqueued>> {
    check_lines(tx, items.iter().map(|i| i.key.line))?;
    let first_id = allocate_message_ids(tx, items.len())?;
    let mut out = Vec::with_capacity(items.len());
    for (id, item) in (first_id..).map(MessageId).zip(items) {
        let has_images = !item.images.is_empty();
        let thread_id = upsert_thread(
            tx,
            &item.key,
            now_ms,
            id,
            &rows::preview(&item.body, has_images),
            0,
            triage::Arrival::SentHere,
        )?;
        insert_message(
            tx,
            &NewRow {
                thread_id,
                id,
                created_at: now_ms,
                direction: Direction::Outbound,
                status: MessageStatus::Queued,
                body: &item.body,
                has_attachment: has_images,
                carrier_sid: None,
            },
        )?;
        insert_images(tx, id, &item.images)?;
        let outbox_id = tx
                .prepare_cached(
                    "INSERT INTO outbox (message_id, client_id, state, attempts, next_attempt_at, created_at)
                     VALUES (?1, ?2, 'queued', 0, ?3, ?3) RETURNING id",
                )?
                .query_row(params![id.0, item.client_id, now_ms], |r| r.get(0))
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::DuplicateClientId {
                            client_id: item.client_id.clone(),
                        }
                    } else {
                        e.into()
                    }
                })?;
        out.push(Enqueued {
            thread_id,
            message_id: id,
            outbox_id: OutboxId(outbox_id),
        });
    }
    index_bodies(
        tx,
        out.iter()
            .zip(items)
            .map(|(e, item)| (e.message_id, item.body.as_str())),
    )?;
    Ok(out)
}

/// Runs a state change guarded by the job's current state, returning the job's message; when
/// it matches no row, tells a missing job from one in the wrong state.
fn transition(
    tx: &Transaction<'_>,
    id: OutboxId,
    action: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<MessageId> {
    let message: Option<i64> = tx
        .prepare_cached(sql)?
        .query_row(params, |r| r.get(0))
        .optional()?;
    if let Some(message) = message {
        return Ok(MessageId(message));
    }
    let state: Option<String> = tx
        .query_row("SELECT state FROM outbox WHERE id = ?1", [id.0], |r| {
            r.get(0)
        })
        .optional()?;
    match state.as_deref().and_then(OutboxState::parse) {
        None => Err(StoreError::OutboxJobNotFound(id.0)),
        Some(state) => Err(StoreError::OutboxJobState {
            job: id.0,
            state: state.as_str(),
            action,
        }),
    }
}

fn get_job(conn: &Connection, id: OutboxId) -> Result<OutboxJob> {
    let sql = format!("{JOB_SELECT} WHERE o.id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id.0], job_from_row)
        .optional()?
        .ok_or(StoreError::OutboxJobNotFound(id.0))
}

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxJob> {
    let state: String = r.get(6)?;
    Ok(OutboxJob {
        id: OutboxId(r.get(0)?),
        message_id: MessageId(r.get(1)?),
        thread_id: ThreadId(r.get(2)?),
        line_id: LineId(r.get(3)?),
        counterpart: rows::e164(r, 4)?,
        client_id: r.get(5)?,
        state: OutboxState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                6,
                rusqlite::types::Type::Text,
                format!("not an outbox state: {state:?}").into(),
            )
        })?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        attempt_started_at: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        body: r.get(12)?,
        has_attachment: r.get(13)?,
    })
}

mod carrier_failed;
pub use carrier_failed::CarrierFailed;

#[cfg(test)]
mod tests;
