//! Messages as rows: the types a thread shows, reading a page of a thread, one message or its
//! image, deleting one, and the row writes that every way a message arrives shares (ids, rows,
//! images, the full-text index, status).

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{
    Direction, ImageKind, LineId, MediaKind, MessageId, MessageStatus, ThreadId,
};

use crate::error::{is_unique_violation, Result, StoreError};
use crate::lines::line_exists;
use crate::rows;
use crate::threads::refresh_thread_last_message;
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
    /// Its media items in order (none for a text), without their bytes.
    pub attachments: Vec<AttachmentInfo>,
    /// An outbound message the account sent from somewhere else (a colleague's desktop, the
    /// carrier's console, a server): shown as sent, never sent by us.
    pub sent_elsewhere: bool,
    /// Why a message failed or was not delivered, as the carrier said it.
    pub error: Option<MessageError>,
}

/// Where a media item of a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentState {
    /// Its bytes are in the store.
    Ready,
    /// Received, not downloaded yet: the download is tried again until it succeeds.
    Downloading,
    /// The carrier will not give it (gone, refused); the user may ask again.
    Unavailable,
}

/// One media item of a message, as a thread lists it (its bytes come from
/// [`Store::attachment`]). Kind, type and size are known once it is downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AttachmentInfo {
    /// Its place in the message, from 0.
    pub index: u8,
    pub state: AttachmentState,
    pub kind: Option<MediaKind>,
    pub mime: Option<String>,
    #[ts(type = "number | null")]
    pub bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
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

/// A downloaded (or sent) media item with its bytes, exactly as received.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub message_id: MessageId,
    pub index: u8,
    pub kind: MediaKind,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// The image format, for the images a thread shows and the outbox sends.
    pub fn image_kind(&self) -> Option<ImageKind> {
        match self.kind {
            MediaKind::Image => ImageKind::from_mime(&self.mime),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("message_id", &self.message_id)
            .field("index", &self.index)
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

pub(crate) const THREAD_PAGE_SQL: &str =
    "SELECT id, thread_id, direction, status, body, created_at,
        has_attachment, error_code, error_message, elsewhere
    FROM messages WHERE thread_id = ?1 AND (created_at, id) < (?2, ?3)
    ORDER BY created_at DESC, id DESC LIMIT ?4";

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
            let mut rows: Vec<MessageRow> = conn
                .prepare_cached(THREAD_PAGE_SQL)?
                .query_map(
                    params![thread.0, at, id, limit.min(10_000) as i64],
                    message_from_row,
                )?
                .collect::<rusqlite::Result<_>>()?;
            for row in rows.iter_mut().filter(|r| r.has_attachment) {
                row.attachments = attachment_infos(conn, row.id)?;
            }
            Ok(rows)
        })
    }

    pub fn get_message(&self, id: MessageId) -> Result<MessageRow> {
        self.read(|conn| get_message(conn, id))
    }

    /// A message's media item `index` (from 0) with its bytes; `None` when it has no such item
    /// or the item is not downloaded yet.
    pub fn attachment(&self, message: MessageId, index: u8) -> Result<Option<Attachment>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(ATTACHMENT_SQL)?
                .query_row(params![message.0, index], |r| {
                    attachment_from_row(message, r)
                })
                .optional()?)
        })
    }

    /// A message's downloaded media items with their bytes, in order (what the outbox sends).
    pub fn attachments(&self, message: MessageId) -> Result<Vec<Attachment>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(ATTACHMENTS_SQL)?
                .query_map([message.0], |r| attachment_from_row(message, r))?
                .collect::<rusqlite::Result<_>>()?)
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
}

const ATTACHMENT_SQL: &str = "SELECT idx, kind, mime, width, height, bytes
    FROM media WHERE message_id = ?1 AND idx = ?2 AND bytes IS NOT NULL";

