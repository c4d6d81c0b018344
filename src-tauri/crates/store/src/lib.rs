//! Switchboard's encrypted local store: SQLCipher through rusqlite, numbered migrations,
//! database keys (keychain, passphrase, key file) and every query the app makes.
//!
//! One [`Store`] per data directory holds one writer connection and a pool of readers. Times
//! are milliseconds since the Unix epoch. Logs never contain message bodies or keys.
//!
//! Invariants:
//! - **A wrong key or a damaged file is an error, never a new database**: opening never
//!   creates a file, creating never replaces one, and nothing is written before the key is
//!   proven by a read.
//! - **A send is one transaction**: messages, images, outbox jobs and thread updates of a
//!   fan-out are written together or not at all.
//! - **Message ids grow with arrival**, so "newest first" is `ORDER BY id DESC` everywhere,
//!   including inside the full-text index.
//! - **Every hot query has an index**, checked by `EXPLAIN QUERY PLAN` tests (`src/tests.rs`).
//!
//! Code map: `keys` (where the key comes from), `db` (keying and pragmas of one connection),
//! `store` (the handle, readers/writer, data directories), `migrations/` (one file per schema
//! version), then one file per noun: `lines`, `contacts`, `threads`, `messages`, `outbox/`,
//! `drafts`, `settings`, `search`, `templates`; and per way messages arrive besides a send: `carrier_sync`
//! (what the carrier reports), `media_fetch` (the download queue of received media) and
//! `history` (the bulk import). No two modules import each
//! other: `outbox`, `carrier_sync` and `history` build on `messages`, which builds on `threads`.

mod carrier_sync;
mod contacts;
mod db;
mod drafts;
mod error;
mod history;
mod key_kind;
pub mod keys;
mod lines;
mod media_fetch;
mod messages;
mod migrations;
mod opt_outs;
mod outbox;
mod rows;
mod scheduled;
mod search;
pub mod secrets;
mod settings;
mod store;
mod templates;
mod threads;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_triage;
#[cfg(test)]
mod testutil;

pub use carrier_sync::{
    Arrival, Elsewhere, Inbound, InboundMedia, NewInbound, NewSentElsewhere, SidMatch,
};
pub use db::{now_ms, Durability};
pub use drafts::{Draft, DraftImage, DraftKey};
pub use error::{Result, StoreError};
pub use history::{HistoryMessage, ImportReport, IMPORT_BATCH};
pub use keys::{DbKey, KeySource, KeySourceKind};
pub use lines::{AccountLine, LinesAdopted};
pub use media_fetch::{DownloadedMedia, MediaDownload, PendingItem};
pub use messages::{
    Attachment, AttachmentInfo, AttachmentState, MessageCursor, MessageError, MessageRow, NewImage,
};
pub use migrations::SCHEMA_VERSION;
pub use opt_outs::{OptOut, OptOutSource};
pub use outbox::{
    CarrierFailed, Enqueued, NewOutgoing, OutboxId, OutboxJob, OutboxState, PendingOutbox,
};
pub use scheduled::{Released, Scheduled, ScheduledId};
pub use search::{fts5_query, group_by_thread, SearchHit, ThreadHits};
pub use secrets::{KeychainSecrets, MemorySecrets, Secrets};
pub use settings::SettingKey;
pub use store::{Store, DB_FILE_NAME, STORE_CONFIG_FILE_NAME};
pub use threads::{ThreadCursor, ThreadSummary};

/// The model types the store's API speaks, re-exported for convenience.
pub use switchboard_core::model::{
    Contact, ContactId, Direction, ImageKind, Line, LineId, MessageId, MessageStatus, ThreadId,
    ThreadKey, E164,
};
