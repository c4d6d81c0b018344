//! Version 2: message ids never go back. Until now the next id was `max(id) + 1`, so deleting
//! the newest message let its id be handed out again, to a different message; anything that
//! remembered the old id (a notification, a search hit, the UI's selection, the full-text
//! index's rowid order) then pointed at the wrong message. The highest id ever allocated is
//! now kept in a one-row table and only ever raised (messages.rs, `allocate_message_ids`).

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 2,
    name: "message id high-water mark",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

/// The mark starts at the highest id in use: ids deleted before this version cannot be told
/// apart from ids never used, so those few may still be reused once, after which none is.
const SQL: &str = r#"
CREATE TABLE message_id_high_water (
    only     INTEGER PRIMARY KEY CHECK (only = 1),
    last_id  INTEGER NOT NULL CHECK (last_id >= 0)
) STRICT;
INSERT INTO message_id_high_water (only, last_id)
    SELECT 1, coalesce(max(id), 0) FROM messages;
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    fn mark(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("SELECT last_id FROM message_id_high_water", [], |r| {
            r.get(0)
        })
        .unwrap()
    }

    #[test]
    fn starts_at_zero_on_an_empty_database() {
        let (_dir, mut conn) = empty_db();
        assert_eq!(migrate_to(&mut conn, 2).unwrap(), vec![1, 2]);
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert_eq!(mark(&conn), 0);
    }

    #[test]
    fn starts_at_the_highest_id_of_an_existing_database() {
        let (_dir, mut conn) = empty_db();
        assert_eq!(migrate_to(&mut conn, 1).unwrap(), vec![1]);
        conn.execute_batch(
            "INSERT INTO lines VALUES (1, '+14155550100', 'Sales', '#112233', 0);
             INSERT INTO threads VALUES (1, 1, '+14155550111', 0, 2, 41, '', 0);
             INSERT INTO messages (thread_id, created_at, id, direction, status, body)
                 VALUES (1, 1, 7, 1, 6, 'a'), (1, 2, 41, 0, 0, 'b');",
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, 2).unwrap(), vec![2]);
        assert_eq!(mark(&conn), 41);
        // One row only, and never below zero.
        assert!(conn
            .execute("INSERT INTO message_id_high_water VALUES (2, 50)", [])
            .is_err());
        assert!(conn
            .execute("UPDATE message_id_high_water SET last_id = -1", [])
            .is_err());
        assert!(migrate_to(&mut conn, 2).unwrap().is_empty());
        assert_eq!(mark(&conn), 41);
    }
}
