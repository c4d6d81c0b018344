//! Where the database key comes from: a random 256-bit key kept in the OS keychain (the default),
//! a passphrase run through SQLCipher's own KDF, or an owner-only key file for headless runs.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Result, StoreError};
// Still public here too: `keys::KeySourceKind` is where dependants have always found it.
pub use crate::key_kind::KeySourceKind;

/// The secret that unlocks the database. Wiped from memory when dropped; `Debug` never shows it.
pub struct DbKey(Secret);

enum Secret {
    /// Used as is (`PRAGMA key = "x'…'"`): no key derivation on every open.
    Raw(Zeroizing<[u8; 32]>),
    /// Derived by SQLCipher (PBKDF2) on every open: slower, for machines without a keychain.
    Passphrase(Zeroizing<String>),
    /// No key: a plain SQLite file (see [`DbKey::plaintext_for_benchmarks`]).
    #[cfg(feature = "plaintext-for-benchmarks")]
    Plaintext,
}

impl DbKey {
    /// A fresh random 256-bit key from the operating system's generator.
    pub fn generate() -> DbKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        DbKey(Secret::Raw(bytes))
    }

    /// No encryption at all: the storage benchmark builds a plain SQLite copy of its store to
    /// show what SQLCipher costs beside it. Only the benchmark's crate turns the feature on;
    /// the app and the CLI cannot make an unencrypted store.
    #[cfg(feature = "plaintext-for-benchmarks")]
    pub fn plaintext_for_benchmarks() -> DbKey {
        DbKey(Secret::Plaintext)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DbKey {
        DbKey(Secret::Raw(Zeroizing::new(bytes)))
    }

    /// Parses 64 hexadecimal characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Option<DbKey> {
        let text = text.trim();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut()).ok()?;
        Some(DbKey(Secret::Raw(bytes)))
    }

    /// A passphrase for SQLCipher's KDF. Control characters (NUL, newline, escape…) are
    /// refused: a NUL would cut the `PRAGMA key` short, and nothing of the passphrase may ever
    /// reach an SQLite error message (which ends up in logs and dialogs).
    pub fn passphrase(passphrase: &str) -> Result<DbKey> {
        if passphrase.is_empty() {
            return Err(StoreError::EmptyPassphrase);
        }
        if passphrase.chars().any(char::is_control) {
            return Err(StoreError::PassphraseControlCharacters);
        }
        Ok(DbKey(Secret::Passphrase(Zeroizing::new(
            passphrase.to_owned(),
        ))))
    }

    /// The key as 64 lowercase hex characters, for saving; `None` for a passphrase.
    pub fn to_hex(&self) -> Option<Zeroizing<String>> {
        match &self.0 {
            Secret::Raw(bytes) => Some(Zeroizing::new(hex::encode(bytes.as_ref()))),
            Secret::Passphrase(_) => None,
            #[cfg(feature = "plaintext-for-benchmarks")]
            Secret::Plaintext => None,
        }
    }

    /// A second copy, for the store's other connections. Also wiped on drop.
    pub(crate) fn duplicate(&self) -> DbKey {
        match &self.0 {
            Secret::Raw(bytes) => DbKey(Secret::Raw(bytes.clone())),
            Secret::Passphrase(p) => DbKey(Secret::Passphrase(p.clone())),
            #[cfg(feature = "plaintext-for-benchmarks")]
            Secret::Plaintext => DbKey(Secret::Plaintext),
        }
    }

    /// The `PRAGMA key` statement that must be the first one on a connection.
    pub(crate) fn pragma_statement(&self) -> Zeroizing<String> {
        match &self.0 {
            Secret::Raw(bytes) => {
                let hex = Zeroizing::new(hex::encode(bytes.as_ref()));
                Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", hex.as_str()))
            }
            Secret::Passphrase(p) => {
                let escaped = Zeroizing::new(p.replace('\'', "''"));
                Zeroizing::new(format!("PRAGMA key = '{}';", escaped.as_str()))
            }
            // Without a key statement SQLCipher reads and writes plain SQLite pages.
            #[cfg(feature = "plaintext-for-benchmarks")]
            Secret::Plaintext => Zeroizing::new(String::new()),
        }
    }
}

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Secret::Raw(_) => f.write_str("DbKey(raw, redacted)"),
            Secret::Passphrase(_) => f.write_str("DbKey(passphrase, redacted)"),
            #[cfg(feature = "plaintext-for-benchmarks")]
            Secret::Plaintext => f.write_str("DbKey(none: plaintext)"),
        }
    }
}

