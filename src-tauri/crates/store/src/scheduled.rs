//! Scheduled messages: what the user asked to send later, waiting with its images until due
//! (migration 9). Released (made a message of its thread and a job of the outbox, in the
//! transaction that removes it: `outbox::enqueue_in`) when due, or held once found late by more
//! than the grace until the user confirms; edited or cancelled while it waits.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{ImageKind, LineId, ThreadKey, E164};
use switchboard_core::schedule::{self, Due};

use crate::error::{Result, StoreError};
use crate::messages::{check_lines, NewImage};
use crate::outbox::{check_outgoing, enqueue_in, Enqueued, NewOutgoing};
use crate::rows;
use crate::DraftKey;
use crate::Store;

/// A scheduled message's id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(transparent)]
pub struct ScheduledId(pub i64);

impl std::fmt::Display for ScheduledId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A message waiting for its time (without its images' bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Scheduled {
    pub id: ScheduledId,
    pub line_id: LineId,
    pub counterpart: E164,
    pub body: String,
    /// When it goes, in ms since the epoch.
    pub send_at: i64,
    /// Found late by more than the grace (the computer was off or asleep at its time): it
    /// waits for the user to send it anyway or cancel it.
    pub held: bool,
    pub images: u32,
    pub created_at: i64,
}

/// What one look at the due scheduled messages did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Made messages and outbox jobs, in their time order.
    pub queued: Vec<Enqueued>,
    /// Late by more than the grace: held for the user.
    pub held: Vec<ScheduledId>,
}

const COLUMNS: &str = "s.id, s.line_id, s.counterpart, s.body, s.send_at, s.held,
    (SELECT count(*) FROM scheduled_images i WHERE i.scheduled_id = s.id), s.created_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Scheduled> {
    Ok(Scheduled {
        id: ScheduledId(r.get(0)?),
        line_id: LineId(r.get(1)?),
        counterpart: rows::e164(r, 2)?,
        body: r.get(3)?,
        send_at: r.get(4)?,
        held: r.get(5)?,
        images: r.get(6)?,
        created_at: r.get(7)?,
    })
}

