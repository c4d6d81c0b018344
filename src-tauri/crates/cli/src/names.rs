//! Lines, contacts and conversations by what a person types: a label, a name, a number or an
//! id. The engine
//! takes ids only (an edit meant for line 2 must never reach a line *labelled* "2"); reading
//! names from a person, and choosing among the guesses, is the CLI's business.

use switchboard_engine::core::model::{Contact, ContactId, Line, LineId, ThreadId};
use switchboard_engine::core::phone;
use switchboard_engine::{Engine, EngineError, Result, ThreadView};

/// A line by label (case-insensitive), number (as typed) or id, in that order.
pub fn line(e: &Engine, input: &str) -> Result<Line> {
    let input = input.trim();
    let lines = e.lines()?;
    let by_label = lines.iter().find(|l| l.label.eq_ignore_ascii_case(input));
    let by_number = || {
        let n = phone::parse(input, e.default_country().ok()?).ok()?;
        lines.iter().find(|l| l.number == n)
    };
    let by_id = || {
        let id: i64 = input.parse().ok()?;
        lines.iter().find(|l| l.id == LineId(id))
    };
    by_label
        .or_else(by_number)
        .or_else(by_id)
        .cloned()
        .ok_or_else(|| EngineError::UnknownLine {
            input: input.to_owned(),
            known: lines.iter().map(|l| l.label.clone()).collect(),
        })
}

pub fn line_id(e: &Engine, input: &str) -> Result<LineId> {
    line(e, input).map(|l| l.id)
}

/// A contact by id, by exact name (case-insensitive), or by one of its numbers.
pub fn contact(e: &Engine, input: &str) -> Result<Contact> {
    let input = input.trim();
    if let Ok(id) = input.parse::<i64>() {
        if let Ok(c) = e.contact(ContactId(id)) {
            return Ok(c);
        }
    }
    if let Ok(number) = phone::parse(input, e.default_country()?) {
        if let Some(c) = e.contact_by_number(&number)? {
            return Ok(c);
        }
    }
    let mut named: Vec<Contact> = e
        .find_contacts(input, 50)?
        .into_iter()
        .map(|v| v.contact)
        .filter(|c| c.name.eq_ignore_ascii_case(input))
        .collect();
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => Err(EngineError::UnknownContact {
            input: input.to_owned(),
        }),
        _ => Err(EngineError::AmbiguousRecipient {
            input: input.to_owned(),
            candidates: named
                .iter()
                .map(|c| format!("{} (id {})", c.name, c.id))
                .collect(),
        }),
    }
}

pub fn contact_id(e: &Engine, input: &str) -> Result<ContactId> {
    contact(e, input).map(|c| c.id)
}

/// A conversation by id; else by a phone number, or a contact's name (exact, any case), when
/// that names one conversation only (the same person on two lines is two conversations).
pub fn thread_id(e: &Engine, input: &str) -> Result<ThreadId> {
    let input = input.trim();
    if let Ok(id) = input.parse::<i64>() {
        if e.thread(ThreadId(id), 1, None).is_ok() {
            return Ok(ThreadId(id));
        }
    }
    let unknown = || EngineError::UnknownThread {
        input: input.to_owned(),
    };
    let mut found: Vec<ThreadView> = Vec::new();
    if let Ok(number) = phone::parse(input, e.default_country()?) {
        found = e.threads_with(&number)?;
    } else if !input.is_empty() {
        let named = match contact(e, input) {
            Ok(c) if c.name.eq_ignore_ascii_case(input) => c,
            Ok(_) | Err(EngineError::UnknownContact { .. }) => return Err(unknown()),
            Err(other) => return Err(other),
        };
        for number in &named.numbers {
            found.extend(e.threads_with(number)?);
        }
    }
    match found.len() {
        0 => Err(unknown()),
        1 => Ok(found[0].id),
        _ => Err(EngineError::AmbiguousThread {
            input: input.to_owned(),
            candidates: found
                .iter()
                .map(|t| format!("{} on {} (id {})", t.display, t.line.label, t.id))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use switchboard_engine::KeyChoice;

    use super::*;

    fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        // Windows refuses key files (their access cannot be checked there): a passphrase.
        let key = if cfg!(unix) {
            KeyChoice::KeyFile(dir.path().join("key"))
        } else {
            KeyChoice::Passphrase("the CLI's tests".into())
        };
        let e = Engine::open(&dir.path().join("data"), key).unwrap();
        (dir, e)
    }

    #[test]
    fn lines_are_found_by_label_number_or_id() {
        let (_d, e) = engine();
        let sales = e.add_line("(415) 555-0100", "Sales", None).unwrap();
        e.add_line("+1 415 555 0101", "Support", Some("#16A34A"))
            .unwrap();
        #[track_caller]
        fn check(e: &Engine, input: &str, expected: Option<&str>) {
            let found = line(e, input).ok().map(|l| l.label);
            assert_eq!(found.as_deref(), expected, "{input}");
        }
        check(&e, "sales", Some("Sales"));
        check(&e, "SUPPORT", Some("Support"));
        check(&e, "415-555-0101", Some("Support"));
        check(&e, &sales.id.to_string(), Some("Sales"));
        check(&e, "Billing", None);
    }

    #[test]
    fn contacts_are_found_by_number_name_or_id() {
        let (_d, e) = engine();
        let ada = e
            .add_contact(
                "Ada Lovelace",
                &["+44 7400 123456".into(), "(415) 555-0142".into()],
                None,
            )
            .unwrap();
        let found = contact(&e, "415 555 0142").unwrap();
        assert_eq!(found.id, ada.contact.id);
        assert_eq!(contact_id(&e, "ada lovelace").unwrap(), ada.contact.id);
        assert_eq!(
            contact_id(&e, &ada.contact.id.to_string()).unwrap(),
            ada.contact.id
        );
        assert_eq!(
            contact(&e, "Zed").unwrap_err().code().as_str(),
            "unknown_contact"
        );
    }
}
