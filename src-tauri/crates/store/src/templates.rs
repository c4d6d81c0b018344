//! Templates: saved texts with variables, listed by name. A name is unique whatever its case
//! (`name_key`, migration 8); adding a name that exists is refused as
//! [`StoreError::TemplateExists`], never a silent replacement of someone's text: to change a
//! template, remove it and add it again. The texts are checked by core's `templates` rules
//! before they are written, so a stored template always parses.

use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::model::TemplateId;
use switchboard_core::templates::{self, SavedTemplate};

use crate::db::now_ms;
use crate::error::{is_unique_violation, Result, StoreError};
use crate::Store;

impl Store {
    /// Saves a template under `name` (trimmed, 1–60 characters); its text must parse.
    pub fn add_template(&self, name: &str, text: &str) -> Result<SavedTemplate> {
        let name = templates::check_name(name).map_err(StoreError::Template)?;
        templates::check_text(text).map_err(StoreError::Template)?;
        let key = templates::name_key(&name);
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO templates (name, name_key, text, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, key, text, now_ms()],
            );
            match inserted {
                Ok(_) => Ok(SavedTemplate {
                    id: TemplateId(tx.last_insert_rowid()),
                    name: name.clone(),
                    text: text.to_owned(),
                }),
                Err(e) if is_unique_violation(&e) => {
                    let existing: String = tx.query_row(
                        "SELECT name FROM templates WHERE name_key = ?1",
                        [&key],
                        |r| r.get(0),
                    )?;
                    Err(StoreError::TemplateExists { name: existing })
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Every template, by name whatever the case.
    pub fn list_templates(&self) -> Result<Vec<SavedTemplate>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, name, text FROM templates ORDER BY name_key, id")?;
            let rows = stmt.query_map([], template_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn get_template(&self, id: TemplateId) -> Result<SavedTemplate> {
        self.read(|conn| {
            query_one(
                conn,
                "SELECT id, name, text FROM templates WHERE id = ?1",
                id.0,
            )?
            .ok_or(StoreError::TemplateNotFound(id))
        })
    }

    /// The template called `name`, in any case; `None` when there is none.
    pub fn template_named(&self, name: &str) -> Result<Option<SavedTemplate>> {
        let key = templates::name_key(name);
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT id, name, text FROM templates WHERE name_key = ?1")?
                .query_row([key], template_from_row)
                .optional()?)
        })
    }

    pub fn remove_template(&self, id: TemplateId) -> Result<()> {
        self.write(
            |tx| match tx.execute("DELETE FROM templates WHERE id = ?1", [id.0])? {
                0 => Err(StoreError::TemplateNotFound(id)),
                _ => Ok(()),
            },
        )
    }
}

fn query_one(conn: &Connection, sql: &str, id: i64) -> Result<Option<SavedTemplate>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], template_from_row)
        .optional()?)
}

fn template_from_row(r: &Row<'_>) -> rusqlite::Result<SavedTemplate> {
    Ok(SavedTemplate {
        id: TemplateId(r.get(0)?),
        name: r.get(1)?,
        text: r.get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{new_store, test_key};

    fn names(store: &Store) -> Vec<String> {
        store
            .list_templates()
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect()
    }

    #[test]
    fn templates_are_listed_by_name_and_found_in_any_case() {
        let (_dir, store) = new_store();
        let order = store
            .add_template(
                " Order ready ",
                "Hi {first_name}, your order is ready at {line}",
            )
            .unwrap();
        assert_eq!(order.name, "Order ready");
        store
            .add_template("closed today", "We are closed today")
            .unwrap();
        store
            .add_template("Address", "{name}, we are at 5 Main St")
            .unwrap();
        assert_eq!(names(&store), ["Address", "closed today", "Order ready"]);

        assert_eq!(
            store.template_named("ORDER READY").unwrap(),
            Some(order.clone())
        );
        assert_eq!(store.template_named("Order").unwrap(), None);
        assert_eq!(store.get_template(order.id).unwrap(), order);
    }

    #[test]
    fn a_name_taken_in_any_case_is_refused_and_the_first_text_kept() {
        let (_dir, store) = new_store();
        store.add_template("Order ready", "first text").unwrap();
        let err = store
            .add_template("ORDER READY", "second text")
            .unwrap_err();
        assert_eq!(err.code().as_str(), "template_exists");
        assert_eq!(
            err.to_string(),
            "a template called \"Order ready\" already exists"
        );
        let kept = store.template_named("order ready").unwrap().unwrap();
        assert_eq!(kept.text, "first text");
        assert_eq!(names(&store).len(), 1);
    }

    #[test]
    fn invalid_names_and_texts_are_refused_before_anything_is_written() {
        let (_dir, store) = new_store();
        let check = |name: &str, text: &str| {
            let err = store.add_template(name, text).unwrap_err();
            assert_eq!(err.code().as_str(), "template_invalid", "{name:?} {text:?}");
        };
        check("", "Hi");
        check(&"n".repeat(61), "Hi");
        check("Hello", "  ");
        check("Hello", "Hi {firstname}");
        check("Hello", "Hi {first_name");
        check("Hello", &"x".repeat(1601));
        assert!(names(&store).is_empty());
    }

    #[test]
    fn a_removed_template_is_gone_and_removing_it_again_is_not_found() {
        let (_dir, store) = new_store();
        let t = store.add_template("Order ready", "Hi {name}").unwrap();
        store.remove_template(t.id).unwrap();
        assert!(names(&store).is_empty());
        let again = store.remove_template(t.id).unwrap_err();
        assert_eq!(again.code().as_str(), "template_not_found");
        assert_eq!(
            store.get_template(t.id).unwrap_err().code().as_str(),
            "template_not_found"
        );
        store
            .add_template("order READY", "the name is free again")
            .unwrap();
    }

    #[test]
    fn templates_survive_reopening() {
        let (dir, store) = new_store();
        let path = store.path().to_owned();
        store
            .add_template("Order ready", "Hi {first_name}")
            .unwrap();
        store.add_template("Braces", "{{literal}}").unwrap();
        drop(store);
        let store = Store::open(&path, test_key()).unwrap();
        let kept: Vec<(String, String)> = store
            .list_templates()
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.text))
            .collect();
        assert_eq!(
            kept,
            [
                ("Braces".to_owned(), "{{literal}}".to_owned()),
                ("Order ready".to_owned(), "Hi {first_name}".to_owned()),
            ]
        );
        drop(dir);
    }
}
