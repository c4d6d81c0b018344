//! What an import yields, whatever the format: the contacts found and an account of every entry
//! or number left out and why, built by one [`Collector`] that both readers feed.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::E164;
use crate::phone::{self, Country};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParse {
    pub contacts: Vec<ImportedContact>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedContact {
    /// 1-based card or CSV row it came from, for reports about it.
    pub entry: usize,
    pub name: String,
    /// Distinct, in file order; never empty.
    pub numbers: Vec<E164>,
}

/// Something the import left out: a whole entry, or one number of an entry (reason
/// `InvalidNumber`), in which case the entry's other numbers may still have been imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// 1-based: the card's position in a vCard file, or the CSV row as a spreadsheet numbers it
    /// (the header is row 1).
    pub entry: usize,
    /// The entry's name, or failing that some of its raw text, for the person to recognise it.
    pub label: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SkipReason {
    NoName,
    NoNumber,
    InvalidNumber { raw: String },
    Malformed { detail: String },
    DuplicateInFile,
}

impl SkipReason {
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NoName => "no_name",
            SkipReason::NoNumber => "no_number",
            SkipReason::InvalidNumber { .. } => "invalid_number",
            SkipReason::Malformed { .. } => "malformed",
            SkipReason::DuplicateInFile => "duplicate_in_file",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NoName => f.write_str("It has no name."),
            SkipReason::NoNumber => f.write_str("It has no phone number."),
            SkipReason::InvalidNumber { raw } => {
                write!(
                    f,
                    "\"{raw}\" is not a valid phone number, so it was left out."
                )
            }
            SkipReason::Malformed { detail } => write!(f, "It could not be read: {detail}."),
            SkipReason::DuplicateInFile => {
                f.write_str("It is a copy of a contact that appears earlier in the file.")
            }
        }
    }
}

/// Turns entries into contacts or skip reasons, the same way for both formats.
pub(super) struct Collector {
    country: Country,
    pub(super) out: ImportParse,
    /// Lower-cased name → indices in `out.contacts`, to spot the same contact exported twice.
    by_name: HashMap<String, Vec<usize>>,
}

/// An entry as read from the file, before any judgement.
pub(super) struct RawEntry {
    pub(super) entry: usize,
    pub(super) name: Option<String>,
    pub(super) numbers: Vec<String>,
    /// Shown when the entry has no name.
    pub(super) fallback_label: String,
}

impl Collector {
    pub(super) fn new(country: Country) -> Collector {
        Collector {
            country,
            out: ImportParse::default(),
            by_name: HashMap::new(),
        }
    }

    pub(super) fn skip(&mut self, entry: usize, label: &str, reason: SkipReason) {
        self.out.skipped.push(Skipped {
            entry,
            label: label.to_owned(),
            reason,
        });
    }

    pub(super) fn add(&mut self, raw: RawEntry) {
        let name = raw.name.as_deref().map(clean_name).unwrap_or_default();
        let raws: Vec<&str> = raw
            .numbers
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        let label = if name.is_empty() {
            raws.first().map_or(raw.fallback_label.as_str(), |n| n)
        } else {
            &name
        };
        if name.is_empty() {
            return self.skip(raw.entry, label, SkipReason::NoName);
        }
        if raws.is_empty() {
            return self.skip(raw.entry, label, SkipReason::NoNumber);
        }

        let mut numbers: Vec<E164> = Vec::new();
        let mut invalid: Vec<&str> = Vec::new();
        for r in raws {
            match phone::parse(r, self.country) {
                // The same number twice on one card (as "mobile" and "preferred") is one number.
                Ok(n) if !numbers.contains(&n) => numbers.push(n),
                Ok(_) => {}
                Err(_) if !invalid.contains(&r) => invalid.push(r),
                Err(_) => {}
            }
        }
        for r in invalid {
            self.skip(
                raw.entry,
                &name,
                SkipReason::InvalidNumber { raw: r.to_owned() },
            );
        }
        if numbers.is_empty() {
            return;
        }

        let key = name.to_lowercase();
        let contacts = &self.out.contacts;
        let duplicate = self.by_name.get(&key).into_iter().flatten().any(|&i| {
            contacts
                .get(i)
                .is_some_and(|earlier| numbers.iter().all(|n| earlier.numbers.contains(n)))
        });
        if duplicate {
            return self.skip(raw.entry, &name, SkipReason::DuplicateInFile);
        }
        self.by_name
            .entry(key)
            .or_default()
            .push(self.out.contacts.len());
        self.out.contacts.push(ImportedContact {
            entry: raw.entry,
            name,
            numbers,
        });
    }
}

pub(super) fn clean_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`, so one odd line cannot flood the report.
pub(super) fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
