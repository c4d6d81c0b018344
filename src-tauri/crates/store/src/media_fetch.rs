//! The download queue of received media (migration 5's `media_fetch`, over the `media` rows
//! the sync wrote as placeholders): which messages have media due for download, newest first;
//! their items' carrier URLs once listed; each downloaded item stored in a write of its own (so
//! a partial success is kept, its URL cleared); a failure and its next attempt; media the
//! carrier will never give (unavailable, until the user asks again); and the queue row's end
//! once every item has its bytes.

use rusqlite::types::ValueRef;
use rusqlite::{params, OptionalExtension, Transaction};
use switchboard_core::media::MAX_MEDIA_PER_MESSAGE;
use switchboard_core::model::{MediaKind, MessageId, ThreadId};

use crate::error::{Result, StoreError};
use crate::Store;

/// A message whose media are due for download, with the items still to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDownload {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    /// The carrier's id of the message, which its media are listed by.
    pub carrier_sid: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The items without bytes yet, in order.
    pub items: Vec<PendingItem>,
}

impl MediaDownload {
    /// Whether every item still to fetch has its URL (else the carrier is asked for them).
    pub fn urls_known(&self) -> bool {
        self.items.iter().all(|i| i.url.is_some())
    }
}

/// One item not downloaded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    pub index: u8,
    /// `None` while the carrier has not listed it.
    pub url: Option<String>,
}

/// A downloaded item, recognised by its content.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadedMedia<'a> {
    pub kind: MediaKind,
    pub mime: &'a str,
    /// Images the thread can show only.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bytes: &'a [u8],
}

impl std::fmt::Debug for DownloadedMedia<'_> {
    // A person's photo: its size, never its bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadedMedia")
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("size", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// By the index of the rows not given up on: left to itself the planner walks the whole queue
/// newest first, unavailable media included (they stay for good); this way it reads only the
/// due rows, then orders those few.
const DUE_SQL: &str = "SELECT f.message_id, m.thread_id, m.carrier_sid, f.attempts
    FROM media_fetch f INDEXED BY media_fetch_due JOIN messages m ON m.id = f.message_id
    WHERE f.failed = 0 AND f.next_attempt_at <= ?1
    ORDER BY f.message_id DESC LIMIT ?2";

const ONE_SQL: &str = "SELECT f.message_id, m.thread_id, m.carrier_sid, f.attempts
    FROM media_fetch f JOIN messages m ON m.id = f.message_id WHERE f.message_id = ?1";

const PENDING_ITEMS_SQL: &str =
    "SELECT idx, url FROM media WHERE message_id = ?1 AND bytes IS NULL ORDER BY idx";

/// The carrier id as stored (see `rows::Sid`): text, or a Twilio-shaped id's 18-byte blob (two
/// capitals, then 16 bytes of hexadecimal digits).
fn sid_from(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Text(t) => std::str::from_utf8(t).ok().map(str::to_owned),
        ValueRef::Blob(b) if b.len() == 18 => {
            let mut sid = String::from_utf8(b[..2].to_vec()).ok()?;
            for byte in &b[2..] {
                sid.push_str(&format!("{byte:02x}"));
            }
            Some(sid)
        }
        _ => None,
    }
}

/// Whether `message` still has an item without bytes.
fn items_left(tx: &Transaction<'_>, message: MessageId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM media WHERE message_id = ?1 AND bytes IS NULL LIMIT 1")?
        .query_row([message.0], |_| Ok(()))
        .optional()?
        .is_some())
}

fn queued(tx: &Transaction<'_>, message: MessageId) -> Result<()> {
    tx.prepare_cached("SELECT 1 FROM media_fetch WHERE message_id = ?1")?
        .query_row([message.0], |_| Ok(()))
        .optional()?
        .ok_or(StoreError::InvalidInput {
            what: "message",
            why: "it has no media waiting to be downloaded",
        })
}

impl Store {
    /// Up to `limit` messages whose media are due for download at `now_ms` (not given up on),
    /// newest first: what just arrived is what the user is looking at.
    pub fn due_media_downloads(&self, now_ms: i64, limit: usize) -> Result<Vec<MediaDownload>> {
        self.due_media_downloads_where(DUE_SQL, params![now_ms, limit as i64])
    }

