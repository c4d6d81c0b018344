//! Drafts: the composer's and each thread's reply box state, saved as the user types and
//! restored after a restart or a crash. The store keeps the UI's JSON as is, and the draft's
//! images apart from it (`draft_images`), written only when the set changes, so that a pause in
//! typing rewrites the text and not every attached photo.

use std::fmt;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{ImageKind, ThreadId};

use crate::db::now_ms;
use crate::error::{Result, StoreError};
use crate::Store;

/// Whose draft: the new-message composer, or a thread's reply box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub enum DraftKey {
    Composer,
    Thread(ThreadId),
}

impl DraftKey {
    /// Reads the stored form back: `composer` or `thread:<id>`.
    pub fn parse(s: &str) -> Option<DraftKey> {
        if s == "composer" {
            return Some(DraftKey::Composer);
        }
        let id = s.strip_prefix("thread:")?.parse().ok()?;
        Some(DraftKey::Thread(ThreadId(id)))
    }
}

impl fmt::Display for DraftKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DraftKey::Composer => f.write_str("composer"),
            DraftKey::Thread(id) => write!(f, "thread:{id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub key: DraftKey,
    pub json: String,
    pub updated_at: i64,
}

/// An image attached to a draft, as it will be sent (already checked and fitted by the caller).
#[derive(Clone, PartialEq, Eq)]
pub struct DraftImage {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// True when the original was over the line's budget and this is the scaled version.
    pub resized: bool,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for DraftImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DraftImage")
            .field("kind", &self.kind)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("resized", &self.resized)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// The most images a draft holds, as a message (the schema's `idx` check says the same).
const MAX_DRAFT_IMAGES: usize = 10;

impl Store {
    /// Replaces a draft's whole set of images, in order, in one transaction (an empty set
    /// removes them). Its JSON is untouched.
    pub fn save_draft_images(&self, key: DraftKey, images: &[DraftImage]) -> Result<()> {
        if images.len() > MAX_DRAFT_IMAGES {
            return Err(StoreError::InvalidInput {
                what: "draft images",
                why: "a draft holds at most 10 images",
            });
        }
        let key = key.to_string();
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM draft_images WHERE key = ?1")?
                .execute([&key])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO draft_images (key, idx, mime, width, height, resized, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (idx, image) in images.iter().enumerate() {
                insert.execute(params![
                    key,
                    idx as i64,
                    image.kind.mime(),
                    image.width,
                    image.height,
                    image.resized,
                    image.bytes,
                ])?;
            }
            Ok(())
        })
    }

    /// A draft's images in the order attached; none when it has none. A row whose type this
    /// version does not know is skipped.
    pub fn draft_images(&self, key: DraftKey) -> Result<Vec<DraftImage>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT mime, width, height, resized, bytes FROM draft_images
                 WHERE key = ?1 ORDER BY idx",
            )?;
            let rows = stmt.query_map([key.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?;
            let mut images = Vec::new();
            for row in rows {
                let (mime, width, height, resized, bytes) = row?;
                match ImageKind::from_mime(&mime) {
                    Some(kind) => images.push(DraftImage {
                        kind,
                        width,
                        height,
                        resized,
                        bytes,
                    }),
                    None => tracing::warn!(draft = %key, %mime, "skipping a draft image of an unknown type"),
                }
            }
            Ok(images)
        })
    }

    /// Saves (or replaces) a draft. `json` must be valid JSON.
    pub fn save_draft(&self, key: DraftKey, json: &str) -> Result<()> {
        check_json(json)?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO drafts (key, json, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
            )?
            .execute(params![key.to_string(), json, now_ms()])?;
            Ok(())
        })
    }

    pub fn load_draft(&self, key: DraftKey) -> Result<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT json FROM drafts WHERE key = ?1")?
                .query_row([key.to_string()], |r| r.get(0))
                .optional()?)
        })
    }

    /// Removes a draft and its images, together, after sending or discarding; `false` when
    /// there was neither.
    pub fn clear_draft(&self, key: DraftKey) -> Result<bool> {
        self.write(|tx| clear_draft_in(tx, key))
    }

    /// Every draft, most recently saved first. Keys this version does not know are skipped.
    pub fn list_drafts(&self) -> Result<Vec<Draft>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, json, updated_at FROM drafts ORDER BY updated_at DESC, key",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
            let mut drafts = Vec::new();
            for row in rows {
                let (key, json, updated_at) = row?;
                match DraftKey::parse(&key) {
                    Some(key) => drafts.push(Draft {
                        key,
                        json,
                        updated_at,
                    }),
                    None => tracing::warn!(%key, "skipping a draft with an unknown key"),
                }
            }
            Ok(drafts)
        })
    }
}

