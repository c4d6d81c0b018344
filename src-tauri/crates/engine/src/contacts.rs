//! The address book: contacts with several numbers and an optional default line, found by what
//! a person types, and imported from vCard or CSV with a report of everything skipped.

use serde::{Deserialize, Serialize};
use switchboard_core::import::{self, ImportParse};
use switchboard_core::model::{Contact, ContactId, LineId, E164};
use switchboard_core::phone;
use switchboard_store::StoreError;

use crate::{Engine, EngineError, Result};

/// Largest address book accepted for import.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// A contact as clients show it: with its default line's label resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ContactView {
    #[serde(flatten)]
    pub contact: Contact,
    pub default_line_label: Option<String>,
    /// `numbers` as people read them (`+1 415-555-0123`), in the same order.
    pub numbers_display: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    Vcard,
    Csv,
}

impl ImportFormat {
    /// Guesses the format from the content: a vCard starts with `BEGIN:VCARD`.
    pub fn detect(text: &str) -> ImportFormat {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        // Bytes, not a str slice: the text may start with any character (a CSV header in
        // Japanese), and slicing a str inside a character panics.
        if start
            .as_bytes()
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"BEGIN:VCARD"))
        {
            ImportFormat::Vcard
        } else {
            ImportFormat::Csv
        }
    }
}

/// What an import did: every entry of the file is either added or listed as skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportSummary {
    pub added: usize,
    pub skipped: Vec<SkippedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SkippedEntry {
    /// 1-based card or CSV row.
    pub entry: usize,
    pub label: String,
    pub code: String,
    pub reason: String,
}

const MAX_NAME_CHARS: usize = 200;

/// What [`Engine::edit_contact`] changes: what is `None` (or [`DefaultLineEdit::Keep`]) stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactEdit {
    pub name: Option<String>,
    pub numbers: Option<Vec<String>>,
    pub default_line: DefaultLineEdit,
}

/// What becomes of a contact's default line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DefaultLineEdit {
    #[default]
    Keep,
    Clear,
    Set(LineId),
}

impl Engine {
    pub fn contacts(&self) -> Result<Vec<ContactView>> {
        let contacts = self.store.list_contacts()?;
        self.views(contacts)
    }

    /// One contact by id; an id that is no contact (any more) is refused as an unknown contact.
    pub fn contact(&self, id: ContactId) -> Result<Contact> {
        match self.store.get_contact(id) {
            Err(StoreError::ContactNotFound(_)) => Err(EngineError::UnknownContact {
                input: id.to_string(),
            }),
            other => Ok(other?),
        }
    }

    /// The contact one of whose numbers is `number`, if any.
    pub fn contact_by_number(&self, number: &E164) -> Result<Option<Contact>> {
        Ok(self.store.contact_by_number(number)?)
    }

    /// Contacts matching what was typed in a recipient field: name words, then number digits.
    pub fn find_contacts(&self, query: &str, limit: usize) -> Result<Vec<ContactView>> {
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let contacts = self.store.search_contacts(query, limit)?;
        self.views(contacts)
    }

    pub fn add_contact(
        &self,
        name: &str,
        numbers: &[String],
        default_line: Option<LineId>,
    ) -> Result<ContactView> {
        let name = check_name(name)?;
        let numbers = self.parse_numbers(numbers)?;
        let default_line = self.existing_line(default_line)?;
        let contact = self
            .store
            .add_contact(name, &numbers, default_line, false)?;
        self.view(contact)
    }

    /// Changes what `edit` gives and keeps the rest.
    pub fn edit_contact(&self, contact: ContactId, edit: &ContactEdit) -> Result<ContactView> {
        let current = self.contact(contact)?;
        let name = match &edit.name {
            Some(n) => check_name(n)?.to_owned(),
            None => current.name.clone(),
        };
        let numbers = match &edit.numbers {
            Some(n) => self.parse_numbers(n)?,
            None => current.numbers.clone(),
        };
        let default_line = match edit.default_line {
            DefaultLineEdit::Keep => current.default_line,
            DefaultLineEdit::Clear => None,
            DefaultLineEdit::Set(line) => self.existing_line(Some(line))?,
        };
        let updated = self
            .store
            .update_contact(current.id, &name, &numbers, default_line)?;
        self.view(updated)
    }