    /// The downloads `sql` (a query of [`DUE_SQL`]'s columns) picks, with their items.
    fn due_media_downloads_where(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<MediaDownload>> {
        self.read(|conn| {
            let heads: Vec<(i64, i64, Option<String>, i64)> = conn
                .prepare_cached(sql)?
                .query_map(params, |r| {
                    Ok((r.get(0)?, r.get(1)?, sid_from(r.get_ref(2)?), r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut items = conn.prepare_cached(PENDING_ITEMS_SQL)?;
            heads
                .into_iter()
                .map(|(message, thread, sid, attempts)| {
                    Ok(MediaDownload {
                        message_id: MessageId(message),
                        thread_id: ThreadId(thread),
                        carrier_sid: sid,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        items: items
                            .query_map([message], |r| {
                                Ok(PendingItem {
                                    index: r.get(0)?,
                                    url: r.get(1)?,
                                })
                            })?
                            .collect::<rusqlite::Result<_>>()?,
                    })
                })
                .collect()
        })
    }

    /// `message`'s place in the download queue, with the items still to fetch (`None`: it has
    /// none to fetch); given up on or not.
    pub fn media_download(&self, message: MessageId) -> Result<Option<MediaDownload>> {
        Ok(self
            .due_media_downloads_where(ONE_SQL, params![message.0])?
            .into_iter()
            .next())
    }

    /// When the next download not given up on is due (`None`: the queue is empty).
    pub fn next_media_download_at(&self) -> Result<Option<i64>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT min(next_attempt_at) FROM media_fetch WHERE failed = 0")?
                .query_row([], |r| r.get(0))?)
        })
    }

    /// Records the carrier's URLs of `message`'s media, in order: each item still without bytes
    /// takes its URL; items the carrier lists beyond those the message was recorded with (its
    /// count was reported late) are added, up to 10.
    pub fn set_media_urls(&self, message: MessageId, urls: &[String]) -> Result<()> {
        self.write(|tx| {
            queued(tx, message)?;
            let mut update = tx.prepare_cached(
                "UPDATE media SET url = ?3 WHERE message_id = ?1 AND idx = ?2 AND bytes IS NULL",
            )?;
            let mut add = tx.prepare_cached(
                "INSERT OR IGNORE INTO media (message_id, idx, url) VALUES (?1, ?2, ?3)",
            )?;
            for (idx, url) in urls.iter().enumerate().take(MAX_MEDIA_PER_MESSAGE) {
                update.execute(params![message.0, idx as i64, url])?;
                add.execute(params![message.0, idx as i64, url])?;
            }
            tx.prepare_cached("UPDATE messages SET has_attachment = 1 WHERE id = ?1")?
                .execute([message.0])?;
            Ok(())
        })
    }

    /// Stores item `index` of `message` as downloaded (its URL goes), in a write of its own;
    /// once every item has its bytes the message leaves the queue. Returns whether it has.
    pub fn store_media_item(
        &self,
        message: MessageId,
        index: u8,
        item: &DownloadedMedia<'_>,
    ) -> Result<bool> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE media SET kind = ?3, mime = ?4, size = ?5, width = ?6, height = ?7,
                        bytes = ?8, url = NULL
                     WHERE message_id = ?1 AND idx = ?2",
                )?
                .execute(params![
                    message.0,
                    index,
                    item.kind.as_str(),
                    item.mime,
                    item.bytes.len() as i64,
                    item.width,
                    item.height,
                    item.bytes
                ])?;
            if changed == 0 {
                return Err(StoreError::InvalidInput {
                    what: "media item",
                    why: "the message has no such item",
                });
            }
            let done = !items_left(tx, message)?;
            if done {
                tx.prepare_cached("DELETE FROM media_fetch WHERE message_id = ?1")?
                    .execute([message.0])?;
            }
            Ok(done)
        })
    }

    /// A download of `message`'s media failed for now: counted, tried again at `next_at`.
    pub fn media_download_failed(
        &self,
        message: MessageId,
        error: &str,
        next_at: i64,
    ) -> Result<()> {
        self.write(|tx| {
            queued(tx, message)?;
            tx.prepare_cached(
                "UPDATE media_fetch SET attempts = attempts + 1, last_error = ?2,
                    next_attempt_at = ?3
                 WHERE message_id = ?1",
            )?
            .execute(params![message.0, error, next_at])?;
            Ok(())
        })
    }

    /// The carrier will never give `message`'s missing media (deleted there, too large, not
    /// its address): they are listed as unavailable until [`Store::retry_media`].
    pub fn media_unavailable(&self, message: MessageId, error: &str) -> Result<()> {
        self.write(|tx| {
            queued(tx, message)?;
            tx.prepare_cached(
                "UPDATE media_fetch SET failed = 1, last_error = ?2 WHERE message_id = ?1",
            )?
            .execute(params![message.0, error])?;
            Ok(())
        })
    }

    /// The user's "Try again": `message`'s missing media are due now, their count of failures
    /// forgotten. Refused for a message without media to download.
    pub fn retry_media(&self, message: MessageId) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?
                .query_row([message.0], |_| Ok(()))
                .optional()?
                .ok_or(StoreError::MessageNotFound(message))?;
            queued(tx, message)?;
            tx.prepare_cached(
                "UPDATE media_fetch SET failed = 0, attempts = 0, last_error = NULL,
                    next_attempt_at = 0
                 WHERE message_id = ?1",
            )?
            .execute([message.0])?;
            Ok(())
        })
    }

    /// Every download not given up on becomes due now (the network is back).
    pub fn media_downloads_due_now(&self) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE media_fetch SET next_attempt_at = 0 WHERE failed = 0 AND next_attempt_at > 0",
            )?
            .execute([])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::testutil::{key, new_store, num};
    use crate::{Arrival, AttachmentState, InboundMedia, LineId, NewInbound, ThreadKey};

    const T0: i64 = 1_700_000_000_000;

    fn sales(store: &Store) -> LineId {
        store
            .add_line(&num("+14155550100"), "Sales", "#336699")
            .unwrap()
            .id
    }

    /// Records an inbound MMS of `count` items from `who`, of which the carrier listed `urls`.
    fn mms(store: &Store, thread: &ThreadKey, sid: &str, count: usize, urls: &[&str]) -> MessageId {
        let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
        let recorded = store
            .insert_inbound_batch(
                &[NewInbound {
                    key: thread,
                    body: "",
                    carrier_sid: sid,
                    created_at: T0,
                    media: InboundMedia::Pending { count, urls: &urls },
                    messaging_service: None,
                }],
                Arrival::New,
            )
            .unwrap();
        recorded[0].message_id
    }

    fn photo(bytes: &[u8]) -> DownloadedMedia<'_> {
        DownloadedMedia {
            kind: MediaKind::Image,
            mime: "image/jpeg",
            width: Some(4),
            height: Some(3),
            bytes,
        }
    }

    fn states(store: &Store, message: MessageId) -> Vec<AttachmentState> {
        let row = store.get_message(message).unwrap();
        row.attachments.iter().map(|a| a.state).collect()
    }

    fn count(store: &Store, sql: &str, message: MessageId) -> i64 {
        store
            .read(|c| Ok(c.query_row(sql, [message.0], |r| r.get(0))?))
            .unwrap()
    }

    fn queue_rows(store: &Store, message: MessageId) -> i64 {
        count(
            store,
            "SELECT count(*) FROM media_fetch WHERE message_id = ?1",
            message,
        )
    }

    fn media_rows(store: &Store, message: MessageId) -> i64 {
        count(
            store,
            "SELECT count(*) FROM media WHERE message_id = ?1",
            message,
        )
    }

    fn due_ids(store: &Store, now: i64) -> Vec<MessageId> {
        store
            .due_media_downloads(now, 10)
            .unwrap()
            .iter()
            .map(|d| d.message_id)
            .collect()
    }

    const SID_A: &str = "MM0000000000000000000000000000000a";
    const SID_B: &str = "MM0000000000000000000000000000000b";
    const SID_C: &str = "MM0000000000000000000000000000000c";

    #[test]
    fn due_downloads_come_newest_first_with_the_items_still_to_fetch() {
        let (_dir, store) = new_store();
        let sales = sales(&store);
        let ada = key(sales, "+14155550123");
        let a = mms(&store, &ada, SID_A, 2, &["https://c/a0", "https://c/a1"]);
        let b = mms(&store, &ada, SID_B, 1, &[]);
        let c = mms(
            &store,
            &key(sales, "+14155550124"),
            SID_C,
            1,
            &["https://c/c0"],
        );
        assert_eq!(due_ids(&store, T0), [c, b, a]);
        assert_eq!(
            store
                .due_media_downloads(T0, 2)
                .unwrap()
                .iter()
                .map(|d| d.message_id)
                .collect::<Vec<_>>(),
            [c, b]
        );
        let all = store.due_media_downloads(T0, 10).unwrap();
        let first = all.iter().find(|d| d.message_id == a).unwrap();
        assert_eq!(
            first.carrier_sid.as_deref(),
            Some(SID_A),
            "the sid reads back"
        );
        assert_eq!(
            first.items,
            [
                PendingItem {
                    index: 0,
                    url: Some("https://c/a0".into())
                },
                PendingItem {
                    index: 1,
                    url: Some("https://c/a1".into())
                },
            ]
        );
        assert!(first.urls_known());
        let unlisted = all.iter().find(|d| d.message_id == b).unwrap();
        assert!(!unlisted.urls_known(), "{unlisted:?}");
        assert_eq!(states(&store, a), [AttachmentState::Downloading; 2]);
    }

    #[test]
    fn each_item_is_kept_as_it_arrives_and_the_queue_row_goes_with_the_last() {
        let (_dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 2, &["https://c/0", "https://c/1"]);
        assert!(!store.store_media_item(m, 1, &photo(b"second")).unwrap());
        assert_eq!(
            states(&store, m),
            [AttachmentState::Downloading, AttachmentState::Ready]
        );
        let left = store.due_media_downloads(T0, 10).unwrap();
        assert_eq!(
            left[0].items,
            [PendingItem {
                index: 0,
                url: Some("https://c/0".into())
            }]
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM media WHERE message_id = ?1 AND url IS NOT NULL",
                m
            ),
            1,
            "the stored item's url is cleared"
        );

        assert!(store.store_media_item(m, 0, &photo(b"first")).unwrap());
        assert_eq!(queue_rows(&store, m), 0);
        assert_eq!(states(&store, m), [AttachmentState::Ready; 2]);
        let stored = store.attachments(m).unwrap();
        assert_eq!(stored[0].bytes, b"first");
        assert_eq!(stored[1].bytes, b"second");
        let info = &store.get_message(m).unwrap().attachments[0];
        assert_eq!(
            (
                info.kind,
                info.mime.as_deref(),
                info.bytes,
                info.width,
                info.height
            ),
            (
                Some(MediaKind::Image),
                Some("image/jpeg"),
                Some(5),
                Some(4),
                Some(3)
            )
        );
        assert!(
            store.store_media_item(m, 5, &photo(b"x")).is_err(),
            "no such item"
        );
    }

    #[test]
    fn a_failed_download_waits_for_its_next_attempt() {
        let (_dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 1, &["https://c/0"]);
        assert_eq!(store.next_media_download_at().unwrap(), Some(0));
        store
            .media_download_failed(m, "the carrier did not answer", T0 + 5000)
            .unwrap();
        assert_eq!(due_ids(&store, T0), []);
        assert_eq!(store.next_media_download_at().unwrap(), Some(T0 + 5000));
        let due = store.due_media_downloads(T0 + 5000, 10).unwrap();
        assert_eq!(due[0].attempts, 1);
        assert_eq!(states(&store, m), [AttachmentState::Downloading]);

        store.media_downloads_due_now().unwrap();
        assert_eq!(due_ids(&store, T0), [m], "the network is back");
    }

    #[test]
    fn unavailable_media_stay_so_until_the_user_asks_again() {
        let (_dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 2, &["https://c/0", "https://c/1"]);
        store.store_media_item(m, 0, &photo(b"kept")).unwrap();
        store
            .media_unavailable(m, "deleted at the carrier")
            .unwrap();
        assert_eq!(
            states(&store, m),
            [AttachmentState::Ready, AttachmentState::Unavailable]
        );
        assert_eq!(due_ids(&store, i64::MAX), []);
        assert_eq!(store.next_media_download_at().unwrap(), None);

        store.retry_media(m).unwrap();
        assert_eq!(
            states(&store, m),
            [AttachmentState::Ready, AttachmentState::Downloading]
        );
        let due = store.due_media_downloads(T0, 10).unwrap();
        assert_eq!((due[0].message_id, due[0].attempts), (m, 0));
        assert_eq!(due[0].items.len(), 1, "only the missing item");

        store.store_media_item(m, 1, &photo(b"back")).unwrap();
        let refused = store.retry_media(m).unwrap_err();
        assert!(
            matches!(refused, StoreError::InvalidInput { .. }),
            "{refused}"
        );
        let unknown = store.retry_media(MessageId(999)).unwrap_err();
        assert!(
            matches!(unknown, StoreError::MessageNotFound(_)),
            "{unknown}"
        );
    }

    #[test]
    fn urls_listed_late_are_recorded_and_items_counted_late_are_added() {
        let (_dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 1, &[]);
        store
            .set_media_urls(m, &["https://c/0".into(), "https://c/1".into()])
            .unwrap();
        let due = store.due_media_downloads(T0, 10).unwrap();
        assert_eq!(
            due[0].items,
            [
                PendingItem {
                    index: 0,
                    url: Some("https://c/0".into())
                },
                PendingItem {
                    index: 1,
                    url: Some("https://c/1".into())
                },
            ]
        );
        let one = store.media_download(m).unwrap().unwrap();
        assert_eq!(one.items.len(), 2);
        assert_eq!(store.media_download(MessageId(999)).unwrap(), None);
        let eleven: Vec<String> = (0..11).map(|i| format!("https://c/{i}")).collect();
        store.set_media_urls(m, &eleven).unwrap();
        assert_eq!(media_rows(&store, m), 10, "Twilio's limit");
    }

    #[test]
    fn deleting_a_message_deletes_its_media_and_its_download() {
        let (_dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 2, &["https://c/0", "https://c/1"]);
        let other = mms(&store, &ada, SID_B, 1, &["https://c/b"]);
        store.store_media_item(m, 0, &photo(b"kept")).unwrap();
        store.delete_message(m).unwrap();
        assert_eq!(media_rows(&store, m), 0);
        assert_eq!(queue_rows(&store, m), 0);
        assert_eq!(store.attachment(m, 0).unwrap(), None);
        assert_eq!(
            (media_rows(&store, other), queue_rows(&store, other)),
            (1, 1)
        );
    }

    #[test]
    fn plan_due_media_downloads() {
        let (_dir, store) = new_store();
        let plan = store
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {DUE_SQL}"))?;
                let steps: Vec<String> = stmt
                    .query_map(params![T0, 10], |r| r.get::<_, String>(3))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(steps.join("\n"))
            })
            .unwrap();
        assert_eq!(
            plan,
            "SEARCH f USING INDEX media_fetch_due (next_attempt_at<?)\n\
             SEARCH m USING INDEX messages_by_id (id=?)\n\
             USE TEMP B-TREE FOR ORDER BY",
            "only the due rows are read (and sorted)"
        );
    }

    /// Every file under `dir`, walked recursively.
    fn files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    /// The files under `dir` that contain `needle`.
    fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
        files(dir)
            .into_iter()
            .filter(|f| {
                let bytes = std::fs::read(f).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            })
            .collect()
    }

    #[test]
    fn media_are_encrypted_at_rest() {
        use rand::RngCore;
        let (dir, store) = new_store();
        let ada = key(sales(&store), "+14155550123");
        let m = mms(&store, &ada, SID_A, 1, &["https://c/0"]);
        let mut image = vec![0u8; 100_000];
        rand::thread_rng().fill_bytes(&mut image);
        image[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
        store.store_media_item(m, 0, &photo(&image)).unwrap();
        assert_eq!(store.attachment(m, 0).unwrap().unwrap().bytes, image);
        let windows = [
            &image[..64],
            &image[50_000..50_064],
            &image[image.len() - 64..],
        ];

        // The search finds the bytes where they are in the clear.
        let plain = tempfile::tempdir().unwrap();
        std::fs::write(plain.path().join("leak"), &image).unwrap();
        assert_eq!(files_containing(plain.path(), windows[1]).len(), 1);

        // Before a checkpoint the page is in the WAL; after, in the database.
        assert!(files(dir.path()).len() >= 2, "{:?}", files(dir.path()));
        for window in windows {
            assert_eq!(
                files_containing(dir.path(), window),
                Vec::<std::path::PathBuf>::new()
            );
        }
        store.checkpoint().unwrap();
        drop(store);
        for window in windows {
            assert_eq!(
                files_containing(dir.path(), window),
                Vec::<std::path::PathBuf>::new()
            );
        }
    }
}