/// The writes of [`Store::clear_draft`] inside the caller's transaction.
pub(crate) fn clear_draft_in(tx: &rusqlite::Transaction<'_>, key: DraftKey) -> Result<bool> {
    let key = key.to_string();
    let images = tx
        .prepare_cached("DELETE FROM draft_images WHERE key = ?1")?
        .execute([&key])?;
    let json = tx
        .prepare_cached("DELETE FROM drafts WHERE key = ?1")?
        .execute([&key])?;
    Ok(images + json > 0)
}

fn check_json(json: &str) -> Result<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(json)
        .map(drop)
        .map_err(|_| StoreError::InvalidInput {
            what: "draft",
            why: "it is not valid JSON",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{new_store, test_key};

    /// A distinct image: `n` tells it apart by its bytes and its width.
    fn image(n: u8) -> DraftImage {
        DraftImage {
            kind: [ImageKind::Jpeg, ImageKind::Png, ImageKind::Gif][usize::from(n % 3)],
            width: 100 + u32::from(n),
            height: 50,
            resized: n % 2 == 1,
            bytes: vec![n; 1000 + usize::from(n)],
        }
    }

    fn images(ns: &[u8]) -> Vec<DraftImage> {
        ns.iter().copied().map(image).collect()
    }

    #[test]
    fn the_set_of_images_is_replaced_whole_in_order() {
        let (_dir, store) = new_store();
        let composer = DraftKey::Composer;
        let thread = DraftKey::Thread(ThreadId(3));
        assert_eq!(store.draft_images(composer).unwrap(), []);

        store
            .save_draft_images(composer, &images(&[5, 1, 9]))
            .unwrap();
        store.save_draft_images(thread, &images(&[2])).unwrap();
        assert_eq!(store.draft_images(composer).unwrap(), images(&[5, 1, 9]));

        // One removed from the middle, another added: the stored set is exactly the new one.
        store
            .save_draft_images(composer, &images(&[5, 9, 4]))
            .unwrap();
        assert_eq!(store.draft_images(composer).unwrap(), images(&[5, 9, 4]));
        store.save_draft_images(composer, &[]).unwrap();
        assert_eq!(store.draft_images(composer).unwrap(), []);
        assert_eq!(store.draft_images(thread).unwrap(), images(&[2]));
    }

    #[test]
    fn an_eleventh_image_is_refused_and_the_set_kept() {
        let (_dir, store) = new_store();
        store
            .save_draft_images(DraftKey::Composer, &images(&[1, 2]))
            .unwrap();
        let eleven: Vec<u8> = (0..11).collect();
        let err = store
            .save_draft_images(DraftKey::Composer, &images(&eleven))
            .unwrap_err();
        assert_eq!(err.code().as_str(), "invalid_input");
        assert_eq!(
            store.draft_images(DraftKey::Composer).unwrap(),
            images(&[1, 2])
        );
        let ten: Vec<u8> = (0..10).collect();
        store
            .save_draft_images(DraftKey::Composer, &images(&ten))
            .unwrap();
        assert_eq!(store.draft_images(DraftKey::Composer).unwrap().len(), 10);
    }

    #[test]
    fn clearing_a_draft_removes_its_images_and_only_its_own() {
        let (_dir, store) = new_store();
        let composer = DraftKey::Composer;
        let thread = DraftKey::Thread(ThreadId(3));
        store
            .save_draft(composer, r#"{"body":"Hi","images":2}"#)
            .unwrap();
        store.save_draft_images(composer, &images(&[1, 2])).unwrap();
        store
            .save_draft(thread, r#"{"body":"Re","images":1}"#)
            .unwrap();
        store.save_draft_images(thread, &images(&[3])).unwrap();

        assert!(store.clear_draft(composer).unwrap());
        assert_eq!(store.load_draft(composer).unwrap(), None);
        assert_eq!(store.draft_images(composer).unwrap(), []);
        assert_eq!(store.draft_images(thread).unwrap(), images(&[3]));
        let listed: Vec<DraftKey> = store.list_drafts().unwrap().iter().map(|d| d.key).collect();
        assert_eq!(listed, [thread]);

        // Images saved before the draft's first JSON are cleared with it all the same.
        store.save_draft_images(composer, &images(&[4])).unwrap();
        assert!(store
            .list_drafts()
            .unwrap()
            .iter()
            .all(|d| d.key != composer));
        assert!(store.clear_draft(composer).unwrap());
        assert_eq!(store.draft_images(composer).unwrap(), []);
    }

    #[test]
    fn the_images_survive_reopening_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // A pattern no page of an encrypted file would hold by chance.
        let marker: Vec<u8> = b"SWITCHBOARD-DRAFT-IMAGE-".repeat(200);
        let photo = DraftImage {
            kind: ImageKind::Png,
            width: 640,
            height: 480,
            resized: false,
            bytes: marker.clone(),
        };
        {
            let store = Store::create(&path, test_key()).unwrap();
            store
                .save_draft(DraftKey::Composer, r#"{"body":"typed after","images":2}"#)
                .unwrap();
            store
                .save_draft_images(DraftKey::Composer, &[photo.clone(), image(7)])
                .unwrap();
        }
        let store = Store::open(&path, test_key()).unwrap();
        assert_eq!(
            store.draft_images(DraftKey::Composer).unwrap(),
            [photo, image(7)]
        );
        drop(store);
        let mut on_disk = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("s.db-wal")) {
            on_disk.extend(wal);
        }
        assert!(
            !on_disk.windows(24).any(|w| w == &marker[..24]),
            "the image's bytes are on disk in the clear"
        );
    }

    #[test]
    fn keys_round_trip() {
        fn check(key: DraftKey, text: &str) {
            assert_eq!(key.to_string(), text);
            assert_eq!(DraftKey::parse(text), Some(key));
        }
        check(DraftKey::Composer, "composer");
        check(DraftKey::Thread(ThreadId(42)), "thread:42");
        assert_eq!(DraftKey::parse("thread:x"), None);
        assert_eq!(DraftKey::parse("other"), None);
    }

    #[test]
    fn save_load_replace_clear() {
        let (_dir, store) = new_store();
        let composer = DraftKey::Composer;
        let thread = DraftKey::Thread(ThreadId(7));
        assert_eq!(store.load_draft(composer).unwrap(), None);

        let state = r#"{"recipients":["+14155550111"],"body":"Hi \"there\" 👋","line":1}"#;
        store.save_draft(composer, state).unwrap();
        store.save_draft(thread, r#"{"body":"reply"}"#).unwrap();
        assert_eq!(store.load_draft(composer).unwrap().as_deref(), Some(state));

        store.save_draft(composer, r#"{"body":"changed"}"#).unwrap();
        assert_eq!(
            store.load_draft(composer).unwrap().as_deref(),
            Some(r#"{"body":"changed"}"#)
        );
        let mut keys: Vec<DraftKey> = store.list_drafts().unwrap().iter().map(|d| d.key).collect();
        keys.sort_by_key(|k| k.to_string());
        assert_eq!(keys, [composer, thread]);

        assert!(store.clear_draft(composer).unwrap());
        assert!(!store.clear_draft(composer).unwrap());
        assert_eq!(store.load_draft(composer).unwrap(), None);
        assert_eq!(store.list_drafts().unwrap().len(), 1);
    }

    #[test]
    fn bad_json_never_replaces_a_draft() {
        let (_dir, store) = new_store();
        store
            .save_draft(DraftKey::Composer, r#"{"body":"keep me"}"#)
            .unwrap();
        let err = store
            .save_draft(DraftKey::Composer, "{not json")
            .unwrap_err();
        assert_eq!(err.code().as_str(), "invalid_input");
        assert_eq!(
            store.load_draft(DraftKey::Composer).unwrap().as_deref(),
            Some(r#"{"body":"keep me"}"#)
        );
    }
}
