//! The address book: contacts with one or more numbers and an optional default line.
//! A number belongs to at most one contact, so a thread's counterpart resolves to one name.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use switchboard_core::model::{Contact, ContactId, LineId, E164};

use crate::db::now_ms;
use crate::error::{is_unique_violation, Result, StoreError};
use crate::lines::line_exists;
use crate::rows;
use crate::search::fts5_query;
use crate::Store;

impl Store {
    /// Adds a contact. A number already owned by another contact is
    /// [`StoreError::NumberTaken`]; repeated numbers in `numbers` are kept once.
    pub fn add_contact(
        &self,
        name: &str,
        numbers: &[E164],
        default_line: Option<LineId>,
        demo: bool,
    ) -> Result<Contact> {
        let name = check_name(name)?;
        let numbers = check_numbers(numbers)?;
        self.write(|tx| {
            check_line(tx, default_line)?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO contacts (name, default_line, demo, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![name, default_line.map(|l| l.0), demo, now],
            )?;
            let id = ContactId(tx.last_insert_rowid());
            write_numbers(tx, id, &numbers)?;
            Ok(Contact {
                id,
                name: name.to_owned(),
                numbers,
                default_line,
                demo,
            })
        })
    }

    /// Replaces a contact's name, numbers and default line.
    pub fn update_contact(
        &self,
        id: ContactId,
        name: &str,
        numbers: &[E164],
        default_line: Option<LineId>,
    ) -> Result<Contact> {
        let name = check_name(name)?;
        let numbers = check_numbers(numbers)?;
        self.write(|tx| {
            check_line(tx, default_line)?;
            let changed = tx.execute(
                "UPDATE contacts SET name = ?2, default_line = ?3, updated_at = ?4 WHERE id = ?1",
                params![id.0, name, default_line.map(|l| l.0), now_ms()],
            )?;
            if changed == 0 {
                return Err(StoreError::ContactNotFound(id));
            }
            tx.execute("DELETE FROM contact_numbers WHERE contact_id = ?1", [id.0])?;
            write_numbers(tx, id, &numbers)?;
            get_contact(tx, id)
        })
    }

    /// Sets or clears the line that messages to this contact are sent from by default.
    pub fn set_default_line(&self, id: ContactId, line: Option<LineId>) -> Result<()> {
        self.write(|tx| {
            check_line(tx, line)?;
            let changed = tx.execute(
                "UPDATE contacts SET default_line = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, line.map(|l| l.0), now_ms()],
            )?;
            match changed {
                0 => Err(StoreError::ContactNotFound(id)),
                _ => Ok(()),
            }
        })
    }

    /// Removes a contact. Its conversations stay; they show the bare number from then on.
    pub fn remove_contact(&self, id: ContactId) -> Result<()> {
        self.write(
            |tx| match tx.execute("DELETE FROM contacts WHERE id = ?1", [id.0])? {
                0 => Err(StoreError::ContactNotFound(id)),
                _ => Ok(()),
            },
        )
    }

    /// Removes the sandbox's demo contacts; returns how many there were.
    pub fn remove_demo_contacts(&self) -> Result<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM contacts WHERE demo = 1", [])?))
    }

    pub fn get_contact(&self, id: ContactId) -> Result<Contact> {
        self.read(|conn| get_contact(conn, id))
    }

    /// Every contact, by name (case-insensitive).
    pub fn list_contacts(&self) -> Result<Vec<Contact>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.id, c.name, c.default_line, c.demo, n.number
                 FROM contacts c JOIN contact_numbers n ON n.contact_id = c.id
                 ORDER BY c.name COLLATE NOCASE, c.id, n.position",
            )?;
            let rows = stmt.query_map([], |r| Ok((contact_from_row(r)?, rows::e164(r, 4)?)))?;
            let mut contacts: Vec<Contact> = Vec::new();
            for row in rows {
                let (contact, number) = row?;
                match contacts.last_mut() {
                    Some(last) if last.id == contact.id => last.numbers.push(number),
                    _ => contacts.push(Contact {
                        numbers: vec![number],
                        ..contact
                    }),
                }
            }
            Ok(contacts)
        })
    }

    pub fn contact_by_number(&self, number: &E164) -> Result<Option<Contact>> {
        self.read(|conn| {
            let id: Option<i64> = conn
                .prepare_cached("SELECT contact_id FROM contact_numbers WHERE number = ?1")?
                .query_row([number.as_str()], |r| r.get(0))
                .optional()?;
            id.map(|id| get_contact(conn, ContactId(id))).transpose()
        })
    }

    /// Contacts whose name has words starting with the query's words (any order, accents
    /// ignored), then contacts one of whose numbers contains the query's digits. For the
    /// recipient field, as the user types.
    pub fn search_contacts(&self, query: &str, limit: usize) -> Result<Vec<Contact>> {
        let limit = limit.min(1_000);
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            let mut ids: Vec<i64> = Vec::new();
            if let Some(q) = fts5_query(query, true) {
                let mut stmt = conn.prepare_cached(
                    "SELECT c.id FROM contact_fts JOIN contacts c ON c.id = contact_fts.rowid
                     WHERE contact_fts MATCH ?1
                     ORDER BY c.name COLLATE NOCASE, c.id LIMIT ?2",
                )?;
                for id in stmt.query_map(params![q, limit as i64], |r| r.get(0))? {
                    ids.push(id?);
                }
            }
            let digits: String = query.chars().filter(char::is_ascii_digit).collect();
            if ids.len() < limit && !digits.is_empty() {
                // Digits only, so the pattern holds no LIKE wildcard from the user.
                let mut stmt = conn.prepare_cached(
                    "SELECT DISTINCT n.contact_id FROM contact_numbers n
                     JOIN contacts c ON c.id = n.contact_id
                     WHERE n.number LIKE '%' || ?1 || '%'
                     ORDER BY c.name COLLATE NOCASE, c.id LIMIT ?2",
                )?;
                for id in stmt.query_map(params![digits, limit as i64], |r| r.get(0))? {
                    let id = id?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            ids.truncate(limit);
            ids.into_iter()
                .map(|id| get_contact(conn, ContactId(id)))
                .collect()
        })
    }
}

