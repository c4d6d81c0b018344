//! Conversations: the list of each triage view (newest activity first), lookups by id or key,
//! read state, triage (done, snoozed, marked unread; core's `triage` says the rules), and the
//! thread rows that adding or deleting a message moves.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, MessageId, ThreadId, ThreadKey, E164};
use switchboard_core::triage::{Arrival, View};

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
    /// Inbox, snoozed or done.
    pub view: View,
    /// When a snoozed thread comes back (`None` unless snoozed).
    pub snoozed_until: Option<i64>,
    /// What the list is ordered by: the last message's time, or the later time a snooze
    /// ended (it came back on top then).
    pub listed_at: i64,
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
            listed_at: self.listed_at,
            id: self.id,
        }
    }
}

/// Where a page of the conversation list ends: the next page starts strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ThreadCursor {
    pub listed_at: i64,
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
    ", t.last_message_at, t.last_message_id, t.preview, t.unread, t.view, t.snoozed_until, \
     t.listed_at"
);

pub(crate) const LIST_ALL_SQL: &str = "SELECT {cols} FROM threads t
    WHERE t.view = ?4 AND (t.listed_at, t.id) < (?1, ?2)
    ORDER BY t.listed_at DESC, t.id DESC LIMIT ?3";
pub(crate) const LIST_LINE_SQL: &str = "SELECT {cols} FROM threads t
    WHERE t.line_id = ?5 AND t.view = ?4 AND (t.listed_at, t.id) < (?1, ?2)
    ORDER BY t.listed_at DESC, t.id DESC LIMIT ?3";
/// Unread messages per line, read from the partial index of unread threads.
pub(crate) const UNREAD_BY_LINE_SQL: &str =
    "SELECT line_id, sum(unread) FROM threads WHERE unread > 0 GROUP BY line_id ORDER BY line_id";
/// The soonest end of a snooze.
pub(crate) const NEXT_SNOOZE_END_SQL: &str =
    "SELECT min(snoozed_until) FROM threads WHERE view = 1";
/// The snoozes over by `?1`, brought back on top at `?1` and marked unread.
pub(crate) const WAKE_SQL: &str = "UPDATE threads
    SET view = 0, snoozed_until = NULL, triaged_at = NULL, woke_at = ?1, unread = max(unread, 1)
    WHERE view = 1 AND snoozed_until <= ?1";

pub(crate) fn list_sql(template: &str) -> String {
    template.replace("{cols}", SUMMARY_COLUMNS)
}

impl Store {
    /// The inbox: [`Store::list_view`] of [`View::Inbox`].
    pub fn list_threads(
        &self,
        line: Option<LineId>,
        limit: usize,
        before: Option<ThreadCursor>,
    ) -> Result<Vec<ThreadSummary>> {
        self.list_view(View::Inbox, line, limit, before)
    }

