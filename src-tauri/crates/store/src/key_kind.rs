//! The kind of a data directory's key source (keychain, passphrase or key file), without its
//! secret: what `store.json` records and what an error names. Its own room so that the errors
//! can name it without depending on the key handling that returns them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a key source, without its secret: what `store.json` records.
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
