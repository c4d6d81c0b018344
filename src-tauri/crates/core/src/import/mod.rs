//! Reading address books exported from phones and mail programs (vCard and CSV) into contacts,
//! with an account of every entry or number left out and why: an import never loses data
//! silently.
//!
//! `collect` holds what both readers produce; `vcard` and `csv` each read one format into it and
//! know nothing of each other.

mod collect;
mod csv;
mod vcard;

// `self::` because the `csv` crate has the same name as the module.
pub use self::collect::{ImportParse, ImportedContact, SkipReason, Skipped};
pub use self::csv::parse_csv;
pub use self::vcard::parse_vcard;

#[cfg(test)]
mod tests;