    /// The conversation list of one view, most recent activity first, optionally for one
    /// line; `before` continues after the last row of the previous page.
    pub fn list_view(
        &self,
        view: View,
        line: Option<LineId>,
        limit: usize,
        before: Option<ThreadCursor>,
    ) -> Result<Vec<ThreadSummary>> {
        let (at, id) = before.map_or((i64::MAX, i64::MAX), |c| (c.listed_at, c.id.0));
        let view = rows::view_code(view);
        let limit = limit.min(10_000) as i64;
        self.read(|conn| {
            let rows = match line {
                None => conn
                    .prepare_cached(&list_sql(LIST_ALL_SQL))?
                    .query_map(params![at, id, limit, view], summary_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
                Some(line) => conn
                    .prepare_cached(&list_sql(LIST_LINE_SQL))?
                    .query_map(params![at, id, limit, view, line.0], summary_from_row)?
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
        Ok(self.unread_by_line()?.iter().map(|(_, n)| n).sum())
    }

    /// Unread messages per line, for the line filter (lines without any are left out), in
    /// the order of their ids. Every view counts: done and snoozed threads are read when they
    /// leave the inbox, so what is unread there was marked so on purpose.
    pub fn unread_by_line(&self) -> Result<Vec<(LineId, i64)>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(UNREAD_BY_LINE_SQL)?
                .query_map([], |r| Ok((LineId(r.get(0)?), r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    /// "Done": out of the inbox (read, its snooze forgotten) until a new message arrives.
    pub fn mark_done(&self, id: ThreadId, now: i64) -> Result<()> {
        self.triage(
            "UPDATE threads SET view = 2, triaged_at = ?2, snoozed_until = NULL, unread = 0
             WHERE id = ?1 RETURNING 1",
            params![id.0, now],
            id,
        )
    }

    /// Back to the inbox from Done or Snoozed, where it was in the list.
    pub fn move_to_inbox(&self, id: ThreadId) -> Result<()> {
        self.triage(
            "UPDATE threads SET view = 0, triaged_at = NULL, snoozed_until = NULL
             WHERE id = ?1 RETURNING 1",
            params![id.0],
            id,
        )
    }

    /// "Mark unread": an unread count of at least one, as a new message would leave; it stays
    /// in its view.
    pub fn mark_unread(&self, id: ThreadId) -> Result<()> {
        self.triage(
            "UPDATE threads SET unread = max(unread, 1) WHERE id = ?1 RETURNING 1",
            params![id.0],
            id,
        )
    }

    /// Out of the inbox (and read) until `until`, or until a new message arrives. The caller
    /// checks the time (core's `triage::check_snooze`).
    pub fn snooze(&self, id: ThreadId, until: i64, now: i64) -> Result<()> {
        self.triage(
            "UPDATE threads SET view = 1, triaged_at = ?3, snoozed_until = ?2, unread = 0
             WHERE id = ?1 RETURNING 1",
            params![id.0, until, now],
            id,
        )
    }

    /// Brings back every thread whose snooze is over by `now`: into the inbox, on top (listed
    /// at `now`), unread. Returns them, soonest snooze first.
    pub fn wake_snoozed(&self, now: i64) -> Result<Vec<ThreadId>> {
        self.write(|tx| {
            let mut woken: Vec<(i64, ThreadId)> = tx
                .prepare_cached(
                    "SELECT snoozed_until, id FROM threads WHERE view = 1 AND snoozed_until <= ?1",
                )?
                .query_map([now], |r| Ok((r.get(0)?, ThreadId(r.get(1)?))))?
                .collect::<rusqlite::Result<_>>()?;
            if woken.is_empty() {
                return Ok(Vec::new());
            }
            tx.prepare_cached(WAKE_SQL)?.execute([now])?;
            woken.sort();
            Ok(woken.into_iter().map(|(_, id)| id).collect())
        })
    }

    /// When the soonest snooze ends, if any thread is snoozed.
    pub fn next_snooze_end(&self) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(NEXT_SNOOZE_END_SQL)?
                .query_row([], |r| r.get(0))?)
        })
    }

    /// One triage write: `sql` answers a row when the thread exists.
    fn triage(&self, sql: &str, params: impl rusqlite::Params, id: ThreadId) -> Result<()> {
        self.write(|tx| {
            if !tx.prepare_cached(sql)?.exists(params)? {
                return Err(StoreError::ThreadNotFound(id));
            }
            Ok(())
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
        view: rows::view(r, 8)?,
        snoozed_until: r.get(9)?,
        listed_at: r.get(10)?,
    })
}

/// Finds or creates the thread of `key` and makes `message` its last one when it is the
/// newest; a message that brings threads back (core's `Arrival::brings_back`: received, or sent
/// from here) moves a done or snoozed thread back to the inbox, in the transaction that records
/// it. Returns the thread's id.
pub(crate) fn upsert_thread(
    tx: &Transaction<'_>,
    key: &ThreadKey,
    at: i64,
    message: MessageId,
    preview: &str,
    unread: i64,
    arrival: Arrival,
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
                 unread = threads.unread + excluded.unread,
                 view = CASE WHEN ?7 THEN 0 ELSE threads.view END,
                 snoozed_until = CASE WHEN ?7 THEN NULL ELSE threads.snoozed_until END,
                 triaged_at = CASE WHEN ?7 THEN NULL ELSE threads.triaged_at END
             RETURNING id",
        )?
        .query_row(
            params![
                key.line.0,
                key.counterpart.as_str(),
                at,
                message.0,
                preview,
                unread,
                arrival.brings_back()
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
