//! Secrets other than the database key (carrier credentials, media host keys), kept in the OS
//! keychain under names scoped to one data directory, so that two data directories never share
//! an account's token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::keys::{keychain_entry, keychain_error, scoped_name};

/// Where secrets are kept. The app and the CLI use [`KeychainSecrets`]; tests of code that only
/// needs somewhere to put them use [`MemorySecrets`].
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>>;
    fn set(&self, name: &str, value: &str) -> Result<()>;
    /// `false` when there was nothing to delete.
    fn delete(&self, name: &str) -> Result<bool>;
}

/// The OS keychain: entry `<name> for <canonical data dir>` of `service`, named as the
/// database key's is ([`crate::keys::keychain_account`]).
#[derive(Debug, Clone)]
pub struct KeychainSecrets {
    service: String,
    data_dir: PathBuf,
}

impl KeychainSecrets {
    /// The data directory must exist (its canonical path, taken once, names the entries).
    pub fn for_dir(service: &str, data_dir: &Path) -> Result<KeychainSecrets> {
        Ok(KeychainSecrets {
            service: service.to_owned(),
            data_dir: data_dir
                .canonicalize()
                .map_err(|e| StoreError::io(data_dir, e))?,
        })
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry> {
        keychain_entry(&self.service, &scoped_name(name, &self.data_dir))
    }
}

impl Secrets for KeychainSecrets {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        self.entry(name)?
            .set_password(value)
            .map_err(keychain_error)
    }

    fn delete(&self, name: &str) -> Result<bool> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keychain_error(e)),
        }
    }
}

/// Secrets in this process's memory only.
#[derive(Debug, Default)]
pub struct MemorySecrets(Mutex<HashMap<String, Zeroizing<String>>>);

impl MemorySecrets {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Zeroizing<String>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Secrets for MemorySecrets {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>> {
        Ok(self.map().get(name).cloned())
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        self.map()
            .insert(name.to_owned(), Zeroizing::new(value.to_owned()));
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool> {
        Ok(self.map().remove(name).is_some())
    }
}