pub(crate) fn get_contact(conn: &Connection, id: ContactId) -> Result<Contact> {
    let contact = conn
        .prepare_cached("SELECT id, name, default_line, demo FROM contacts WHERE id = ?1")?
        .query_row([id.0], contact_from_row)
        .optional()?
        .ok_or(StoreError::ContactNotFound(id))?;
    let mut stmt = conn.prepare_cached(
        "SELECT number FROM contact_numbers WHERE contact_id = ?1 ORDER BY position",
    )?;
    let numbers = stmt
        .query_map([id.0], |r| rows::e164(r, 0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Contact { numbers, ..contact })
}

/// A contact without its numbers (filled in by the caller).
fn contact_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: ContactId(r.get(0)?),
        name: r.get(1)?,
        default_line: r.get::<_, Option<i64>>(2)?.map(LineId),
        demo: r.get(3)?,
        numbers: Vec::new(),
    })
}

fn write_numbers(tx: &Transaction<'_>, id: ContactId, numbers: &[E164]) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO contact_numbers (contact_id, number, position) VALUES (?1, ?2, ?3)",
    )?;
    for (position, number) in numbers.iter().enumerate() {
        match insert.execute(params![id.0, number.as_str(), position as i64]) {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                let owner: i64 = tx.query_row(
                    "SELECT contact_id FROM contact_numbers WHERE number = ?1",
                    [number.as_str()],
                    |r| r.get(0),
                )?;
                return Err(StoreError::NumberTaken {
                    number: number.clone(),
                    contact: ContactId(owner),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn check_line(conn: &Connection, line: Option<LineId>) -> Result<()> {
    match line {
        Some(line) if !line_exists(conn, line)? => Err(StoreError::LineNotFound(line)),
        _ => Ok(()),
    }
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::InvalidInput {
            what: "contact name",
            why: "it is empty",
        });
    }
    Ok(name)
}

fn check_numbers(numbers: &[E164]) -> Result<Vec<E164>> {
    let mut unique: Vec<E164> = Vec::with_capacity(numbers.len());
    for n in numbers {
        if !unique.contains(n) {
            unique.push(n.clone());
        }
    }
    if unique.is_empty() {
        return Err(StoreError::InvalidInput {
            what: "contact numbers",
            why: "a contact needs at least one number",
        });
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{new_store, num};

    #[test]
    fn add_get_update_remove() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#ff0000")
            .unwrap();
        let ada = store
            .add_contact(
                "Ada Lovelace",
                &[
                    num("+447700900123"),
                    num("+447700900124"),
                    num("+447700900123"),
                ],
                Some(sales.id),
                false,
            )
            .unwrap();
        assert_eq!(ada.numbers.len(), 2, "repeated numbers are kept once");
        assert_eq!(store.get_contact(ada.id).unwrap(), ada);
        assert_eq!(
            store.contact_by_number(&num("+447700900124")).unwrap(),
            Some(ada.clone())
        );

        let updated = store
            .update_contact(ada.id, "Ada King", &[num("+447700900125")], None)
            .unwrap();
        assert_eq!(updated.name, "Ada King");
        assert_eq!(updated.numbers, [num("+447700900125")]);
        assert_eq!(
            store.contact_by_number(&num("+447700900123")).unwrap(),
            None
        );

        store.set_default_line(ada.id, Some(sales.id)).unwrap();
        assert_eq!(
            store.get_contact(ada.id).unwrap().default_line,
            Some(sales.id)
        );

        store.remove_contact(ada.id).unwrap();
        assert_eq!(
            store.get_contact(ada.id).unwrap_err().code().as_str(),
            "contact_not_found"
        );
        assert!(store.list_contacts().unwrap().is_empty());
    }

    #[test]
    fn a_number_belongs_to_one_contact() {
        let (_dir, store) = new_store();
        let ada = store
            .add_contact("Ada", &[num("+447700900123")], None, false)
            .unwrap();
        let err = store
            .add_contact(
                "Bob",
                &[num("+447700900999"), num("+447700900123")],
                None,
                false,
            )
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NumberTaken { contact, .. } if *contact == ada.id),
            "{err:?}"
        );
        assert_eq!(
            store.list_contacts().unwrap().len(),
            1,
            "Bob was not half-added"
        );
        assert_eq!(
            store.contact_by_number(&num("+447700900999")).unwrap(),
            None
        );
    }

    #[test]
    fn refusals() {
        let (_dir, store) = new_store();
        let check =
            |r: Result<Contact>, code: &str| assert_eq!(r.unwrap_err().code().as_str(), code);
        check(
            store.add_contact(" ", &[num("+447700900123")], None, false),
            "invalid_input",
        );
        check(store.add_contact("Ada", &[], None, false), "invalid_input");
        check(
            store.add_contact("Ada", &[num("+447700900123")], Some(LineId(9)), false),
            "line_not_found",
        );
        check(
            store.update_contact(ContactId(9), "Ada", &[num("+447700900123")], None),
            "contact_not_found",
        );
    }

    #[test]
    fn removing_a_line_clears_it_as_default() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), "Sales", "#ff0000")
            .unwrap();
        let ada = store
            .add_contact("Ada", &[num("+447700900123")], Some(sales.id), false)
            .unwrap();
        store.remove_line(sales.id).unwrap();
        assert_eq!(store.get_contact(ada.id).unwrap().default_line, None);
    }

    #[test]
    fn list_is_by_name_with_numbers_in_order() {
        let (_dir, store) = new_store();
        store
            .add_contact(
                "bob",
                &[num("+447700900002"), num("+447700900001")],
                None,
                false,
            )
            .unwrap();
        store
            .add_contact("Ada", &[num("+447700900003")], None, true)
            .unwrap();
        let list = store.list_contacts().unwrap();
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Ada", "bob"]);
        assert_eq!(
            list[1].numbers,
            [num("+447700900002"), num("+447700900001")]
        );
        assert_eq!(store.remove_demo_contacts().unwrap(), 1);
        assert_eq!(store.list_contacts().unwrap().len(), 1);
    }

    #[test]
    fn search_by_name_prefix_and_digits() {
        let (_dir, store) = new_store();
        store
            .add_contact("Ada Lovelace", &[num("+447700900123")], None, false)
            .unwrap();
        store
            .add_contact("Zoë Adams", &[num("+14155550199")], None, false)
            .unwrap();
        store
            .add_contact("Charles Babbage", &[num("+447700900456")], None, false)
            .unwrap();
        let check = |query: &str, expected: &[&str]| {
            let found = store.search_contacts(query, 10).unwrap();
            let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, expected, "{query:?}");
        };
        check("ad", &["Ada Lovelace", "Zoë Adams"]);
        check("lov ad", &["Ada Lovelace"]);
        check("zoe", &["Zoë Adams"]);
        check("0456", &["Charles Babbage"]);
        check("+44 7700", &["Ada Lovelace", "Charles Babbage"]);
        check("5550", &["Zoë Adams"]);
        check("nobody", &[]);
        check("", &[]);
        for hostile in [
            "\"",
            "*",
            "AND",
            "NEAR(",
            "a\"b",
            "(",
            "-",
            "ada OR",
            "a\0b",
            "\0",
            "\u{1}",
            "\"\0",
            "ada\"\0",
            "\u{7f}",
            "\u{2}ad\u{1}",
        ] {
            store
                .search_contacts(hostile, 10)
                .unwrap_or_else(|e| panic!("{hostile:?}: {e}"));
        }
        check("ada\0lov", &["Ada Lovelace"]);
        assert_eq!(store.search_contacts("a", 1).unwrap().len(), 1);
    }
}