impl Store {
    /// Keeps messages to send at `send_at` (one per item, as a fan-out), in one transaction;
    /// the composer's `draft` they came from, if any, is removed in it (as a send removes it).
    pub fn schedule(
        &self,
        items: &[NewOutgoing],
        send_at: i64,
        now_ms: i64,
        draft: Option<DraftKey>,
    ) -> Result<Vec<ScheduledId>> {
        items.iter().try_for_each(check_outgoing)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            check_lines(tx, items.iter().map(|i| i.key.line))?;
            let ids = items
                .iter()
                .map(|item| insert(tx, item, send_at, now_ms))
                .collect::<Result<Vec<_>>>()?;
            if let Some(draft) = draft {
                crate::drafts::clear_draft_in(tx, draft)?;
            }
            Ok(ids)
        })
    }

    /// Every scheduled message, soonest first.
    pub fn list_scheduled(&self) -> Result<Vec<Scheduled>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM scheduled s ORDER BY s.send_at, s.id"
            ))?;
            let rows = stmt
                .query_map([], from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    /// The scheduled messages of one (line, counterpart) thread, soonest first.
    pub fn scheduled_for(&self, key: &ThreadKey) -> Result<Vec<Scheduled>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM scheduled s
                 WHERE s.line_id = ?1 AND s.counterpart = ?2 ORDER BY s.send_at, s.id"
            ))?;
            let rows = stmt
                .query_map(params![key.line.0, key.counterpart.as_str()], from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    pub fn get_scheduled(&self, id: ScheduledId) -> Result<Scheduled> {
        self.read(|conn| get(conn, id))
    }

    /// When the next scheduled message that is not held is due, if any.
    pub fn next_scheduled_at(&self) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT min(send_at) FROM scheduled WHERE held = 0")?
                .query_row([], |r| r.get(0))?)
        })
    }

    /// How many wait for the user's confirmation.
    pub fn held_count(&self) -> Result<i64> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT count(*) FROM scheduled WHERE held = 1")?
                .query_row([], |r| r.get(0))?)
        })
    }

    /// Releases what is due at `now_ms` (core's `schedule::due`): each one on time or late by
    /// at most the grace becomes a message and an outbox job (due now) in the transaction that
    /// removes it; one later than that is held for the user. One transaction for them all.
    pub fn release_due(&self, now_ms: i64) -> Result<Released> {
        self.write(|tx| {
            let due: Vec<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT id, send_at FROM scheduled
                     WHERE held = 0 AND send_at <= ?1 ORDER BY send_at, id",
                )?
                .query_map([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut released = Released::default();
            for (id, send_at) in due {
                let id = ScheduledId(id);
                if schedule::due(send_at, now_ms) == Due::Confirm {
                    tx.prepare_cached("UPDATE scheduled SET held = 1 WHERE id = ?1")?
                        .execute([id.0])?;
                    released.held.push(id);
                } else {
                    released.queued.extend(release(tx, id, now_ms)?);
                }
            }
            Ok(released)
        })
    }

    /// Sends held (or not yet due) scheduled messages now, as the user asked: each becomes a
    /// message and an outbox job in the transaction that removes it. `None`: every held one.
    pub fn release_now(&self, ids: Option<&[ScheduledId]>, now_ms: i64) -> Result<Vec<Enqueued>> {
        self.write(|tx| {
            let ids: Vec<ScheduledId> = match ids {
                Some(ids) => ids.to_vec(),
                None => tx
                    .prepare_cached("SELECT id FROM scheduled WHERE held = 1 ORDER BY send_at, id")?
                    .query_map([], |r| Ok(ScheduledId(r.get(0)?)))?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(release(tx, id, now_ms)?);
            }
            Ok(out)
        })
    }

    /// Changes a waiting message's text and time; it is no longer held (its new time decides).
    pub fn edit_scheduled(&self, id: ScheduledId, body: &str, send_at: i64) -> Result<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE scheduled SET body = ?2, send_at = ?3, held = 0 WHERE id = ?1",
                )?
                .execute(params![id.0, body, send_at])?;
            if changed == 0 {
                return Err(StoreError::ScheduledNotFound(id.0));
            }
            Ok(())
        })
    }

    /// Cancels a waiting message: it and its images are gone, nothing is sent.
    pub fn cancel_scheduled(&self, id: ScheduledId) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM scheduled_images WHERE scheduled_id = ?1")?
                .execute([id.0])?;
            let gone = tx
                .prepare_cached("DELETE FROM scheduled WHERE id = ?1")?
                .execute([id.0])?;
            if gone == 0 {
                return Err(StoreError::ScheduledNotFound(id.0));
            }
            Ok(())
        })
    }
}

fn get(conn: &Connection, id: ScheduledId) -> Result<Scheduled> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM scheduled s WHERE s.id = ?1"
    ))?
    .query_row([id.0], from_row)
    .optional()?
    .ok_or(StoreError::ScheduledNotFound(id.0))
}

fn insert(
    tx: &Transaction<'_>,
    item: &NewOutgoing,
    send_at: i64,
    now_ms: i64,
) -> Result<ScheduledId> {
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO scheduled (line_id, counterpart, body, client_id, send_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )?
        .query_row(
            params![
                item.key.line.0,
                item.key.counterpart.as_str(),
                item.body,
                item.client_id,
                send_at,
                now_ms
            ],
            |r| r.get(0),
        )
        .map_err(|e| {
            if crate::error::is_unique_violation(&e) {
                StoreError::DuplicateClientId {
                    client_id: item.client_id.clone(),
                }
            } else {
                e.into()
            }
        })?;
    let mut images = tx.prepare_cached(
        "INSERT INTO scheduled_images (scheduled_id, idx, kind, width, height, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (idx, image) in item.images.iter().enumerate() {
        images.execute(params![
            id,
            idx as i64,
            image.kind.mime(),
            image.width,
            image.height,
            image.bytes
        ])?;
    }
    Ok(ScheduledId(id))
}

