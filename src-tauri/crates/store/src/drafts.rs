//! Drafts: the composer's and each thread's reply box state, saved as the user types and
//! restored after a restart or a crash. The store keeps the UI's JSON as is.

use std::fmt;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use switchboard_core::model::ThreadId;

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

impl Store {
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

    /// Removes a draft after sending or discarding; `false` when there was none.
    pub fn clear_draft(&self, key: DraftKey) -> Result<bool> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM drafts WHERE key = ?1")?
                .execute([key.to_string()])?
                > 0)
        })
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
    use crate::testutil::new_store;

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