/// Where a data directory's key is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The OS keychain (Credential Manager, Keychain, Secret Service). Use
    /// [`KeySource::keychain_for_dir`] so that two data directories get two keys.
    Keychain {
        service: String,
        account: String,
    },
    Passphrase(String),
    /// A file holding the key as 64 hex characters, readable by its owner only.
    KeyFile(PathBuf),
}

impl KeySource {
    /// The keychain entry for the store in `data_dir`: the account is derived from the
    /// directory's canonical path. The directory must exist.
    pub fn keychain_for_dir(service: &str, data_dir: &Path) -> Result<KeySource> {
        Ok(KeySource::Keychain {
            service: service.to_owned(),
            account: keychain_account(data_dir)?,
        })
    }

    pub fn kind(&self) -> KeySourceKind {
        match self {
            KeySource::Keychain { .. } => KeySourceKind::Keychain,
            KeySource::Passphrase(_) => KeySourceKind::Passphrase,
            KeySource::KeyFile(_) => KeySourceKind::KeyFile,
        }
    }
}

impl Drop for KeySource {
    fn drop(&mut self) {
        if let KeySource::Passphrase(p) = self {
            p.zeroize();
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Keychain { service, account } => f
                .debug_struct("Keychain")
                .field("service", service)
                .field("account", account)
                .finish(),
            KeySource::Passphrase(_) => f.write_str("Passphrase(redacted)"),
            KeySource::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
        }
    }
}

/// The keychain account name for the store in `data_dir`, from its canonical path.
pub fn keychain_account(data_dir: &Path) -> Result<String> {
    scoped_account("database key", data_dir)
}

/// A keychain account name for `what` of one data directory: `<what> for <canonical path>`, so
/// that two data directories never share an entry. The directory must exist.
fn scoped_account(what: &str, data_dir: &Path) -> Result<String> {
    let canonical = data_dir
        .canonicalize()
        .map_err(|e| StoreError::io(data_dir, e))?;
    Ok(scoped_name(what, &canonical))
}

/// [`scoped_account`] for a path already canonical.
pub(crate) fn scoped_name(what: &str, canonical: &Path) -> String {
    format!("{what} for {}", canonical.display())
}

/// The key of an existing store. Never makes a new key: a missing one is an error.
pub fn load_key(source: &KeySource) -> Result<DbKey> {
    match source {
        KeySource::Keychain { service, account } => {
            let hex = match keychain_entry(service, account)?.get_password() {
                Ok(hex) => Zeroizing::new(hex),
                Err(keyring::Error::NoEntry) => {
                    return Err(StoreError::KeyMissing {
                        service: service.clone(),
                        account: account.clone(),
                    })
                }
                Err(e) => return Err(keychain_error(e)),
            };
            DbKey::from_hex(&hex).ok_or(StoreError::KeychainKeyMalformed)
        }
        KeySource::Passphrase(p) => DbKey::passphrase(p),
        KeySource::KeyFile(path) => read_key_file(path),
    }
}

/// Key files are kept safe by their owner-only mode, which only Unix has. On Windows a file's
/// access is an ACL (inherited from its folder, and readable by administrators and backup
/// tools whatever its owner says); checking one needs the Win32 security API, which is
/// `unsafe` and so out of this workspace (`unsafe_code = "forbid"`). There a key file is
/// refused, before it is read or written, and the error names the two key sources that are
/// safe there: the Credential Manager (the default) and a passphrase.
fn key_files_supported(path: &Path) -> Result<()> {
    if cfg!(unix) {
        Ok(())
    } else {
        Err(StoreError::KeyFileUnsupported {
            path: path.to_owned(),
        })
    }
}