    /// Makes `line` the contact's default line, or clears it.
    pub fn set_default_line(
        &self,
        contact: ContactId,
        line: Option<LineId>,
    ) -> Result<ContactView> {
        let default_line = line.map_or(DefaultLineEdit::Clear, DefaultLineEdit::Set);
        self.edit_contact(
            contact,
            &ContactEdit {
                default_line,
                ..ContactEdit::default()
            },
        )
    }

    pub fn remove_contact(&self, contact: ContactId) -> Result<Contact> {
        let found = self.contact(contact)?;
        self.store.remove_contact(found.id)?;
        Ok(found)
    }

    /// Imports contacts from a vCard or CSV text. Numbers that already belong to a contact
    /// are not imported again, and are reported, as is every other entry left out.
    pub fn import_contacts(&self, text: &str, format: ImportFormat) -> Result<ImportSummary> {
        if text.len() > MAX_IMPORT_BYTES {
            return Err(EngineError::ImportTooLarge {
                max_bytes: MAX_IMPORT_BYTES,
            });
        }
        let country = self.default_country()?;
        let ImportParse { contacts, skipped } = match format {
            ImportFormat::Vcard => import::parse_vcard(text, country),
            ImportFormat::Csv => import::parse_csv(text, country),
        };
        let mut summary = ImportSummary {
            added: 0,
            skipped: skipped
                .into_iter()
                .map(|s| SkippedEntry {
                    entry: s.entry,
                    label: s.label,
                    code: s.reason.code().to_owned(),
                    reason: s.reason.to_string(),
                })
                .collect(),
        };
        for imported in contacts {
            let mut fresh = Vec::new();
            for number in imported.numbers {
                match self.store.contact_by_number(&number)? {
                    Some(owner) => summary.skipped.push(SkippedEntry {
                        entry: imported.entry,
                        label: imported.name.clone(),
                        code: "number_already_saved".into(),
                        reason: format!(
                            "{} is already saved for {}, so it was left out.",
                            phone::format_international(&number),
                            owner.name
                        ),
                    }),
                    None => fresh.push(number),
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let name = match check_name(&imported.name) {
                Ok(name) => name,
                Err(e) => {
                    summary.skipped.push(SkippedEntry {
                        entry: imported.entry,
                        label: imported.name.chars().take(40).collect(),
                        code: e.code().as_str().to_owned(),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match self.store.add_contact(name, &fresh, None, false) {
                Ok(_) => summary.added += 1,
                Err(e @ (StoreError::InvalidInput { .. } | StoreError::NumberTaken { .. })) => {
                    summary.skipped.push(SkippedEntry {
                        entry: imported.entry,
                        label: imported.name.clone(),
                        code: e.code().as_str().to_owned(),
                        reason: e.to_string(),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        summary.skipped.sort_by_key(|s| s.entry);
        Ok(summary)
    }

    pub(crate) fn parse_numbers(&self, numbers: &[String]) -> Result<Vec<E164>> {
        if numbers.is_empty() {
            return Err(EngineError::Invalid {
                what: "contact",
                why: "A contact needs at least one phone number.".into(),
            });
        }
        let country = self.default_country()?;
        numbers
            .iter()
            .map(|n| phone::parse(n, country).map_err(|e| EngineError::phone(n, e)))
            .collect()
    }

    /// `line`, refused when it is not one of the account's lines.
    fn existing_line(&self, line: Option<LineId>) -> Result<Option<LineId>> {
        line.map(|id| self.line(id).map(|l| l.id)).transpose()
    }

    fn view(&self, contact: Contact) -> Result<ContactView> {
        Ok(self.views(vec![contact])?.remove(0))
    }

    fn views(&self, contacts: Vec<Contact>) -> Result<Vec<ContactView>> {
        let lines = self.store.list_lines()?;
        Ok(contacts
            .into_iter()
            .map(|contact| ContactView {
                numbers_display: contact
                    .numbers
                    .iter()
                    .map(phone::format_international)
                    .collect(),
                default_line_label: contact
                    .default_line
                    .and_then(|d| lines.iter().find(|l| l.id == d))
                    .map(|l| l.label.clone()),
                contact,
            })
            .collect())
    }
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(EngineError::Invalid {
            what: "name",
            why: format!("A contact needs a name of 1 to {MAX_NAME_CHARS} characters."),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    #[test]
    fn contacts_keep_numbers_and_default_lines() {
        let (_d, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap();
        let ada = e
            .add_contact(
                "Ada Lovelace",
                &["+44 7400 123456".into(), "(415) 555-0142".into()],
                Some(sales.id),
            )
            .unwrap();
        assert_eq!(ada.default_line_label.as_deref(), Some("Sales"));
        assert_eq!(ada.contact.numbers.len(), 2);
        let renamed = e
            .edit_contact(
                ada.contact.id,
                &ContactEdit {
                    name: Some("Ada King".into()),
                    ..ContactEdit::default()
                },
            )
            .unwrap();
        assert_eq!(renamed.contact.name, "Ada King");
        assert_eq!(renamed.contact.default_line, Some(sales.id), "kept");
        let cleared = e.set_default_line(ada.contact.id, None).unwrap();
        assert_eq!(cleared.contact.default_line, None);
    }

    #[test]
    fn bad_contacts_are_refused_and_nothing_is_lost() {
        let (_d, e) = engine();
        e.add_contact("Ada", &["+447400123456".into()], None)
            .unwrap();
        let check = |name: &str, numbers: &[&str], line: Option<LineId>, code: &str| {
            let numbers: Vec<String> = numbers.iter().map(|s| s.to_string()).collect();
            let err = e.add_contact(name, &numbers, line).unwrap_err();
            assert_eq!(err.code().as_str(), code, "{name}");
        };
        check("", &["+14155550100"], None, "invalid_input");
        check("Bob", &[], None, "invalid_input");
        check("Bob", &["12"], None, "number_too_short");
        check("Bob", &["+447400123456"], None, "number_taken");
        check("Bob", &["+14155550100"], Some(LineId(99)), "unknown_line");
        assert_eq!(e.contacts().unwrap().len(), 1);
    }

    #[test]
    fn import_reports_every_entry_left_out() {
        let (_d, e) = engine();
        e.add_contact("Ada", &["+447400123456".into()], None)
            .unwrap();
        let csv = "Name,Phone\nGrace Hopper,+1 415 555 0177\nNo Number,\nAda Again,+447400123456\nBad,12\n";
        let summary = e.import_contacts(csv, ImportFormat::detect(csv)).unwrap();
        assert_eq!(summary.added, 1);
        let codes: Vec<&str> = summary.skipped.iter().map(|s| s.code.as_str()).collect();
        assert!(codes.contains(&"no_number"), "{codes:?}");
        assert!(codes.contains(&"number_already_saved"), "{codes:?}");
        assert!(codes.contains(&"invalid_number"), "{codes:?}");
        let entries: Vec<usize> = summary.skipped.iter().map(|s| s.entry).collect();
        assert_eq!(
            entries,
            [3, 4, 5],
            "entries are the file's rows, the header being row 1"
        );
        assert_eq!(e.contacts().unwrap().len(), 2);
    }

    #[test]
    fn import_format_is_detected_by_content() {
        assert_eq!(
            ImportFormat::detect("\u{feff}BEGIN:VCARD\r\n"),
            ImportFormat::Vcard
        );
        assert_eq!(ImportFormat::detect("begin:vcard\n"), ImportFormat::Vcard);
        assert_eq!(ImportFormat::detect("Name,Phone\n"), ImportFormat::Csv);
        assert_eq!(ImportFormat::detect("名前,電話番号\n"), ImportFormat::Csv);
        assert_eq!(
            ImportFormat::detect("Фамилия,Имя,Телефон\n"),
            ImportFormat::Csv
        );
        assert_eq!(ImportFormat::detect(""), ImportFormat::Csv);
    }
}
