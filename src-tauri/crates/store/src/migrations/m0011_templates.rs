//! Version 11: templates, saved texts with variables ("Hi {first_name}, …"). A name is unique
//! whatever its case: `name_key` is the name lowercased by core's `templates::name_key`
//! (Unicode-aware, which SQLite's `NOCASE` is not), and it carries the UNIQUE constraint.

use rusqlite::Transaction;

use super::Migration;

pub(crate) const VERSION: i64 = 11;

pub(super) const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "templates",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
"#;

#[cfg(test)]
mod tests {
    use super::VERSION;
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn a_name_is_kept_once_whatever_its_case() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, VERSION - 1).unwrap();
        assert_eq!(migrate_to(&mut conn, VERSION).unwrap(), [VERSION]);
        assert_eq!(user_version(&conn).unwrap(), VERSION);
        let insert = |name: &str, key: &str| {
            conn.execute(
                "INSERT INTO templates (name, name_key, text, created_at) VALUES (?1, ?2, 'Hi', 0)",
                [name, key],
            )
        };
        insert("Order ready", "order ready").unwrap();
        assert!(insert("ORDER READY", "order ready").is_err());
        insert("Closed today", "closed today").unwrap();
    }
}
