//! The store's one error type: every failure a caller may want to branch on is its own variant,
//! with a stable snake_case `code()` for the UI and the CLI.

use std::path::PathBuf;

use switchboard_core::error_code::ErrorCode;
use switchboard_core::model::{ContactId, LineId, MessageId, TemplateId, ThreadId, E164};

use crate::key_kind::KeySourceKind;

/// Everything that can go wrong in the store. Messages never include message bodies, keys or
/// passphrases: they end up in logs and dialogs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // --- Opening and keys -------------------------------------------------------------------
    /// The key does not decrypt the file, or the file is not a (SQLCipher) database at all.
    /// The file is left exactly as it was.
    #[error("{path} cannot be opened: the key is wrong or the file is not a Switchboard database")]
    WrongKeyOrNotADatabase { path: PathBuf },
    /// The database was written by a newer Switchboard; opening it could corrupt it.
    #[error("the database has schema version {found}, this Switchboard knows up to {supported}: update Switchboard")]
    FromTheFuture { found: i64, supported: i64 },
    #[error("no database at {path}")]
    DatabaseMissing { path: PathBuf },
    #[error("a file already exists at {path}; refusing to create a database over it")]
    DatabaseExists { path: PathBuf },
    #[error("the system keychain is not available: {message}")]
    KeychainUnavailable { message: String },
    /// The database exists but its key is not in the keychain. A new key is never made then:
    /// it could not open the existing data.
    #[error(
        "the database key is missing from the keychain (service {service:?}, account {account:?})"
    )]
    KeyMissing { service: String, account: String },
    #[error("the key saved in the keychain is not a 256-bit hex key")]
    KeychainKeyMalformed,
    #[error("the key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`", path = path.display())]
    KeyFileInsecure { path: PathBuf, mode: u32 },
    /// The key file's path names a symbolic link (or a directory, a FIFO…): it is refused,
    /// so that no one can point the store at a key of their choosing.
    #[error("the key file {path} is a symbolic link or not a regular file; give the path of the file itself", path = path.display())]
    KeyFileNotRegular { path: PathBuf },
    #[error("the key file {path} belongs to user {owner}, not to the user running Switchboard", path = path.display())]
    KeyFileWrongOwner { path: PathBuf, owner: u32 },
    #[error("the key file {path} must hold exactly 64 hexadecimal characters (a 256-bit key)")]
    KeyFileMalformed { path: PathBuf },
    #[error("the key file {path} does not exist")]
    KeyFileMissing { path: PathBuf },
    /// A key file where Switchboard cannot check that only its owner can read it: on Windows,
    /// where access is an ACL and not a mode (see `keys::key_files_supported`).
    #[error("key files are not supported on this system, where Switchboard cannot check that only you can read {path}: keep the key in the system's credential store (the default) or use a passphrase (SWITCHBOARD_PASSPHRASE)", path = path.display())]
    KeyFileUnsupported { path: PathBuf },
    #[error("the passphrase must not be empty")]
    EmptyPassphrase,
    /// A NUL, newline, escape… in a passphrase: refused before it could reach SQLite (whose
    /// error messages would then quote it) or be cut short at a NUL.
    #[error("the passphrase must not contain control characters (such as NUL, tab or newline)")]
    PassphraseControlCharacters,
    /// The data directory was set up with another kind of key (see `store.json`).
    #[error("this data directory's key is kept in the {expected}, but the {given} was given")]
    KeySourceMismatch {
        expected: KeySourceKind,
        given: KeySourceKind,
    },
    #[error(
        "this data directory's key is kept under keychain account {expected:?}, not {given:?}"
    )]
    KeychainAccountMismatch { expected: String, given: String },
    #[error("{path} is not a valid store description: {detail}")]
    StoreConfigMalformed { path: PathBuf, detail: String },

    // --- Domain -----------------------------------------------------------------------------
    #[error("the number {number} is already a line")]
    LineNumberTaken { number: E164 },
    #[error("line {0} does not exist")]
    LineNotFound(LineId),
    /// Lines with conversations are kept: removing one would delete its history.
    #[error("line {line} still has {threads} conversation(s)")]
    LineHasThreads { line: LineId, threads: i64 },
    #[error("the number {number} already belongs to contact {contact}")]
    NumberTaken { number: E164, contact: ContactId },
    #[error("contact {0} does not exist")]
    ContactNotFound(ContactId),
    /// A template's name or text broke core's rules (see `templates::TemplateError`).
    #[error("{0}")]
    Template(switchboard_core::templates::TemplateError),
    #[error("a template called {name:?} already exists")]
    TemplateExists { name: String },
    #[error("template {0} does not exist")]
    TemplateNotFound(TemplateId),
    #[error("conversation {0} does not exist")]
    ThreadNotFound(ThreadId),
    #[error("message {0} does not exist")]
    MessageNotFound(MessageId),
    #[error("outbox job {0} does not exist")]
    OutboxJobNotFound(i64),
    #[error("no message is scheduled as {0}: it may have been sent or cancelled already")]
    ScheduledNotFound(i64),
    /// The outbox job is not in a state that allows this transition.
    #[error("outbox job {job} is {state}, cannot {action}")]
    OutboxJobState {
        job: i64,
        state: &'static str,
        action: &'static str,
    },
    #[error("the client id {client_id:?} was already used by another message")]
    DuplicateClientId { client_id: String },
    #[error("the carrier message id {carrier_sid:?} is already recorded")]
    DuplicateCarrierSid { carrier_sid: String },
    #[error("invalid {what}: {why}")]
    InvalidInput {
        what: &'static str,
        why: &'static str,
    },
    #[error("unknown setting {0:?}")]
    UnknownSetting(String),

    // --- Plumbing ---------------------------------------------------------------------------
    /// A stored value could not be read back (a hand-edited or damaged database).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// A stable name for the error, for the UI's `{code, message}` and for tests.
    pub fn code(&self) -> ErrorCode {
        use StoreError::*;
        match self {
            WrongKeyOrNotADatabase { .. } => ErrorCode::WrongKeyOrNotADatabase,
            FromTheFuture { .. } => ErrorCode::FromTheFuture,
            DatabaseMissing { .. } => ErrorCode::DatabaseMissing,
            DatabaseExists { .. } => ErrorCode::DatabaseExists,
            KeychainUnavailable { .. } => ErrorCode::KeychainUnavailable,
            KeyMissing { .. } => ErrorCode::KeyMissing,
            KeychainKeyMalformed => ErrorCode::KeychainKeyMalformed,
            KeyFileInsecure { .. } => ErrorCode::KeyFileInsecure,
            KeyFileNotRegular { .. } => ErrorCode::KeyFileNotRegular,
            KeyFileWrongOwner { .. } => ErrorCode::KeyFileWrongOwner,
            KeyFileMalformed { .. } => ErrorCode::KeyFileMalformed,
            KeyFileMissing { .. } => ErrorCode::KeyFileMissing,
            KeyFileUnsupported { .. } => ErrorCode::KeyFileUnsupported,
            EmptyPassphrase => ErrorCode::EmptyPassphrase,
            PassphraseControlCharacters => ErrorCode::PassphraseControlCharacters,
            KeySourceMismatch { .. } => ErrorCode::KeySourceMismatch,
            KeychainAccountMismatch { .. } => ErrorCode::KeychainAccountMismatch,
            StoreConfigMalformed { .. } => ErrorCode::StoreConfigMalformed,
            LineNumberTaken { .. } => ErrorCode::LineNumberTaken,
            LineNotFound(_) => ErrorCode::LineNotFound,
            LineHasThreads { .. } => ErrorCode::LineHasThreads,
            NumberTaken { .. } => ErrorCode::NumberTaken,
            ContactNotFound(_) => ErrorCode::ContactNotFound,
            Template(e) => e.code(),
            TemplateExists { .. } => ErrorCode::TemplateExists,
            TemplateNotFound(_) => ErrorCode::TemplateNotFound,
            ThreadNotFound(_) => ErrorCode::ThreadNotFound,
            MessageNotFound(_) => ErrorCode::MessageNotFound,
            OutboxJobNotFound(_) => ErrorCode::OutboxJobNotFound,
            ScheduledNotFound(_) => ErrorCode::ScheduledNotFound,
            OutboxJobState { .. } => ErrorCode::OutboxJobState,
            DuplicateClientId { .. } => ErrorCode::DuplicateClientId,
            DuplicateCarrierSid { .. } => ErrorCode::DuplicateCarrierSid,
            InvalidInput { .. } => ErrorCode::InvalidInput,
            UnknownSetting(_) => ErrorCode::UnknownSetting,
            Corrupt(_) => ErrorCode::Corrupt,
            Sqlite(_) => ErrorCode::Database,
            Io { .. } => ErrorCode::Io,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// True when `e` is SQLite refusing a UNIQUE (or PRIMARY KEY) constraint.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// True when `e` says the file is not a database (SQLCipher's answer to a wrong key too).
pub(crate) fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}
