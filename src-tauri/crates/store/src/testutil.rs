//! Helpers for the unit tests: real SQLCipher databases in temporary directories.

use rusqlite::Connection;
use tempfile::TempDir;

use crate::db::{open_keyed, Role};
use crate::keys::DbKey;
use crate::{LineId, Store, ThreadKey, E164};

/// A fixed key, so tests can reopen what they made.
pub(crate) fn test_key() -> DbKey {
    DbKey::from_bytes([7; 32])
}

/// A keyed, empty database without any schema.
pub(crate) fn empty_db() -> (TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    std::fs::File::create(&path).unwrap();
    let conn = open_keyed(&path, &test_key(), Role::Writer).unwrap();
    (dir, conn)
}

/// A new store with the current schema.
pub(crate) fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(&dir.path().join("test.db"), test_key()).unwrap();
    (dir, store)
}

pub(crate) fn num(s: &str) -> E164 {
    E164::from_normalized(s).unwrap_or_else(|| panic!("not E.164: {s}"))
}

pub(crate) fn key(line: LineId, counterpart: &str) -> ThreadKey {
    ThreadKey {
        line,
        counterpart: num(counterpart),
    }
}
