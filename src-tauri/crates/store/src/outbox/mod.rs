//! The durable outbox: one job per outgoing message, written with the message by
//! `enqueue_outgoing`, and the state changes the outbox runner makes. A job is `queued` (due at
//! `next_attempt_at`), `sending` (an attempt is in flight: after a crash its outcome is unknown
//! and must be reconciled with the carrier), or `failed` (a permanent error: it waits for the
//! user and blocks nothing). A job leaves the table once the carrier has accepted the message.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, MessageId, MessageStatus, ThreadId, E164};

use crate::error::{is_unique_violation, Result, StoreError};
use crate::messages::{set_message_status, MessageError};
use crate::rows;
use crate::Store;

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

/// A job with what the runner needs to send it (the image, if any, via `get_attachment`).
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

const JOB_SELECT: &str = "SELECT o.id, o.message_id, m.thread_id, t.line_id, t.counterpart,
        o.client_id, o.state, o.attempts, o.next_attempt_at, o.attempt_started_at, o.last_error,
        o.created_at, m.body, m.has_attachment
    FROM outbox o
    JOIN messages m ON m.id = o.message_id
    JOIN threads t ON t.id = m.thread_id";

impl Store {
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

    /// queued → sending: an attempt begins now. Written before the request goes out, so a
    /// crash during it leaves a `sending` job to reconcile.
    pub fn mark_sending(&self, id: OutboxId, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "start sending",
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1,
                     attempt_started_at = ?2
                 WHERE id = ?1 AND state = 'queued' RETURNING message_id",
                params![id.0, now_ms],
            )?;
            set_message_status(tx, message, MessageStatus::Sending, None, now_ms)
        })
    }

    /// sending → done: the carrier accepted the message under `carrier_sid`. The job is
    /// removed; delivery statuses then arrive through `apply_delivery_status`.
    pub fn mark_sent(&self, id: OutboxId, carrier_sid: &str, now_ms: i64) -> Result<()> {
        self.write(|tx| {
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
    /// `next_attempt_at`.
    pub fn mark_retry(
        &self,
        id: OutboxId,
        next_attempt_at: i64,
        error: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.write(|tx| {
            let message = transition(
                tx,
                id,
                "schedule a retry",
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, last_error = ?3
                 WHERE id = ?1 AND state = 'sending' RETURNING message_id",
                params![id.0, next_attempt_at, error],
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
            set_message_status(tx, message, MessageStatus::Failed, Some(error), now_ms)
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
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, last_error = NULL
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