/// The key for a new store, saved at its source before the database exists (so a crash never
/// leaves a database whose key was lost). A key already saved there is reused rather than
/// overwritten: a secret is never destroyed, and a provisioned key file is honoured.
pub fn create_key(source: &KeySource) -> Result<DbKey> {
    match source {
        KeySource::Keychain { service, account } => {
            match load_key(source) {
                Ok(key) => {
                    tracing::info!(%service, %account, "reusing the database key already in the keychain");
                    return Ok(key);
                }
                Err(StoreError::KeyMissing { .. }) => {}
                Err(e) => return Err(e),
            }
            let key = DbKey::generate();
            let hex = key.to_hex().expect("a generated key is raw");
            let entry = keychain_entry(service, account)?;
            entry.set_password(&hex).map_err(keychain_error)?;
            // Keychains have no "create if absent". When two processes make the first key at
            // once, the last `set_password` wins: use what the keychain holds now, not what
            // this process wrote, so a process that lost the race does not go on with a key
            // nobody keeps. A window remains: a process that reads back before the other one
            // writes keeps its own key (and the other's write replaces it in the keychain).
            // Only one of them then creates the database (its file is created exclusively), so
            // the window is only harmful when the one that read back first also wins the
            // database: both steps happen within milliseconds, on a first run only.
            let stored = Zeroizing::new(entry.get_password().map_err(keychain_error)?);
            let stored = DbKey::from_hex(&stored).ok_or(StoreError::KeychainKeyMalformed)?;
            if stored.to_hex() == key.to_hex() {
                tracing::info!(%service, %account, "saved a new database key in the keychain");
            } else {
                tracing::warn!(%service, %account, "another process saved the database key first; using it");
            }
            Ok(stored)
        }
        KeySource::Passphrase(p) => DbKey::passphrase(p),
        KeySource::KeyFile(path) => {
            key_files_supported(path)?;
            create_or_read_key_file(path, DbKey::generate())
        }
    }
}

