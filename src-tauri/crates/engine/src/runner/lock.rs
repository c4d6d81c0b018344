//! **One runner per data directory**: an OS lock on `<data_dir>/outbox.lock` (`flock` on Unix,
//! `LockFileEx` on Windows, through `std::fs::File::try_lock`), which the kernel releases when
//! the process dies, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::RunnerError;
use crate::Engine;

/// The lock file inside the data directory; it is never deleted (deleting a lock file others
/// may have open is how two processes end up holding "the" lock).
pub const LOCK_FILE_NAME: &str = "outbox.lock";

/// The data directory of an engine's store: where its database file is.
pub(super) fn data_dir(engine: &Engine) -> PathBuf {
    let db = engine.store().path();
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

pub(super) struct RunnerLock {
    pub(super) path: PathBuf,
    /// Holding the open file holds the lock; the kernel drops it with the process.
    _file: File,
}

impl RunnerLock {
    pub(super) fn acquire(dir: &Path) -> Result<RunnerLock, RunnerError> {
        let path = dir.join(LOCK_FILE_NAME);
        let lock_error = |source| RunnerError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(RunnerError::AlreadyRunning {
                    dir: dir.to_owned(),
                })
            }
            Err(TryLockError::Error(e)) => return Err(lock_error(e)),
        }
        // The holder's pid, for a person wondering who has it; the lock is what counts.
        let _ = file
            .set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()));
        Ok(RunnerLock { path, _file: file })
    }
}
