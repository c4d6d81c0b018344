//! Switchboard's pure core: the messaging rules as plain functions over plain data.
//!
//! Invariant: **this crate does no IO** and never depends on tauri, rusqlite or tokio
//! (CI checks it with `cargo tree -i`). Everything here is deterministic and table-tested.

pub mod composer;
pub mod error_code;
pub mod fanout;
pub mod import;
pub mod media;
pub mod model;
pub mod optout;
pub mod outbox;
pub mod phone;
pub mod resolve;
pub mod schedule;
pub mod sms;
pub mod templates;
pub mod threads;
pub mod triage;
pub mod when;
