//! Conversations: the list (newest activity first), lookups by id or key, read state, and the
//! thread rows that adding or deleting a message moves.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, MessageId, ThreadId, ThreadKey, E164};

use crate::drafts::DraftKey;
use crate::error::{Result, StoreError};
use crate::rows;
use crate::Store;

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub id: ThreadId,
    pub line_id: LineId,
    pub counterpart: E164,
    /// The contact owning the counterpart number, if any (for display only).
    pub contact_name: Option<String>,
    pub last_message_at: i64,
    pub last_message_id: MessageId,
    /// The start of the last message, whitespace folded, at most 100 characters.
    pub preview: String,
    pub unread: i64,
}

impl ThreadSummary {
    pub fn key(&self) -> ThreadKey {
        ThreadKey {
            line: self.line_id,
            counterpart: self.counterpart.clone(),
        }
    }

    /// The cursor for the page after this row.
    pub fn cursor(&self) -> ThreadCursor {
        ThreadCursor {
            last_message_at: self.last_message_at,
            id: self.id,
        }
    }
}

/// Where a page of the conversation list ends: the next page starts strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ThreadCursor {
    pub last_message_at: i64,
    pub id: ThreadId,
}

/// The name of the contact owning the number `t.counterpart`, if any: two unique-key lookups,
/// written as nested subqueries so that no statistics can turn one into a scan.
macro_rules! contact_name_of_counterpart {
    () => {
        "(SELECT c.name FROM contacts c WHERE c.id =
            (SELECT n.contact_id FROM contact_numbers n WHERE n.number = t.counterpart))"
    };
}
pub(crate) use contact_name_of_counterpart;

/// The columns of a [`ThreadSummary`].
const SUMMARY_COLUMNS: &str = concat!(
    "t.id, t.line_id, t.counterpart, ",
    contact_name_of_counterpart!(),
    ", t.last_message_at, t.last_message_id, t.preview, t.unread"
);

pub(crate) const LIST_ALL_SQL: &str = "SELECT {cols} FROM threads t
    WHERE (t.last_message_at, t.id) < (?1, ?2)
    ORDER BY t.last_message_at DESC, t.id DESC LIMIT ?3";
pub(crate) const LIST_LINE_SQL: &str = "SELECT {cols} FROM threads t
    WHERE t.line_id = ?4 AND (t.last_message_at, t.id) < (?1, ?2)
    ORDER BY t.last_message_at DESC, t.id DESC LIMIT ?3";

pub(crate) fn list_sql(template: &str) -> String {
    template.replace("{cols}", SUMMARY_COLUMNS)
}

impl Store {
    /// The conversation list, most recent activity first, optionally for one line; `before`
    /// continues after the last row of the previous page.
    pub fn list_threads(
        &self,
        line: Option<LineId>,
        limit: usize,
        before: Option<ThreadCursor>,
    ) -> Result<Vec<ThreadSummary>> {
        let (at, id) = before.map_or((i64::MAX, i64::MAX), |c| (c.last_message_at, c.id.0));
        let limit = limit.min(10_000) as i64;
        self.read(|conn| {
            let rows = match line {
                None => conn
                    .prepare_cached(&list_sql(LIST_ALL_SQL))?
                    .query_map(params![at, id, limit], summary_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
                Some(line) => conn
                    .prepare_cached(&list_sql(LIST_LINE_SQL))?
                    .query_map(params![at, id, limit, line.0], summary_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
            };
            Ok(rows)
        })
    }

    pub fn get_thread(&self, id: ThreadId) -> Result<ThreadSummary> {
        self.read(|conn| get_thread(conn, id))
    }

    /// The thread of a (line, number) pair, if a message was ever exchanged on it.
    pub fn thread_by_key(&self, key: &ThreadKey) -> Result<Option<ThreadSummary>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM threads t WHERE t.line_id = ?1 AND t.counterpart = ?2"
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(
                    params![key.line.0, key.counterpart.as_str()],
                    summary_from_row,
                )
                .optional()?)
        })
    }

    pub fn mark_read(&self, id: ThreadId) -> Result<()> {
        self.write(|tx| {
            let found = tx
                .prepare_cached("UPDATE threads SET unread = 0 WHERE id = ?1 RETURNING 1")?
                .exists([id.0])?;
            if !found {
                return Err(StoreError::ThreadNotFound(id));
            }
            Ok(())
        })
    }

    /// Unread messages over all threads, for the tray badge.
    pub fn total_unread(&self) -> Result<i64> {
        self.read(|conn| {
            Ok(
                conn.query_row("SELECT coalesce(sum(unread), 0) FROM threads", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }
}

pub(crate) fn get_thread(conn: &Connection, id: ThreadId) -> Result<ThreadSummary> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM threads t WHERE t.id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id.0], summary_from_row)
        .optional()?
        .ok_or(StoreError::ThreadNotFound(id))
}

fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadSummary> {
    Ok(ThreadSummary {
        id: ThreadId(r.get(0)?),
        line_id: LineId(r.get(1)?),
        counterpart: rows::counterpart(r, 2)?,
        contact_name: r.get(3)?,
        last_message_at: r.get(4)?,
        last_message_id: MessageId(r.get(5)?),
        preview: r.get(6)?,
        unread: r.get(7)?,
    })
}

/// Finds or creates the thread of `key` and makes `message` its last one when it is the
/// newest; returns the thread's id.
pub(crate) fn upsert_thread(
    tx: &Transaction<'_>,
    key: &ThreadKey,
    at: i64,
    message: MessageId,
    preview: &str,
    unread: i64,
) -> Result<ThreadId> {
    // Every SET expression reads the row as it was, so the CASEs compare with the old time.
    let id = tx
        .prepare_cached(
            "INSERT INTO threads
                 (line_id, counterpart, created_at, last_message_at, last_message_id, preview, unread)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)
             ON CONFLICT (line_id, counterpart) DO UPDATE SET
                 last_message_id = CASE WHEN excluded.last_message_at >= threads.last_message_at
                     THEN excluded.last_message_id ELSE threads.last_message_id END,
                 preview = CASE WHEN excluded.last_message_at >= threads.last_message_at
                     THEN excluded.preview ELSE threads.preview END,
                 last_message_at = max(threads.last_message_at, excluded.last_message_at),
                 unread = threads.unread + excluded.unread
             RETURNING id",
        )?
        .query_row(
            params![
                key.line.0,
                key.counterpart.as_str(),
                at,
                message.0,
                preview,
                unread
            ],
            |r| r.get(0),
        )?;
    Ok(ThreadId(id))
}

/// Points a thread at its newest remaining message, or deletes it when none is left.
pub(crate) fn refresh_thread_last_message(tx: &Transaction<'_>, thread: ThreadId) -> Result<()> {
    let last = tx
        .prepare_cached(
            "SELECT id, created_at, body, has_attachment FROM messages WHERE thread_id = ?1
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?
        .query_row([thread.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .optional()?;
    match last {
        Some((id, at, body, image)) => {
            tx.execute(
                "UPDATE threads SET last_message_id = ?2, last_message_at = ?3, preview = ?4
                 WHERE id = ?1",
                params![thread.0, id, at, rows::preview(&body, image)],
            )?;
        }
        None => {
            tx.execute("DELETE FROM threads WHERE id = ?1", [thread.0])?;
            tx.execute(
                "DELETE FROM drafts WHERE key = ?1",
                [DraftKey::Thread(thread).to_string()],
            )?;
        }
    }
    Ok(())
}
