//! Messages: reading a thread, the durable fan-out enqueue, inbound messages deduplicated by
//! the carrier's id, delivery statuses, deletion, and the bulk history import.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{
    Direction, ImageKind, LineId, MessageId, MessageStatus, ThreadId, ThreadKey,
};

use crate::error::{is_unique_violation, Result, StoreError};
use crate::lines::line_exists;
use crate::outbox::OutboxId;
use crate::rows;
use crate::Store;

/// One message as a thread shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MessageRow {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub direction: Direction,
    pub status: MessageStatus,
    pub body: String,
    pub created_at: i64,
    pub has_attachment: bool,
    /// Why a message failed or was not delivered, as the carrier said it.
    pub error: Option<MessageError>,
}

impl MessageRow {
    /// The cursor for the page of older messages after this one.
    pub fn cursor(&self) -> MessageCursor {
        MessageCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A carrier error: its code when it has one, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MessageError {
    pub code: Option<String>,
    pub message: String,
}

/// Where a page of a thread ends: the next page holds strictly older messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MessageCursor {
    pub created_at: i64,
    pub id: MessageId,
}

/// An image to store with a message (already checked and scaled by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    pub kind: ImageKind,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub message_id: MessageId,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// One recipient's message of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutgoing {
    pub key: ThreadKey,
    pub body: String,
    pub image: Option<NewImage>,
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

/// The result of recording an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub thread_id: ThreadId,
    pub message_id: MessageId,
    /// False when the carrier id was already recorded: nothing was written (no notification).
    pub is_new: bool,
}

/// One message of an imported history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub key: ThreadKey,
    pub direction: Direction,
    pub status: MessageStatus,
    pub body: String,
    pub created_at: i64,
    pub carrier_sid: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: u64,
    /// Skipped because their carrier id was already in the store.
    pub duplicates: u64,
    pub threads_created: u64,
}

/// Messages per import transaction: large enough that commits are rare, small enough that
/// the writer lock is released often for the UI's own writes.
pub const IMPORT_BATCH: usize = 25_000;

/// The writer's page cache during an import, in KiB (given back when the import ends).
const IMPORT_CACHE_KIB: i64 = 256 * 1024;

pub(crate) const THREAD_PAGE_SQL: &str =
    "SELECT id, thread_id, direction, status, body, created_at,
        has_attachment, error_code, error_message
    FROM messages WHERE thread_id = ?1 AND (created_at, id) < (?2, ?3)
    ORDER BY created_at DESC, id DESC LIMIT ?4";

/// The outbound message a delivery status is about.
pub(crate) const DELIVERY_STATUS_SQL: &str =
    "SELECT id, status FROM messages WHERE carrier_sid = ?1 AND direction = ?2";

