//! The store handle: one writer connection behind a mutex and a small pool of readers
//! (Signal's DataWriter/DataReader split), plus a background thread for WAL checkpoints.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::db::{open_keyed, Durability, Role};
use crate::error::{Result, StoreError};
use crate::keys::{self, DbKey, KeySource, KeySourceKind};
use crate::migrations;

/// The database file inside a data directory.
pub const DB_FILE_NAME: &str = "switchboard.db";
/// The non-secret description of how the data directory's key is kept.
pub const STORE_CONFIG_FILE_NAME: &str = "store.json";

/// Idle readers kept open; more may exist briefly under load.
const MAX_IDLE_READERS: usize = 4;
/// Writes are checkpointed at most this often, in the background.
const CHECKPOINT_DELAY: Duration = Duration::from_secs(1);

/// The encrypted store. `Send + Sync`: share it behind an `Arc`. Writes are serialised on one
/// connection; reads run concurrently on pooled connections and see committed data only.
pub struct Store {
    // Fields drop in this order: the checkpoint thread stops first, and the writer closes
    // last, which copies what is left of the WAL into the database and removes it.
    checkpointer: Checkpointer,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Connection>,
    /// Kept to open more readers; wiped on drop.
    key: DbKey,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Creates a new database at `path`, refusing if any file is already there.
    pub fn create(path: &Path, key: DbKey) -> Result<Store> {
        // A WAL left by a deleted database would be replayed into the new one: refuse too.
        let wal = with_suffix(path, "-wal");
        if wal.exists() {
            return Err(StoreError::DatabaseExists { path: wal });
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(file) => drop(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::DatabaseExists {
                    path: path.to_owned(),
                })
            }
            Err(e) => return Err(StoreError::io(path, e)),
        }
        let store = Store::open_existing(path, key);
        if store.is_err() {
            // The file is ours and holds nothing yet: do not leave a half-made database behind.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(with_suffix(path, suffix));
            }
        }
        let store = store?;
        tracing::info!(path = %path.display(), "created a new database");
        Ok(store)
    }

    /// Opens an existing database. Never creates one; a wrong key or a file that is not a
    /// database is [`StoreError::WrongKeyOrNotADatabase`] and the file is left untouched.
    pub fn open(path: &Path, key: DbKey) -> Result<Store> {
        if !path.is_file() {
            return Err(StoreError::DatabaseMissing {
                path: path.to_owned(),
            });
        }
        Store::open_existing(path, key)
    }

    fn open_existing(path: &Path, key: DbKey) -> Result<Store> {
        let mut writer = open_keyed(path, &key, Role::Writer)?;
        migrations::migrate(&mut writer)?;
        Ok(Store {
            path: path.to_owned(),
            checkpointer: Checkpointer::new(path.to_owned(), key.duplicate()),
            key,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Opens the store of a data directory, creating it on first run: the key is made and saved
    /// at `source` first, then `store.json` records the kind of source, then the database is
    /// created. Later opens must use the same kind of source (and keychain account).
    pub fn open_in_dir(data_dir: &Path, source: &KeySource) -> Result<Store> {
        create_private_dir(data_dir)?;
        let db = data_dir.join(DB_FILE_NAME);
        let config_path = data_dir.join(STORE_CONFIG_FILE_NAME);
        if db.exists() {
            if let Some(config) = StoreConfig::read(&config_path)? {
                config.check(source)?;
            }
            let key = keys::load_key(source)?;
            return Store::open(&db, key);
        }
        // A first run: the directory may have been made by someone else (the engine, the
        // user) with the default, world-readable mode. It is about to hold the database.
        restrict_dir(data_dir)?;
        let key = keys::create_key(source)?;
        StoreConfig::for_source(source).write(&config_path)?;
        Store::create(&db, key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.read(migrations::user_version)
    }

    /// Copies the WAL into the database now (the background thread also does it after writes).
    pub fn checkpoint(&self) -> Result<()> {
        self.read(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Runs `f` in an IMMEDIATE transaction on the writer and commits when it returns `Ok`;
    /// an `Err` (or a panic) rolls everything back.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        drop(conn);
        self.checkpointer.poke();
        Ok(out)
    }

    /// Sets the writer's page cache size (KiB) between transactions, giving back the memory
    /// of pages beyond it.
    pub(crate) fn set_writer_cache_kib(&self, kib: i64) -> Result<()> {
        let conn = lock(&self.writer);
        conn.pragma_update(None, "cache_size", -kib)?;
        conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }

    /// How the writer's commits reach the disk (`None` for a level the store never sets).
    pub fn durability(&self) -> Result<Option<Durability>> {
        let conn = lock(&self.writer);
        let level: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        Ok(Durability::from_level(level))
    }

    /// Changes how the writer's commits reach the disk, for the benchmark that measures what
    /// [`Durability::Full`] costs; the store itself always opens with `Full`.
    pub fn set_durability(&self, durability: Durability) -> Result<()> {
        let conn = lock(&self.writer);
        conn.pragma_update(None, "synchronous", durability.pragma())?;
        Ok(())
    }

    /// Runs `f` on a reader inside one read transaction, so its queries see one snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_keyed(&self.path, &self.key, Role::Reader)?,
        };
        let out = (|| {
            let tx = conn.unchecked_transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Exposes the writer to tests that need to look at plans or break things on purpose.
    #[cfg(test)]
    pub(crate) fn writer_for_tests(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}

/// `path` with `suffix` appended to its file name (`x.db` → `x.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// A poisoned lock only means another thread panicked mid-operation; its transaction was
/// rolled back when dropped, so the connection is still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the directory the database is created in private to its owner (0700 on Unix), however
/// it was made. Called before a database exists only: a directory already in use keeps the
/// mode its owner chose.
fn restrict_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
        if meta.permissions().mode() & 0o7777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::io(dir, e))?;
            tracing::info!(dir = %dir.display(), "made the data directory private (0700)");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| StoreError::io(dir, e))
}

/// `store.json`: which kind of key a data directory uses. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoreConfig {
    key_source: KeySourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keychain_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keychain_account: Option<String>,
}

impl StoreConfig {
    fn for_source(source: &KeySource) -> StoreConfig {
        let (service, account) = match source {
            KeySource::Keychain { service, account } => (Some(service), Some(account)),
            _ => (None, None),
        };
        StoreConfig {
            key_source: source.kind(),
            keychain_service: service.cloned(),
            keychain_account: account.cloned(),
        }
    }

    fn check(&self, source: &KeySource) -> Result<()> {
        if self.key_source != source.kind() {
            return Err(StoreError::KeySourceMismatch {
                expected: self.key_source,
                given: source.kind(),
            });
        }
        if let (KeySource::Keychain { account, .. }, Some(expected)) =
            (source, &self.keychain_account)
        {
            if account != expected {
                return Err(StoreError::KeychainAccountMismatch {
                    expected: expected.clone(),
                    given: account.clone(),
                });
            }
        }
        Ok(())
    }

    fn read(path: &Path) -> Result<Option<StoreConfig>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::StoreConfigMalformed {
                path: path.to_owned(),
                detail: e.to_string(),
            })
    }

    /// Written to a temporary file and renamed, so a crash never leaves half a file.
    fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        std::fs::write(&tmp, text + "\n").map_err(|e| StoreError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
    }
}