const ATTACHMENTS_SQL: &str = "SELECT idx, kind, mime, width, height, bytes
    FROM media WHERE message_id = ?1 AND bytes IS NOT NULL ORDER BY idx";

/// A message's media items without their bytes, for a thread's page. `typeof(bytes)` reads
/// only the column's type from the record header, where `bytes IS NOT NULL` as a result column
/// would load (and decrypt) every page of a stored photo; no column after `bytes` is read.
pub(crate) const ATTACHMENT_INFOS_SQL: &str =
    "SELECT idx, kind, mime, size, width, height, typeof(bytes) = 'blob',
        coalesce((SELECT failed FROM media_fetch f WHERE f.message_id = media.message_id), 0)
    FROM media WHERE message_id = ?1 ORDER BY idx";

fn attachment_from_row(message: MessageId, r: &rusqlite::Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        message_id: message,
        index: r.get(0)?,
        kind: rows::media_kind(r, 1)?.unwrap_or(MediaKind::Other),
        mime: r
            .get::<_, Option<String>>(2)?
            .unwrap_or_else(|| "application/octet-stream".into()),
        width: r.get(3)?,
        height: r.get(4)?,
        bytes: r.get(5)?,
    })
}

pub(crate) fn attachment_infos(
    conn: &Connection,
    message: MessageId,
) -> Result<Vec<AttachmentInfo>> {
    Ok(conn
        .prepare_cached(ATTACHMENT_INFOS_SQL)?
        .query_map([message.0], |r| {
            let ready: bool = r.get(6)?;
            let failed: bool = r.get(7)?;
            Ok(AttachmentInfo {
                index: r.get(0)?,
                state: match (ready, failed) {
                    (true, _) => AttachmentState::Ready,
                    (false, false) => AttachmentState::Downloading,
                    (false, true) => AttachmentState::Unavailable,
                },
                kind: rows::media_kind(r, 1)?,
                mime: r.get(2)?,
                bytes: r.get(3)?,
                width: r.get(4)?,
                height: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
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
pub(crate) fn release_unused_message_ids(tx: &Transaction<'_>, last_used: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE message_id_high_water SET last_id = max(?1, 0) WHERE only = 1 AND last_id > ?1",
    )?
    .execute([last_used])?;
    Ok(())
}

pub(crate) fn check_lines(
    conn: &Connection,
    lines: impl IntoIterator<Item = LineId>,
) -> Result<()> {
    let mut seen = HashSet::new();
    for line in lines {
        if seen.insert(line) && !line_exists(conn, line)? {
            return Err(StoreError::LineNotFound(line));
        }
    }
    Ok(())
}

/// A message row to insert, as the outbox and the sync write them.
pub(crate) struct NewRow<'a> {
    pub(crate) thread_id: ThreadId,
    pub(crate) id: MessageId,
    pub(crate) created_at: i64,
    pub(crate) direction: Direction,
    pub(crate) status: MessageStatus,
    pub(crate) body: &'a str,
    pub(crate) has_attachment: bool,
    pub(crate) carrier_sid: Option<&'a str>,
}

/// Adds message bodies to the full-text index, in increasing id order. Called last in a
/// write transaction, and not from a trigger: a trigger (or any later multi-row statement)
/// makes SQLite open a statement savepoint, at which FTS5 flushes its pending terms to disk;
/// per message, that is one tiny segment each and merges that took a third of import time.
pub(crate) fn index_bodies<'a>(
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
pub(crate) fn insert_message(tx: &Transaction<'_>, row: &NewRow<'_>) -> Result<()> {
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

/// Stores a message's images (already checked and fitted), as its media items 0, 1, ….
pub(crate) fn insert_images(
    tx: &Transaction<'_>,
    message: MessageId,
    images: &[NewImage],
) -> Result<()> {
    if images.len() > switchboard_core::media::MAX_MEDIA_PER_MESSAGE {
        return Err(StoreError::InvalidInput {
            what: "images",
            why: "a message carries at most 10",
        });
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO media (message_id, idx, kind, mime, size, width, height, bytes)
         VALUES (?1, ?2, 'image', ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (idx, image) in images.iter().enumerate() {
        insert.execute(params![
            message.0,
            idx as i64,
            image.kind.mime(),
            image.bytes.len() as i64,
            image.width,
            image.height,
            image.bytes
        ])?;
    }
    Ok(())
}

/// Records that a received message has `count` media items to download (`urls`, in order, as
/// far as the carrier listed them) and queues their download, due now.
pub(crate) fn insert_pending_media(
    tx: &Transaction<'_>,
    message: MessageId,
    count: usize,
    urls: &[String],
) -> Result<()> {
    let count = count
        .max(urls.len())
        .min(switchboard_core::media::MAX_MEDIA_PER_MESSAGE);
    if count == 0 {
        return Ok(());
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO media (message_id, idx, url) VALUES (?1, ?2, ?3)")?;
    for idx in 0..count {
        insert.execute(params![message.0, idx as i64, urls.get(idx)])?;
    }
    tx.prepare_cached(
        "INSERT OR IGNORE INTO media_fetch (message_id, next_attempt_at) VALUES (?1, 0)",
    )?
    .execute([message.0])?;
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

pub(crate) fn get_message(conn: &Connection, id: MessageId) -> Result<MessageRow> {
    let mut row = conn
        .prepare_cached(
            "SELECT id, thread_id, direction, status, body, created_at, has_attachment,
                error_code, error_message, elsewhere
             FROM messages WHERE id = ?1",
        )?
        .query_row([id.0], message_from_row)
        .optional()?
        .ok_or(StoreError::MessageNotFound(id))?;
    if row.has_attachment {
        row.attachments = attachment_infos(conn, id)?;
    }
    Ok(row)
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
        attachments: Vec::new(),
        sent_elsewhere: r.get(9)?,
        error: match (code, message) {
            (None, None) => None,
            (code, message) => Some(MessageError {
                code,
                message: message.unwrap_or_default(),
            }),
        },
    })
}

/// A message's images with their bytes, in order, inside a transaction: what a new message
/// made from it carries again.
pub(crate) fn images_of(conn: &Connection, message: MessageId) -> Result<Vec<NewImage>> {
    let items: Vec<Attachment> = conn
        .prepare_cached(ATTACHMENTS_SQL)?
        .query_map([message.0], |r| attachment_from_row(message, r))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(items
        .into_iter()
        .filter_map(|a| {
            Some(NewImage {
                kind: a.image_kind()?,
                width: a.width.unwrap_or(0),
                height: a.height.unwrap_or(0),
                bytes: a.bytes,
            })
        })
        .collect())
}

/// Deletes a message the carrier has (with its media and job), keeping its carrier id in
/// `forgotten_sids` so that the sync never records it again as sent from elsewhere. Returns
/// its thread, which shows its previous message, or goes when it has none left.
pub(crate) fn forget_message(tx: &Transaction<'_>, message: MessageId) -> Result<ThreadId> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO forgotten_sids (carrier_sid)
         SELECT carrier_sid FROM messages WHERE id = ?1 AND carrier_sid IS NOT NULL",
    )?
    .execute([message.0])?;
    let thread: i64 = tx
        .query_row(
            "DELETE FROM messages WHERE id = ?1 RETURNING thread_id",
            [message.0],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::MessageNotFound(message))?;
    refresh_thread_last_message(tx, ThreadId(thread))?;
    Ok(ThreadId(thread))
}

/// Whether the user removed the message the carrier knows as `carrier_sid`.
pub(crate) fn is_forgotten(conn: &Connection, carrier_sid: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM forgotten_sids WHERE carrier_sid = ?1")?
        .query_row([rows::Sid(carrier_sid)], |_| Ok(()))
        .optional()?
        .is_some())
}
