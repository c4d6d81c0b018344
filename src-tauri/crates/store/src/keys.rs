//! Where the database key comes from: a random 256-bit key kept in the OS keychain (the default),
//! a passphrase run through SQLCipher's own KDF, or an owner-only key file for headless runs.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Result, StoreError};

/// The secret that unlocks the database. Wiped from memory when dropped; `Debug` never shows it.
pub struct DbKey(Secret);

enum Secret {
    /// Used as is (`PRAGMA key = "x'…'"`): no key derivation on every open.
    Raw(Zeroizing<[u8; 32]>),
    /// Derived by SQLCipher (PBKDF2) on every open: slower, for machines without a keychain.
    Passphrase(Zeroizing<String>),
}

impl DbKey {
    /// A fresh random 256-bit key from the operating system's generator.
    pub fn generate() -> DbKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        DbKey(Secret::Raw(bytes))
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

    pub fn passphrase(passphrase: &str) -> Result<DbKey> {
        if passphrase.is_empty() {
            return Err(StoreError::EmptyPassphrase);
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
        }
    }

    /// A second copy, for the store's other connections. Also wiped on drop.
    pub(crate) fn duplicate(&self) -> DbKey {
        match &self.0 {
            Secret::Raw(bytes) => DbKey(Secret::Raw(bytes.clone())),
            Secret::Passphrase(p) => DbKey(Secret::Passphrase(p.clone())),
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
        }
    }
}

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Secret::Raw(_) => f.write_str("DbKey(raw, redacted)"),
            Secret::Passphrase(_) => f.write_str("DbKey(passphrase, redacted)"),
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

/// The kind of a [`KeySource`], without its secret: what `store.json` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySourceKind {
    Keychain,
    Passphrase,
    KeyFile,
}

impl fmt::Display for KeySourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeySourceKind::Keychain => "keychain",
            KeySourceKind::Passphrase => "passphrase",
            KeySourceKind::KeyFile => "key file",
        })
    }
}

/// The keychain account name for the store in `data_dir`, from its canonical path.
pub fn keychain_account(data_dir: &Path) -> Result<String> {
    let canonical = data_dir
        .canonicalize()
        .map_err(|e| StoreError::io(data_dir, e))?;
    Ok(format!("database key for {}", canonical.display()))
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
            keychain_entry(service, account)?
                .set_password(&hex)
                .map_err(keychain_error)?;
            tracing::info!(%service, %account, "saved a new database key in the keychain");
            Ok(key)
        }
        KeySource::Passphrase(p) => DbKey::passphrase(p),
        KeySource::KeyFile(path) => {
            if path.exists() {
                tracing::info!(path = %path.display(), "using the existing key file");
                return read_key_file(path);
            }
            let key = DbKey::generate();
            write_key_file(path, &key)?;
            tracing::info!(path = %path.display(), "wrote a new key file");
            Ok(key)
        }
    }
}

/// Removes a key from the keychain; `false` when there was none. Only for tests and for
/// deliberately discarding a store: the database cannot be opened without its key.
pub fn delete_keychain_key(service: &str, account: &str) -> Result<bool> {
    match keychain_entry(service, account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keychain_error(e)),
    }
}

fn keychain_entry(service: &str, account: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(service, account).map_err(keychain_error)
}

fn keychain_error(e: keyring::Error) -> StoreError {
    StoreError::KeychainUnavailable {
        message: e.to_string(),
    }
}

/// Writes `key` to a new file at `path`, readable and writable by its owner only. Refuses to
/// replace an existing file.
pub fn write_key_file(path: &Path, key: &DbKey) -> Result<()> {
    let hex = key.to_hex().ok_or(StoreError::InvalidInput {
        what: "key",
        why: "a passphrase cannot be written to a key file",
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| StoreError::io(path, e))?;
    file.write_all(hex.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(path, e))
}

/// Reads a key file, refusing one that group or others may access in any way (Unix).
pub fn read_key_file(path: &Path) -> Result<DbKey> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::KeyFileMissing {
            path: path.to_owned(),
        },
        _ => StoreError::io(path, e),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::KeyFileInsecure {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| StoreError::io(path, e))?);
    std::str::from_utf8(&text)
        .ok()
        .and_then(DbKey::from_hex)
        .ok_or_else(|| StoreError::KeyFileMalformed {
            path: path.to_owned(),
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
    fn empty_passphrase_refused() {
        assert_eq!(
            DbKey::passphrase("").unwrap_err().code(),
            "empty_passphrase"
        );
    }

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
        assert_eq!(write_key_file(&path, &key).unwrap_err().code(), "io");

        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_key_file(&path).unwrap_err();
            assert_eq!(err.code(), "key_file_insecure", "{mode:o}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        assert_eq!(
            read_key_file(&path).unwrap_err().code(),
            "key_file_malformed"
        );

        let missing = dir.path().join("missing.key");
        assert_eq!(
            read_key_file(&missing).unwrap_err().code(),
            "key_file_missing"
        );
    }
}