/// Copies the WAL into the database on its own connection and thread, at most once per
/// [`CHECKPOINT_DELAY`], so that no send or import pays for it. The thread starts with the
/// first write: a store only read from (a CLI query) never starts it.
struct Checkpointer {
    path: PathBuf,
    key: DbKey,
    running: Mutex<Option<Running>>,
}

struct Running {
    signal: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn new(path: PathBuf, key: DbKey) -> Checkpointer {
        Checkpointer {
            path,
            key,
            running: Mutex::new(None),
        }
    }

    /// Says that something was written; never blocks on the checkpoint itself.
    fn poke(&self) {
        let mut running = lock(&self.running);
        if running.is_none() {
            let (signal, pokes) = mpsc::sync_channel::<()>(1);
            let (path, key) = (self.path.clone(), self.key.duplicate());
            let thread = std::thread::Builder::new()
                .name("switchboard-checkpoint".into())
                .spawn(move || checkpoint_loop(&path, &key, &pokes));
            match thread {
                Ok(thread) => *running = Some(Running { signal, thread }),
                Err(e) => {
                    // Not fatal: closing the writer checkpoints whatever is left.
                    tracing::warn!(error = %e, "cannot start the background checkpoints");
                    return;
                }
            }
        }
        if let Some(r) = running.as_ref() {
            let _ = r.signal.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Hanging up wakes the thread, which then stops; closing the writer after it
        // checkpoints what is left.
        if let Some(Running { signal, thread }) = lock(&self.running).take() {
            drop(signal);
            let _ = thread.join();
        }
    }
}

fn checkpoint_loop(path: &Path, key: &DbKey, pokes: &mpsc::Receiver<()>) {
    let mut conn: Option<Connection> = None;
    while pokes.recv().is_ok() {
        let deadline = Instant::now() + CHECKPOINT_DELAY;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match pokes.recv_timeout(left) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if conn.is_none() {
            match open_keyed(path, key, Role::Checkpointer) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the checkpoint connection");
                    continue;
                }
            }
        }
        if let Some(c) = &conn {
            let result = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            });
            match result {
                Ok((wal_frames, copied)) => {
                    tracing::debug!(wal_frames, copied, "checkpointed the WAL")
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    }
}
