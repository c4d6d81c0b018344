//! The bulk history import: messages from another app or an export, in large batches of one
//! transaction each, deduplicated by carrier id, with threads updated once per batch.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Direction, LineId, MessageId, MessageStatus, ThreadId, ThreadKey};

use crate::db::WRITER_CACHE_KIB;
use crate::error::{Result, StoreError};
use crate::lines::line_exists;
use crate::messages::{allocate_message_ids, index_bodies, release_unused_message_ids};
use crate::rows;
use crate::Store;

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

impl HistoryMessage {
    /// A past message that has settled: received if it came in, delivered if it went out.
    pub fn settled(
        key: ThreadKey,
        inbound: bool,
        body: String,
        created_at: i64,
        carrier_sid: Option<String>,
    ) -> Self {
        let (direction, status) = if inbound {
            (Direction::Inbound, MessageStatus::Received)
        } else {
            (Direction::Outbound, MessageStatus::Delivered)
        };
        HistoryMessage {
            key,
            direction,
            status,
            body,
            created_at,
            carrier_sid,
        }
    }
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

impl Store {
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
        self.set_writer_cache_kib(WRITER_CACHE_KIB)?;
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
