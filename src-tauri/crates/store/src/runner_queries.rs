//! The queries the outbox runner and the inbound sync need beyond `outbox.rs` and `messages.rs`:
//! every pending job in a light form (the planner keeps order within threads), "connectivity is
//! back, everything queued is due now", finding a message by its carrier id, and the user's
//! retry or deletion of a failed message found by its message id.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Direction, LineId, MessageId, MessageStatus, ThreadId};

use crate::error::{Result, StoreError};
use crate::messages::refresh_thread_last_message;
use crate::outbox::{OutboxId, OutboxJob, OutboxState};
use crate::rows;
use crate::Store;

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

/// A message found by its carrier id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidMatch {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    pub direction: Direction,
    pub status: MessageStatus,
}

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

pub(crate) const BY_SID_SQL: &str =
    "SELECT id, thread_id, direction, status FROM messages WHERE carrier_sid = ?1";

impl Store {
    /// Every queued or sending job of the account's lines, oldest first. The outbox holds what has not gone yet (a few
    /// messages, a few thousand after a long time offline), so the whole list is cheap.
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

    /// Connectivity is back: every queued job waiting out a backoff becomes due at `now_ms`.
    /// Returns how many were brought forward.
    pub fn requeue_all_now(&self, now_ms: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE outbox SET next_attempt_at = ?1
                     WHERE state = 'queued' AND next_attempt_at > ?1",
                )?
                .execute([now_ms])?)
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
                crate::messages::get_message(tx, message)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{key, new_store, num};
    use crate::{MessageError, NewOutgoing};

    const T0: i64 = 1_700_000_000_000;

    fn enqueue(store: &Store, line: LineId, to: &str, client_id: &str) -> crate::Enqueued {
        store
            .enqueue_outgoing(
                &[NewOutgoing {
                    key: key(line, to),
                    body: "See you at nine".into(),
                    image: None,
                    client_id: client_id.into(),
                }],
                T0,
            )
            .unwrap()[0]
    }

    fn sales(store: &Store) -> LineId {
        store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id
    }

    #[test]
    fn pending_lists_queued_and_sending_oldest_first_but_not_failed() {
        let (_dir, store) = new_store();
        let line = sales(&store);
        let a = enqueue(&store, line, "+14155550142", "c1");
        let b = enqueue(&store, line, "+14155550142", "c2");
        let c = enqueue(&store, line, "+14155550143", "c3");
        store.mark_sending(a.outbox_id, T0 + 1).unwrap();
        store
            .mark_failed(
                c.outbox_id,
                &MessageError {
                    code: Some("21211".into()),
                    message: "Invalid number".into(),
                },
                T0 + 2,
            )
            .unwrap();
        let got: Vec<(OutboxId, ThreadId, OutboxState)> = store
            .pending_outbox()
            .unwrap()
            .into_iter()
            .map(|p| {
                assert_eq!(p.line_id, line);
                (p.id, p.thread_id, p.state)
            })
            .collect();
        assert_eq!(
            got,
            [
                (a.outbox_id, a.thread_id, OutboxState::Sending),
                (b.outbox_id, b.thread_id, OutboxState::Queued),
            ]
        );
    }

    #[test]
    fn requeue_all_now_brings_backoffs_forward_only() {
        let (_dir, store) = new_store();
        let line = sales(&store);
        let a = enqueue(&store, line, "+14155550142", "c1");
        let b = enqueue(&store, line, "+14155550143", "c2");
        for (job, due) in [(a.outbox_id, T0 + 60_000), (b.outbox_id, T0 + 500)] {
            store.mark_sending(job, T0).unwrap();
            store.mark_retry(job, due, "offline", T0).unwrap();
        }
        assert_eq!(store.requeue_all_now(T0 + 1_000).unwrap(), 1);
        let due = |id| store.outbox_job(id).unwrap().next_attempt_at;
        assert_eq!(due(a.outbox_id), T0 + 1_000);
        assert_eq!(due(b.outbox_id), T0 + 500, "never pushed later");
    }

    #[test]
    fn messages_are_found_by_carrier_sid() {
        let (_dir, store) = new_store();
        let line = sales(&store);
        let sent = enqueue(&store, line, "+14155550142", "c1");
        store.mark_sending(sent.outbox_id, T0).unwrap();
        // A Twilio-shaped sid (stored compactly) and a free-form one.
        let twilio_sid = "SM0123456789abcdef0123456789abcdef";
        store.mark_sent(sent.outbox_id, twilio_sid, T0).unwrap();
        let inbound = store
            .insert_inbound(&key(line, "+14155550143"), "Hi", "sandbox-7", T0, None)
            .unwrap();
        let check = |sid: &str, expected: Option<(MessageId, Direction, MessageStatus)>| {
            let got = store
                .message_by_carrier_sid(sid)
                .unwrap()
                .map(|m| (m.message_id, m.direction, m.status));
            assert_eq!(got, expected, "{sid}");
        };
        check(
            twilio_sid,
            Some((sent.message_id, Direction::Outbound, MessageStatus::Sent)),
        );
        check(
            "sandbox-7",
            Some((
                inbound.message_id,
                Direction::Inbound,
                MessageStatus::Received,
            )),
        );
        check("SMffffffffffffffffffffffffffffffff", None);
    }

    #[test]
    fn only_failed_messages_are_deleted_and_threads_follow() {
        let (_dir, store) = new_store();
        let line = sales(&store);
        let first = enqueue(&store, line, "+14155550142", "c1");
        let second = enqueue(&store, line, "+14155550142", "c2");
        let alone = enqueue(&store, line, "+14155550143", "c3");

        fn code<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
            r.unwrap_err().code().as_str()
        }
        assert_eq!(
            code(store.delete_failed_message(second.message_id)),
            "outbox_job_state"
        );
        assert_eq!(
            code(store.delete_failed_message(MessageId(999))),
            "message_not_found"
        );

        let failure = MessageError {
            code: Some("21610".into()),
            message: "The recipient has opted out".into(),
        };
        for job in [second.outbox_id, alone.outbox_id] {
            store.mark_failed(job, &failure, T0 + 1).unwrap();
        }
        assert_eq!(
            store
                .outbox_job_for_message(second.message_id)
                .unwrap()
                .map(|j| j.state),
            Some(OutboxState::Failed)
        );
        assert_eq!(
            store.delete_failed_message(second.message_id).unwrap(),
            second.thread_id
        );
        assert_eq!(
            code(store.get_message(second.message_id)),
            "message_not_found"
        );
        assert_eq!(
            store.outbox_job_for_message(second.message_id).unwrap(),
            None
        );
        assert_eq!(
            store.get_thread(first.thread_id).unwrap().last_message_id,
            first.message_id,
            "the thread shows its previous message"
        );

        store.delete_failed_message(alone.message_id).unwrap();
        assert_eq!(
            code(store.get_thread(alone.thread_id).map(|t| t.id)),
            "thread_not_found"
        );

        // A sent message has no job any more and is not the outbox's to delete.
        store.mark_sending(first.outbox_id, T0 + 2).unwrap();
        store.mark_sent(first.outbox_id, "SM1", T0 + 3).unwrap();
        assert_eq!(
            code(store.delete_failed_message(first.message_id)),
            "invalid_input"
        );
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
