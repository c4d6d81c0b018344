//! The kinds of database key, apart from `keys.rs`: errors name them too, and the error type
//! must not depend on the module that handles the keys (which itself returns errors).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a `KeySource`, without its secret: what `store.json` records.
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
