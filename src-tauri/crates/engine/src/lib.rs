//! Switchboard's use cases, shared by the desktop app and the CLI (GitButler's `but-api` is the
//! model): lines, contacts and their import, compose-and-enqueue, replies, threads, search, the
//! outbox, drafts, settings and templates. The Tauri commands and the CLI only translate to and from it.

mod account;
mod compose;
mod contacts;
mod drafts;
mod error;
mod events;
mod images;
mod lines;
mod optouts;
mod pace;
mod runner;
mod scheduled;
mod settings;
mod setup;
mod templates;
mod threads;
mod triage;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use switchboard_store::{KeySource, KeychainSecrets, MemorySecrets, Secrets, Store};

pub use account::{
    twilio_api_url, AccountConnected, AccountStatus, MediaHostSummary, TwilioCredentials,
    TWILIO_API_URL, TWILIO_API_URL_ENV,
};
pub use compose::{
    ComposeRequest, ComposerState, LineDecision, OptedOut, Preview, Recipient, ScheduleReceipt,
    ScheduledTo, SendReceipt, SentTo,
};
pub use contacts::{
    ContactEdit, ContactView, DefaultLineEdit, ImportFormat, ImportSummary, SkippedEntry,
    MAX_IMPORT_BYTES,
};
pub use drafts::DraftImageFile;
pub use error::{EngineError, ErrorBody, ErrorKind, Result};
pub use events::{EngineEvent, EVENT_BUFFER};
pub use images::{
    prepare as prepare_image, prepare_all as prepare_images, PreparedImage, DEFAULT_MMS_BUDGET,
};
pub use optouts::OptOutEntry;
pub use runner::{
    Clock, RunSummary, Runner, RunnerConfig, RunnerError, LOCK_FILE_NAME, SYNC_BACKOFF,
};
pub use scheduled::ScheduledView;
pub use settings::{NotificationPrivacy, SettingChange, Settings, WindowGeometry, SETTABLE};
pub use setup::{Adopted, DemoContact, SandboxAccess, LOCK_RETRY_SLOW};
pub use switchboard_carrier::CarrierEndpoint;
pub use switchboard_core::error_code::ErrorCode;
pub use threads::{LineBrief, SearchGroup, ThreadDetail, ThreadView, MAX_PAGE, MAX_QUERY_CHARS};
pub use triage::LineUnread;

/// The crates the engine speaks in, for clients that need their types.
pub use switchboard_carrier as carrier;
pub use switchboard_core as core;
pub use switchboard_store as store;

/// The keychain service under which database keys are kept.
pub const KEYCHAIN_SERVICE: &str = "switchboard";

/// Where the data directory's database key comes from. `Debug` never shows a passphrase.
#[derive(Clone)]
pub enum KeyChoice {
    /// The OS keychain (the default for people).
    Keychain,
    /// A passphrase, where no keychain exists.
    Passphrase(String),
    /// An owner-only key file, for headless use.
    KeyFile(PathBuf),
}

impl std::fmt::Debug for KeyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyChoice::Keychain => f.write_str("Keychain"),
            KeyChoice::Passphrase(_) => f.write_str("Passphrase(redacted)"),
            KeyChoice::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
        }
    }
}

/// One open data directory.
pub struct Engine {
    store: Store,
    /// Carrier credentials and media host keys (the OS keychain, for the app and the CLI).
    secrets: Arc<dyn Secrets>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store.path())
            .finish()
    }
}

impl Engine {
    /// Opens the store in `data_dir`, creating the directory and the store (with a new key) on
    /// first use. An existing store is never recreated: a wrong or missing key is an error.
    pub fn open(data_dir: &Path, key: KeyChoice) -> Result<Engine> {
        std::fs::create_dir_all(data_dir).map_err(|source| {
            EngineError::Store(switchboard_store::StoreError::Io {
                path: data_dir.to_owned(),
                source,
            })
        })?;
        let source = match key {
            KeyChoice::Keychain => KeySource::keychain_for_dir(KEYCHAIN_SERVICE, data_dir)?,
            KeyChoice::Passphrase(p) => KeySource::Passphrase(p),
            KeyChoice::KeyFile(path) => KeySource::KeyFile(path),
        };
        let store = Store::open_in_dir(data_dir, &source)?;
        let secrets = Arc::new(KeychainSecrets::for_dir(KEYCHAIN_SERVICE, data_dir)?);
        Ok(Engine { store, secrets })
    }

    /// Wraps an already open store (benchmarks, tests); secrets are kept in memory only.
    pub fn with_store(store: Store) -> Engine {
        Engine {
            store,
            secrets: Arc::new(MemorySecrets::default()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

pub(crate) use switchboard_store::now_ms;

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// An engine on a fresh store in a temporary directory, keyed by a key file (on Windows,
    /// which refuses key files, by a passphrase).
    pub fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let key = if cfg!(unix) {
            KeyChoice::KeyFile(dir.path().join("key"))
        } else {
            KeyChoice::Passphrase("the engine's tests".into())
        };
        let engine = Engine::open(&dir.path().join("data"), key).unwrap();
        (dir, engine)
    }
}