/// Saves `fresh` in a new key file at `path`, or, when a file is already there (provisioned,
/// or written a moment ago by another process making the same store), returns its key
/// instead: the file is created exclusively (`O_EXCL`), so a key that may already encrypt a
/// database is never replaced. A file found empty or cut short is read again for a short
/// while, since its creator may still be writing it.
fn create_or_read_key_file(path: &Path, fresh: DbKey) -> Result<DbKey> {
    match create_key_file(path, &fresh) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "wrote a new key file");
            return Ok(fresh);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StoreError::io(path, e)),
    }
    tracing::info!(path = %path.display(), "using the existing key file");
    let deadline = std::time::Instant::now() + KEY_FILE_SETTLE;
    loop {
        match read_key_file(path) {
            Err(StoreError::KeyFileMalformed { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// How long a key file found malformed may still be being written by its creator.
const KEY_FILE_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Removes a key from the keychain; `false` when there was none. Only for tests and for
/// deliberately discarding a store: the database cannot be opened without its key.
pub fn delete_keychain_key(service: &str, account: &str) -> Result<bool> {
    match keychain_entry(service, account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keychain_error(e)),
    }
}

pub(crate) fn keychain_entry(service: &str, account: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(service, account).map_err(keychain_error)
}

pub(crate) fn keychain_error(e: keyring::Error) -> StoreError {
    StoreError::KeychainUnavailable {
        message: e.to_string(),
    }
}

/// Writes `key` to a new file at `path`, readable and writable by its owner only. Refuses to
/// replace an existing file.
pub fn write_key_file(path: &Path, key: &DbKey) -> Result<()> {
    key_files_supported(path)?;
    if key.to_hex().is_none() {
        return Err(StoreError::InvalidInput {
            what: "key",
            why: "a passphrase cannot be written to a key file",
        });
    }
    create_key_file(path, key).map_err(|e| StoreError::io(path, e))
}

/// Creates the key file exclusively (`AlreadyExists` when any file, or a symbolic link, is
/// already at `path`) and writes the key in one write. `key` must be a raw key.
fn create_key_file(path: &Path, key: &DbKey) -> std::io::Result<()> {
    let Some(hex) = key.to_hex() else {
        return Err(std::io::Error::other(
            "a passphrase cannot be written to a key file",
        ));
    };
    let mut line = Zeroizing::new(String::with_capacity(65));
    line.push_str(&hex);
    line.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_all()
}

/// The most a key file may hold: 64 hex characters and some whitespace.
const KEY_FILE_MAX: usize = 1024;

/// Reads a key file. The file is opened once, without following a symbolic link, and
/// everything is checked on the open handle (no one can swap the file between the check and
/// the read): it must be a regular file, and on Unix belong to the user running Switchboard
/// and be inaccessible to group and others. (Symbolic links in the directories above it are
/// followed: they are the owner's choice of where the file lives.)
pub fn read_key_file(path: &Path) -> Result<DbKey> {
    key_files_supported(path)?;
    let file = open_key_file(path)?;
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if !meta.is_file() {
        return Err(StoreError::KeyFileNotRegular {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let owner = meta.uid();
        if owner != rustix::process::geteuid().as_raw() {
            return Err(StoreError::KeyFileWrongOwner {
                path: path.to_owned(),
                owner,
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::KeyFileInsecure {
                path: path.to_owned(),
                mode,
            });
        }
    }
    // Room for one byte more than allowed, so the buffer never grows (and leaves no copy).
    let mut text = Zeroizing::new(Vec::with_capacity(KEY_FILE_MAX + 1));
    (&file)
        .take(KEY_FILE_MAX as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| StoreError::io(path, e))?;
    let malformed = || StoreError::KeyFileMalformed {
        path: path.to_owned(),
    };
    if text.len() > KEY_FILE_MAX {
        return Err(malformed());
    }
    std::str::from_utf8(&text)
        .ok()
        .and_then(DbKey::from_hex)
        .ok_or_else(malformed)
}

/// Opens a key file for reading, refusing a symbolic link at `path` itself.
fn open_key_file(path: &Path) -> Result<std::fs::File> {
    #[cfg(unix)]
    let opened = {
        use rustix::fs::{Mode, OFlags};
        // NONBLOCK: a FIFO put there opens at once (and is then refused) instead of hanging.
        rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(std::io::Error::from)
    };
    #[cfg(not(unix))]
    let opened = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(StoreError::KeyFileNotRegular {
                path: path.to_owned(),
            })
        }
        _ => std::fs::File::open(path),
    };
    opened.map_err(|e| {
        let is_symlink = std::fs::symlink_metadata(path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_symlink {
            // O_NOFOLLOW's refusal (ELOOP on Linux and macOS, EMLINK on FreeBSD).
            StoreError::KeyFileNotRegular {
                path: path.to_owned(),
            }
        } else if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::KeyFileMissing {
                path: path.to_owned(),
            }
        } else {
            StoreError::io(path, e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = DbKey::from_bytes([0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
        let pass = DbKey::passphrase("hunter2").unwrap();
        assert!(!format!("{pass:?}").contains("hunter2"));
        let source = KeySource::Passphrase("hunter2".into());
        assert!(!format!("{source:?}").contains("hunter2"));
    }

    #[test]
    fn pragma_statements() {
        let key = DbKey::from_bytes([0x01; 32]);
        assert_eq!(
            key.pragma_statement().as_str(),
            format!("PRAGMA key = \"x'{}'\";", "01".repeat(32))
        );
        let pass = DbKey::passphrase("it's").unwrap();
        assert_eq!(pass.pragma_statement().as_str(), "PRAGMA key = 'it''s';");
    }

    #[test]
    fn hex_keys() {
        fn check(text: &str, ok: bool) {
            assert_eq!(DbKey::from_hex(text).is_some(), ok, "{text:?}");
        }
        check(&"0f".repeat(32), true);
        check(&format!("  {}\n", "AB".repeat(32)), true);
        check(&"0f".repeat(31), false);
        check(&"zz".repeat(32), false);
        check("", false);
        let key = DbKey::generate();
        let hex = key.to_hex().unwrap();
        assert_eq!(DbKey::from_hex(&hex).unwrap().to_hex().unwrap(), hex);
    }

    #[test]
    fn passphrases_with_control_characters_are_refused() {
        for bad in [
            "a\0b",
            "\0",
            "line\n",
            "tab\there",
            "\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let err = DbKey::passphrase(bad).unwrap_err();
            assert_eq!(
                err.code().as_str(),
                "passphrase_control_characters",
                "{bad:?}"
            );
            assert!(!err.to_string().contains(bad), "{err}");
            let err = load_key(&KeySource::Passphrase(bad.into())).unwrap_err();
            assert_eq!(
                err.code().as_str(),
                "passphrase_control_characters",
                "{bad:?}"
            );
            let err = create_key(&KeySource::Passphrase(bad.into())).unwrap_err();
            assert_eq!(
                err.code().as_str(),
                "passphrase_control_characters",
                "{bad:?}"
            );
        }
        for good in [
            "it's",
            "correct horse battery staple",
            "pässwörd ✓",
            "\"; DROP",
        ] {
            DbKey::passphrase(good).unwrap();
        }
    }

    #[test]
    fn empty_passphrase_refused() {
        assert_eq!(
            DbKey::passphrase("").unwrap_err().code().as_str(),
            "empty_passphrase"
        );
    }

    #[cfg(not(unix))]
    #[test]
    fn key_files_are_refused_where_their_access_cannot_be_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        let code = |r: Result<()>| r.unwrap_err().code().as_str();
        assert_eq!(
            code(write_key_file(&path, &DbKey::generate())),
            "key_file_unsupported"
        );
        assert!(!path.exists());
        std::fs::write(&path, format!("{}\n", "07".repeat(32))).unwrap();
        assert_eq!(code(read_key_file(&path).map(drop)), "key_file_unsupported");
        let source = KeySource::KeyFile(path);
        assert_eq!(code(load_key(&source).map(drop)), "key_file_unsupported");
        assert_eq!(code(create_key(&source).map(drop)), "key_file_unsupported");
    }

    // Key files (and so the tests below) are Unix-only: their safety is their owner-only mode.
    #[cfg(unix)]
    #[test]
    fn key_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");

        let key = DbKey::generate();
        write_key_file(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key_file(&path).unwrap().to_hex(), key.to_hex());
        // Never overwritten.
        assert_eq!(
            write_key_file(&path, &key).unwrap_err().code().as_str(),
            "io"
        );

        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_key_file(&path).unwrap_err();
            assert_eq!(err.code().as_str(), "key_file_insecure", "{mode:o}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        assert_eq!(
            read_key_file(&path).unwrap_err().code().as_str(),
            "key_file_malformed"
        );

        let missing = dir.path().join("missing.key");
        assert_eq!(
            read_key_file(&missing).unwrap_err().code().as_str(),
            "key_file_missing"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_key_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        let first = DbKey::generate();
        write_key_file(&path, &first).unwrap();
        let before = std::fs::read(&path).unwrap();
        // A process that found no file a moment ago now tries to save its own key.
        let got = create_or_read_key_file(&path, DbKey::generate()).unwrap();
        assert_eq!(got.to_hex(), first.to_hex());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[cfg(unix)]
    #[test]
    fn processes_making_the_first_key_at_once_agree() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.key");
            let source = KeySource::KeyFile(path.clone());
            let start = std::sync::Barrier::new(8);
            let keys: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            let key = create_key(&source).unwrap();
                            key.to_hex().unwrap().to_string()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let saved = read_key_file(&path).unwrap().to_hex().unwrap().to_string();
            assert!(
                keys.iter().all(|k| *k == saved),
                "every process uses the saved key"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_files_behind_symbolic_links_or_not_regular_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.key");
        let key = DbKey::generate();
        write_key_file(&real, &key).unwrap();
        let before = std::fs::read(&real).unwrap();
        let link = dir.path().join("link.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            read_key_file(&link).unwrap_err().code().as_str(),
            "key_file_not_regular"
        );
        let source = KeySource::KeyFile(link.clone());
        assert_eq!(
            load_key(&source).unwrap_err().code().as_str(),
            "key_file_not_regular"
        );
        assert_eq!(
            create_key(&source).unwrap_err().code().as_str(),
            "key_file_not_regular"
        );
        assert_eq!(
            std::fs::read(&real).unwrap(),
            before,
            "the target is untouched"
        );

        // A dangling link is not followed to create a file where it points.
        let target = dir.path().join("elsewhere.key");
        let dangling = dir.path().join("dangling.key");
        std::os::unix::fs::symlink(&target, &dangling).unwrap();
        let err = create_key(&KeySource::KeyFile(dangling.clone())).unwrap_err();
        assert_eq!(err.code().as_str(), "key_file_not_regular", "{err}");
        assert!(!target.exists());

        let sub = dir.path().join("a directory");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(
            read_key_file(&sub).unwrap_err().code().as_str(),
            "key_file_not_regular"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.key");
        write_key_file(&path, &DbKey::generate()).unwrap();
        let me = rustix::process::geteuid().as_raw();
        let other = if me == 4242 { 4243 } else { 4242 };
        // Only root may give a file away; elsewhere this part cannot be set up.
        if std::os::unix::fs::chown(&path, Some(other), None).is_err() {
            return;
        }
        let err = read_key_file(&path).unwrap_err();
        assert_eq!(err.code().as_str(), "key_file_wrong_owner", "{err}");
        assert!(matches!(err, StoreError::KeyFileWrongOwner { owner, .. } if owner == other));
    }
}
