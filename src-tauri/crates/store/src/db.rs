//! Opening one SQLCipher connection: key first, prove the key with a read, then the pragmas of
//! the connection's role. Nothing is written before the key is proven.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{is_not_a_database, Result, StoreError};
use crate::keys::DbKey;

/// What a connection is for; each role gets the pragmas it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The one connection that writes. A large page cache keeps encrypted ingest close to plain
    /// SQLite (pages are decrypted once, not on every touch).
    Writer,
    /// Read-only by pragma; many of them run beside the writer thanks to WAL.
    Reader,
    /// Runs WAL checkpoints in the background, off the send path.
    Checkpointer,
}

/// How each commit reaches the disk (`PRAGMA synchronous`). The store always opens with
/// [`Durability::Full`]; the benchmark switches to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The WAL is synced at every commit: a commit survives a power cut.
    Full,
    /// The WAL is synced at checkpoints only: a commit survives an app crash, but a power cut
    /// may take back the last ones.
    Normal,
}

impl Durability {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }

    /// `PRAGMA synchronous`'s answer: 2 is FULL, 1 NORMAL.
    pub(crate) fn from_level(level: i64) -> Option<Durability> {
        match level {
            2 => Some(Durability::Full),
            1 => Some(Durability::Normal),
            _ => None,
        }
    }
}

/// How long a connection waits for another process's lock (the CLI, a second app instance).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's page cache: 64 MiB brings encrypted ingest close to plain SQLite.
pub(crate) const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Opens an existing file (never creates one), applies `key` and proves it by reading the schema.
pub(crate) fn open_keyed(path: &Path, key: &DbKey, role: Role) -> Result<Connection> {
    // No SQLITE_OPEN_CREATE: a missing file is an error, never a silently new database.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        if is_not_a_database(&e) {
            wrong_key(path)
        } else {
            StoreError::Sqlite(e)
        }
    })?;
    // SQLCipher requires the key to be the very first statement on the connection.
    conn.execute_batch(&key.pragma_statement())?;
    // SQLCipher otherwise prints each failed page decryption to stderr; a wrong key is already
    // reported as a typed error. (Process-wide, touches no file.)
    conn.execute_batch("PRAGMA cipher_log_level = NONE")?;
    // The key is only checked when a page is read: do it now, before any pragma that writes.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| {
        if is_not_a_database(&e) {
            wrong_key(path)
        } else {
            StoreError::Sqlite(e)
        }
    })?;

    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    match role {
        Role::Writer => {
            // WAL lets readers run while the writer commits. FULL syncs the WAL at every
            // commit, so a power cut cannot take back a committed "sending" mark (NORMAL can,
            // and the message would then be sent again without a check); the cost, measured
            // in BENCHMARKS.md ("Durability"), is a fraction of a millisecond to a few per
            // commit, which a desktop's writes can afford.
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(%mode, "the database refused WAL mode");
            }
            conn.pragma_update(None, "synchronous", Durability::Full.pragma())?;
            conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
            // Checkpoints run on the background connection, never inside a send.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        }
        Role::Reader => {
            conn.pragma_update(None, "cache_size", -8_192)?; // 8 MiB
            conn.pragma_update(None, "query_only", true)?;
        }
        Role::Checkpointer => {
            conn.pragma_update(None, "cache_size", -1_024)?;
        }
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn wrong_key(path: &Path) -> StoreError {
    StoreError::WrongKeyOrNotADatabase {
        path: path.to_owned(),
    }
}

/// Milliseconds since the Unix epoch: the store's one unit of time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
