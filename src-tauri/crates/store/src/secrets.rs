//! Secrets other than the database key (carrier credentials, media host keys), kept in the OS
//! keychain under names scoped to one data directory, so that two data directories never share
//! an account's token.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// Where secrets are kept. The app and the CLI use [`KeychainSecrets`]; tests of code that only
/// needs somewhere to put them use [`MemorySecrets`].
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>>;
    fn set(&self, name: &str, value: &str) -> Result<()>;
    /// `false` when there was nothing to delete.
    fn delete(&self, name: &str) -> Result<bool>;
}

/// The OS keychain: entry `<name> for <canonical data dir>` of `service`.
#[derive(Debug, Clone)]
pub struct KeychainSecrets {
    service: String,
    scope: String,
}

impl KeychainSecrets {
    /// The data directory must exist (its canonical path names the entries).
    pub fn for_dir(service: &str, data_dir: &Path) -> Result<KeychainSecrets> {
        let canonical = data_dir
            .canonicalize()
            .map_err(|e| StoreError::io(data_dir, e))?;
        Ok(KeychainSecrets {
            service: service.to_owned(),
            scope: canonical.display().to_string(),
        })
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &format!("{name} for {}", self.scope))
            .map_err(unavailable)
    }
}

fn unavailable(e: keyring::Error) -> StoreError {
    StoreError::KeychainUnavailable {
        message: e.to_string(),
    }
}

impl Secrets for KeychainSecrets {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        self.entry(name)?.set_password(value).map_err(unavailable)
    }

    fn delete(&self, name: &str) -> Result<bool> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(unavailable(e)),
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