impl Store {
    /// A page of a thread, newest first; `before` continues after the previous page.
    pub fn thread_messages(
        &self,
        thread: ThreadId,
        limit: usize,
        before: Option<MessageCursor>,
    ) -> Result<Vec<MessageRow>> {
        let (at, id) = before.map_or((i64::MAX, i64::MAX), |c| (c.created_at, c.id.0));
        self.read(|conn| {
            let rows = conn
                .prepare_cached(THREAD_PAGE_SQL)?
                .query_map(
                    params![thread.0, at, id, limit.min(10_000) as i64],
                    message_from_row,
                )?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    pub fn get_message(&self, id: MessageId) -> Result<MessageRow> {
        self.read(|conn| get_message(conn, id))
    }

    pub fn get_attachment(&self, message: MessageId) -> Result<Option<Attachment>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT mime, width, height, bytes FROM attachments WHERE message_id = ?1",
                )?
                .query_row([message.0], |r| {
                    Ok(Attachment {
                        message_id: message,
                        kind: rows::image_kind(r, 0)?,
                        width: r.get(1)?,
                        height: r.get(2)?,
                        bytes: r.get(3)?,
                    })
                })
                .optional()?)
        })
    }

    /// Writes a send durably, in ONE transaction: for each item its message (`queued`), its
    /// image and its outbox job, creating threads as needed and moving them to the top of the
    /// list. Any failure (an unknown line, a client id already used) writes nothing at all.
    pub fn enqueue_outgoing(&self, items: &[NewOutgoing], now_ms: i64) -> Result<Vec<Enqueued>> {
        for item in items {
            if item.body.is_empty() && item.image.is_none() {
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
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            check_lines(tx, items.iter().map(|i| i.key.line))?;
            let first_id = allocate_message_ids(tx, items.len())?;
            let mut out = Vec::with_capacity(items.len());
            for (id, item) in (first_id..).map(MessageId).zip(items) {
                let image = item.image.as_ref();
                let thread_id = upsert_thread(
                    tx,
                    &item.key,
                    now_ms,
                    id,
                    &rows::preview(&item.body, image.is_some()),
                    0,
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
                        has_attachment: image.is_some(),
                        carrier_sid: None,
                    },
                )?;
                if let Some(image) = image {
                    insert_attachment(tx, id, image)?;
                }
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
            tracing::debug!(messages = out.len(), "enqueued outgoing messages");
            Ok(out)
        })
    }

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
        if carrier_sid.is_empty() {
            return Err(StoreError::InvalidInput {
                what: "carrier message id",
                why: "it is empty",
            });
        }
        self.write(|tx| {
            let known = tx
                .prepare_cached("SELECT thread_id, id FROM messages WHERE carrier_sid = ?1")?
                .query_row([rows::Sid(carrier_sid)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((thread, id)) = known {
                return Ok(Inbound {
                    thread_id: ThreadId(thread),
                    message_id: MessageId(id),
                    is_new: false,
                });
            }
            check_lines(tx, [key.line])?;
            let id = MessageId(allocate_message_ids(tx, 1)?);
            let preview = rows::preview(body, image.is_some());
            let thread_id = upsert_thread(tx, key, created_at, id, &preview, 1)?;
            insert_message(
                tx,
                &NewRow {
                    thread_id,
                    id,
                    created_at,
                    direction: Direction::Inbound,
                    status: MessageStatus::Received,
                    body,
                    has_attachment: image.is_some(),
                    carrier_sid: Some(carrier_sid),
                },
            )?;
            if let Some(image) = image {
                insert_attachment(tx, id, image)?;
            }
            index_bodies(tx, [(id, body)])?;
            Ok(Inbound {
                thread_id,
                message_id: id,
                is_new: true,
            })
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

    /// Deletes a message (with its image and outbox job). The thread then shows its previous
    /// message, or disappears with its draft when it has none left.
    pub fn delete_message(&self, id: MessageId) -> Result<()> {
        self.write(|tx| {
            let thread: i64 = tx
                .query_row(
                    "DELETE FROM messages WHERE id = ?1 RETURNING thread_id",
                    [id.0],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::MessageNotFound(id))?;
            refresh_thread_last_message(tx, ThreadId(thread))
        })
    }

    /// Imports history in transactions of [`IMPORT_BATCH`] messages. Messages get ids in the
    /// order given, so give them oldest first for search to list newest hits first. Messages
    /// whose carrier id is known are skipped. Each batch is atomic; on an error, the batches
    /// before it stay imported. Imported messages are not counted as unread.
    pub fn import_history<I>(&self, messages: I) -> Result<ImportReport>
    where
        I: IntoIterator<Item = HistoryMessage>,
    {
        // Messages land all over the thread-clustered table, so a bigger cache for the
        // duration of the import saves most page reads (each one decrypted) and rewrites.
        self.set_writer_cache_kib(IMPORT_CACHE_KIB)?;
        let result = self.import_batches(messages);
        self.set_writer_cache_kib(crate::db::WRITER_CACHE_KIB)?;
        result
    }

    fn import_batches<I>(&self, messages: I) -> Result<ImportReport>
    where
        I: IntoIterator<Item = HistoryMessage>,
    {
        let mut report = ImportReport::default();
        let mut cache = ImportCache::default();
        let mut messages = messages.into_iter().peekable();
        while messages.peek().is_some() {
            let batch: Vec<HistoryMessage> = messages.by_ref().take(IMPORT_BATCH).collect();
            let mut batch_report = ImportReport::default();
            let mut batch_cache = cache.clone();
            self.write(|tx| import_batch(tx, &batch, &mut batch_cache, &mut batch_report))?;
            cache = batch_cache;
            report.imported += batch_report.imported;
            report.duplicates += batch_report.duplicates;
            report.threads_created += batch_report.threads_created;
        }
        tracing::info!(
            imported = report.imported,
            duplicates = report.duplicates,
            threads_created = report.threads_created,
            "imported message history"
        );
        Ok(report)
    }
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

/// What the import already knows: committed threads and lines that exist.
#[derive(Default, Clone)]
struct ImportCache {
    threads: HashMap<ThreadKey, ThreadId>,
    lines: HashSet<LineId>,
}

fn import_batch(
    tx: &Transaction<'_>,
    batch: &[HistoryMessage],
    cache: &mut ImportCache,
    report: &mut ImportReport,
) -> Result<()> {
    // One block of ids for the whole batch: one statement, not one per message.
    let mut next_id = allocate_message_ids(tx, batch.len())?;
    // The newest message seen per thread; threads are updated once per batch, not per message.
    let mut newest: HashMap<ThreadId, (i64, i64, &HistoryMessage)> = HashMap::new();
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO messages
             (thread_id, created_at, id, direction, status, body, carrier_sid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut find_thread =
        tx.prepare_cached("SELECT id FROM threads WHERE line_id = ?1 AND counterpart = ?2")?;
    let mut new_thread = tx.prepare_cached(
        "INSERT INTO threads
             (line_id, counterpart, created_at, last_message_at, last_message_id, preview, unread)
         VALUES (?1, ?2, ?3, -9223372036854775808, 0, '', 0) RETURNING id",
    )?;
    let mut created: Vec<ThreadId> = Vec::new();
    let mut indexed: Vec<(i64, &str)> = Vec::with_capacity(batch.len());
    for m in batch {
        if !cache.lines.contains(&m.key.line) {
            if !line_exists(tx, m.key.line)? {
                return Err(StoreError::LineNotFound(m.key.line));
            }
            cache.lines.insert(m.key.line);
        }
        let id = next_id;
        let thread_id = match cache.threads.get(&m.key) {
            Some(&thread) => thread,
            None => {
                let found: Option<i64> = find_thread
                    .query_row(params![m.key.line.0, m.key.counterpart.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                let thread = match found {
                    Some(thread) => ThreadId(thread),
                    None => {
                        // Given its last message at the end of the batch, like the others.
                        let thread = new_thread
                            .query_row(
                                params![m.key.line.0, m.key.counterpart.as_str(), m.created_at],
                                |r| r.get(0),
                            )
                            .map(ThreadId)?;
                        created.push(thread);
                        thread
                    }
                };
                cache.threads.insert(m.key.clone(), thread);
                thread
            }
        };
        let inserted = insert.execute(params![
            thread_id.0,
            m.created_at,
            id,
            rows::direction_code(m.direction),
            rows::status_code(m.status),
            m.body,
            m.carrier_sid.as_deref().map(rows::Sid),
        ])?;
        if inserted == 0 {
            report.duplicates += 1;
            continue;
        }
        indexed.push((id, &m.body));
        next_id += 1;
        report.imported += 1;
        let entry = newest.entry(thread_id).or_insert((m.created_at, id, m));
        if (m.created_at, id) > (entry.0, entry.1) {
            *entry = (m.created_at, id, m);
        }
    }
    let mut bump = tx.prepare_cached(
        "UPDATE threads SET last_message_at = ?2, last_message_id = ?3, preview = ?4
         WHERE id = ?1 AND (last_message_at, last_message_id) <= (?2, ?3)",
    )?;
    for (&thread, &(at, id, m)) in &newest {
        bump.execute(params![thread.0, at, id, rows::preview(&m.body, false)])?;
    }
    index_bodies(tx, indexed.iter().map(|&(id, body)| (MessageId(id), body)))?;
    // Duplicates used no id: give back the end of the block (seen by nobody, same transaction).
    release_unused_message_ids(tx, next_id - 1)?;
    // A thread made for messages that all turned out to be duplicates stays empty: drop it.
    for thread in created {
        if newest.contains_key(&thread) {
            report.threads_created += 1;
        } else {
            tx.execute("DELETE FROM threads WHERE id = ?1", [thread.0])?;
            cache.threads.retain(|_, t| *t != thread);
        }
    }
    Ok(())
}

pub(crate) const ALLOCATE_IDS_SQL: &str = "UPDATE message_id_high_water
    SET last_id = max(last_id, (SELECT coalesce(max(id), 0) FROM messages)) + ?1
    WHERE only = 1 RETURNING last_id - ?1 + 1";

/// Allocates `count` consecutive message ids and returns the first. Ids are allocated by the
/// one writer, in increasing order, and never handed out twice, even after the newest message
/// was deleted: the highest id ever allocated is kept in `message_id_high_water` (migration 2)
/// and only ever raised. Reading it in the write transaction keeps that true when another
/// process wrote; `max(id)` is a cheap index lookup that keeps it true whatever the table says.
pub(crate) fn allocate_message_ids(tx: &Transaction<'_>, count: usize) -> Result<i64> {
    let count = i64::try_from(count.max(1)).map_err(|_| StoreError::InvalidInput {
        what: "message count",
        why: "it is too large",
    })?;
    tx.prepare_cached(ALLOCATE_IDS_SQL)?
        .query_row([count], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::Corrupt("the message id high-water mark is missing".into()))
}

/// Lowers the high-water mark to `last_used` after [`allocate_message_ids`] gave more ids than
/// were used. Only for ids allocated in the same transaction: no one else can have seen them.
fn release_unused_message_ids(tx: &Transaction<'_>, last_used: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE message_id_high_water SET last_id = max(?1, 0) WHERE only = 1 AND last_id > ?1",
    )?
    .execute([last_used])?;
    Ok(())
}

fn check_lines(conn: &Connection, lines: impl IntoIterator<Item = LineId>) -> Result<()> {
    let mut seen = HashSet::new();
    for line in lines {
        if seen.insert(line) && !line_exists(conn, line)? {
            return Err(StoreError::LineNotFound(line));
        }
    }
    Ok(())
}

/// Finds or creates the thread of `key` and makes `message` its last one when it is the
/// newest; returns the thread's id.
fn upsert_thread(
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

struct NewRow<'a> {
    thread_id: ThreadId,
    id: MessageId,
    created_at: i64,
    direction: Direction,
    status: MessageStatus,
    body: &'a str,
    has_attachment: bool,
    carrier_sid: Option<&'a str>,
}

/// Adds message bodies to the full-text index, in increasing id order. Called last in a
/// write transaction, and not from a trigger: a trigger (or any later multi-row statement)
/// makes SQLite open a statement savepoint, at which FTS5 flushes its pending terms to disk;
/// per message, that is one tiny segment each and merges that took a third of import time.
fn index_bodies<'a>(
    tx: &Transaction<'_>,
    bodies: impl IntoIterator<Item = (MessageId, &'a str)>,
) -> Result<()> {
    let mut insert = tx.prepare_cached("INSERT INTO message_fts (rowid, body) VALUES (?1, ?2)")?;
    for (id, body) in bodies {
        // Bodies of images alone are not indexed; the delete trigger skips them the same way.
        if !body.is_empty() {
            insert.execute(params![id.0, body])?;
        }
    }
    Ok(())
}

/// Inserts a message row. Its body is indexed separately, by [`index_bodies`].
fn insert_message(tx: &Transaction<'_>, row: &NewRow<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages
             (thread_id, created_at, id, direction, status, body, has_attachment, carrier_sid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        row.thread_id.0,
        row.created_at,
        row.id.0,
        rows::direction_code(row.direction),
        rows::status_code(row.status),
        row.body,
        row.has_attachment,
        row.carrier_sid.map(rows::Sid),
    ])
    .map_err(|e| match (row.carrier_sid, is_unique_violation(&e)) {
        (Some(sid), true) => StoreError::DuplicateCarrierSid {
            carrier_sid: sid.to_owned(),
        },
        _ => e.into(),
    })?;
    Ok(())
}

fn insert_attachment(tx: &Transaction<'_>, message: MessageId, image: &NewImage) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO attachments (message_id, mime, width, height, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        message.0,
        image.kind.mime(),
        image.width,
        image.height,
        image.bytes
    ])?;
    Ok(())
}

pub(crate) fn set_message_status(
    tx: &Transaction<'_>,
    id: MessageId,
    status: MessageStatus,
    error: Option<&MessageError>,
    now_ms: i64,
) -> Result<()> {
    let changed = tx
        .prepare_cached(
            "UPDATE messages SET status = ?2, error_code = ?3, error_message = ?4, updated_at = ?5
             WHERE id = ?1",
        )?
        .execute(params![
            id.0,
            rows::status_code(status),
            error.and_then(|e| e.code.as_deref()),
            error.map(|e| e.message.as_str()),
            now_ms
        ])?;
    match changed {
        0 => Err(StoreError::MessageNotFound(id)),
        _ => Ok(()),
    }
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
                [crate::DraftKey::Thread(thread).to_string()],
            )?;
        }
    }
    Ok(())
}

pub(crate) fn get_message(conn: &Connection, id: MessageId) -> Result<MessageRow> {
    conn.prepare_cached(
        "SELECT id, thread_id, direction, status, body, created_at, has_attachment,
                error_code, error_message
         FROM messages WHERE id = ?1",
    )?
    .query_row([id.0], message_from_row)
    .optional()?
    .ok_or(StoreError::MessageNotFound(id))
}

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    let code: Option<String> = r.get(7)?;
    let message: Option<String> = r.get(8)?;
    Ok(MessageRow {
        id: MessageId(r.get(0)?),
        thread_id: ThreadId(r.get(1)?),
        direction: rows::direction(r, 2)?,
        status: rows::status(r, 3)?,
        body: r.get(4)?,
        created_at: r.get(5)?,
        has_attachment: r.get(6)?,
        error: match (code, message) {
            (None, None) => None,
            (code, message) => Some(MessageError {
                code,
                message: message.unwrap_or_default(),
            }),
        },
    })
}