/// Makes a scheduled message a message and an outbox job due now, and removes it.
fn release(tx: &Transaction<'_>, id: ScheduledId, now_ms: i64) -> Result<Vec<Enqueued>> {
    let (line, counterpart, body, client_id): (i64, String, String, String) = tx
        .prepare_cached(
            "SELECT line_id, counterpart, body, client_id FROM scheduled WHERE id = ?1",
        )?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?
        .ok_or(StoreError::ScheduledNotFound(id.0))?;
    let images: Vec<NewImage> = tx
        .prepare_cached(
            "SELECT kind, width, height, bytes FROM scheduled_images
             WHERE scheduled_id = ?1 ORDER BY idx",
        )?
        .query_map([id.0], |r| {
            let mime: String = r.get(0)?;
            Ok((mime, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<(String, u32, u32, Vec<u8>)>>>()?
        .into_iter()
        .map(|(mime, width, height, bytes)| {
            Ok(NewImage {
                kind: ImageKind::from_mime(&mime).ok_or_else(|| {
                    StoreError::Corrupt(format!("scheduled image of type {mime}"))
                })?,
                width,
                height,
                bytes,
            })
        })
        .collect::<Result<_>>()?;
    let counterpart = E164::from_normalized(&counterpart)
        .or_else(|| E164::from_sender(&counterpart))
        .ok_or_else(|| StoreError::Corrupt("a scheduled message's number".into()))?;
    let item = NewOutgoing {
        key: ThreadKey {
            line: LineId(line),
            counterpart,
        },
        body,
        images,
        client_id,
    };
    tx.prepare_cached("DELETE FROM scheduled_images WHERE scheduled_id = ?1")?
        .execute([id.0])?;
    tx.prepare_cached("DELETE FROM scheduled WHERE id = ?1")?
        .execute([id.0])?;
    enqueue_in(tx, std::slice::from_ref(&item), now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{key, num, test_key};

    const T0: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;
    const GRACE: i64 = schedule::LATE_GRACE_MS;
    const ADA: &str = "+447700900001";

    fn item(line: LineId, to: &str, body: &str, client_id: &str) -> NewOutgoing {
        NewOutgoing {
            key: key(line, to),
            body: body.into(),
            images: Vec::new(),
            client_id: client_id.into(),
        }
    }

    fn sales(store: &Store) -> LineId {
        store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id
    }

    #[test]
    fn a_scheduled_message_waits_survives_a_reopen_and_goes_once_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::create(&path, test_key()).unwrap();
        let line = sales(&store);
        let photo = NewImage {
            kind: ImageKind::Png,
            bytes: vec![1, 2, 3],
            width: 4,
            height: 3,
        };
        let mut with_photo = item(line, ADA, "Your order is ready", "c1");
        with_photo.images = vec![photo.clone()];
        let ids = store
            .schedule(&[with_photo], T0 + 10 * MINUTE, T0, None)
            .unwrap();
        drop(store);

        let store = Store::open(&path, test_key()).unwrap();
        let waiting = store.list_scheduled().unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].id, waiting[0].images, waiting[0].held),
            (ids[0], 1, false)
        );
        assert_eq!(store.scheduled_for(&key(line, ADA)).unwrap(), waiting);
        assert_eq!(store.next_scheduled_at().unwrap(), Some(T0 + 10 * MINUTE));
        assert!(store.pending_outbox().unwrap().is_empty(), "not a job yet");
        assert_eq!(
            store.list_threads(None, 10, None).unwrap().len(),
            0,
            "not a message yet"
        );

        let early = store.release_due(T0 + 10 * MINUTE - 1).unwrap();
        assert_eq!(early, Released::default());
        let due = store.release_due(T0 + 10 * MINUTE + 5_000).unwrap();
        assert_eq!((due.queued.len(), due.held.len()), (1, 0));
        let job = store.outbox_job(due.queued[0].outbox_id).unwrap();
        assert_eq!(job.client_id, "c1", "the key chosen when it was scheduled");
        assert_eq!(job.next_attempt_at, T0 + 10 * MINUTE + 5_000, "due now");
        let sent = store.attachments(due.queued[0].message_id).unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].bytes, photo.bytes);
        assert!(store.list_scheduled().unwrap().is_empty());
        assert_eq!(store.next_scheduled_at().unwrap(), None);
        // Released once: a second look finds nothing.
        assert_eq!(
            store.release_due(T0 + 20 * MINUTE).unwrap(),
            Released::default()
        );
        assert_eq!(store.pending_outbox().unwrap().len(), 1);
    }

    #[test]
    fn one_late_by_more_than_the_grace_is_held_until_the_user_sends_it() {
        let (_dir, store) = crate::testutil::new_store();
        let line = sales(&store);
        let late = store
            .schedule(
                &[item(line, ADA, "Reminder: 3 pm", "c1")],
                T0,
                T0 - MINUTE,
                None,
            )
            .unwrap();
        store
            .schedule(
                &[item(line, "+447700900002", "See you", "c2")],
                T0 + GRACE,
                T0 - MINUTE,
                None,
            )
            .unwrap();
        // The computer was off from before T0 until T0 + GRACE + 1 s.
        let woke = store.release_due(T0 + GRACE + 1_000).unwrap();
        assert_eq!(woke.held, late);
        assert_eq!(woke.queued.len(), 1, "one second late just goes");
        assert_eq!(store.held_count().unwrap(), 1);
        assert!(store.get_scheduled(late[0]).unwrap().held);
        assert_eq!(
            store.next_scheduled_at().unwrap(),
            None,
            "held waits for the user"
        );
        assert!(store.release_due(T0 + GRACE * 3).unwrap().queued.is_empty());

        let sent = store.release_now(None, T0 + GRACE * 3).unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(store.held_count().unwrap(), 0);
        assert_eq!(store.pending_outbox().unwrap().len(), 2);
    }

    #[test]
    fn a_waiting_message_can_be_edited_or_cancelled_and_holds_up_nothing() {
        let (_dir, store) = crate::testutil::new_store();
        let line = sales(&store);
        let id = store
            .schedule(
                &[item(line, ADA, "Tomorrow at 9", "c1")],
                T0 + 60 * MINUTE,
                T0,
                None,
            )
            .unwrap()[0];
        // A message to the same person now goes now: the scheduled one is no job of the thread.
        store
            .enqueue_outgoing(&[item(line, ADA, "Got it, thanks", "c2")], T0)
            .unwrap();
        assert_eq!(store.pending_outbox().unwrap().len(), 1);

        store
            .edit_scheduled(id, "Tomorrow at 10", T0 + 120 * MINUTE)
            .unwrap();
        let edited = store.get_scheduled(id).unwrap();
        assert_eq!(
            (edited.body.as_str(), edited.send_at),
            ("Tomorrow at 10", T0 + 120 * MINUTE)
        );
        store.cancel_scheduled(id).unwrap();
        assert!(store.list_scheduled().unwrap().is_empty());
        for result in [
            store.cancel_scheduled(id),
            store.edit_scheduled(id, "x", T0),
            store.get_scheduled(id).map(|_| ()),
            store.release_now(Some(&[id]), T0).map(|_| ()),
        ] {
            assert_eq!(result.unwrap_err().code().as_str(), "scheduled_not_found");
        }
    }

    #[test]
    fn the_due_look_reads_its_index() {
        let (_dir, store) = crate::testutil::new_store();
        let plan = store
            .read(|c| {
                let mut stmt = c.prepare(
                    "EXPLAIN QUERY PLAN SELECT id, send_at FROM scheduled
                     WHERE held = 0 AND send_at <= ?1 ORDER BY send_at, id",
                )?;
                let rows = stmt
                    .query_map([T0], |r| r.get::<_, String>(3))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows.join("\n"))
            })
            .unwrap();
        assert!(plan.contains("scheduled_due"), "{plan}");
    }
}
