//! Version 9: scheduled messages. A message the user asked to send later is not yet a message
//! of its thread nor a job of the outbox (which sends in order per thread, and would hold the
//! thread's other messages behind it): it waits here, with its images, until it is due, and is
//! then made a message and a job in the transaction that removes it (`scheduled`), so a crash
//! leaves it either waiting or queued, never both, never neither. One late by more than the
//! grace (the computer was off or asleep) is `held` until the user confirms it.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 9,
    name: "scheduled messages",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE scheduled (
    id           INTEGER PRIMARY KEY,
    line_id      INTEGER NOT NULL REFERENCES lines(id),
    counterpart  TEXT NOT NULL,
    body         TEXT NOT NULL,
    -- The outbox job's idempotency key once released: chosen now, so that it never changes.
    client_id    TEXT NOT NULL UNIQUE,
    send_at      INTEGER NOT NULL,
    -- 1 once found late by more than the grace: waits for the user's confirmation.
    held         INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX scheduled_due ON scheduled(send_at, id) WHERE held = 0;
CREATE INDEX scheduled_by_thread ON scheduled(line_id, counterpart, send_at);

CREATE TABLE scheduled_images (
    scheduled_id  INTEGER NOT NULL REFERENCES scheduled(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    bytes         BLOB NOT NULL,
    PRIMARY KEY (scheduled_id, idx)
) STRICT, WITHOUT ROWID;
"#;

#[cfg(test)]
mod tests {
    use super::MIGRATION;
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn a_scheduled_message_takes_its_images_with_it() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, MIGRATION.version - 1).unwrap();
        assert_eq!(
            migrate_to(&mut conn, MIGRATION.version).unwrap(),
            [MIGRATION.version]
        );
        assert_eq!(user_version(&conn).unwrap(), MIGRATION.version);
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO lines (id, number, label, color, created_at)
                 VALUES (1, '+14155550100', 'Sales', '#336699', 0);
             INSERT INTO scheduled (id, line_id, counterpart, body, client_id, send_at, created_at)
                 VALUES (1, 1, '+14155550123', 'Hi', 'c1', 5, 0);
             INSERT INTO scheduled_images VALUES (1, 0, 'png', 1, 1, x'00');",
        )
        .unwrap();
        assert!(
            conn.execute(
                "INSERT INTO scheduled (line_id, counterpart, body, client_id, send_at, created_at)
                 VALUES (1, '+14155550124', 'Hi', 'c1', 5, 0)",
                [],
            )
            .is_err(),
            "a client id once"
        );
        conn.execute("DELETE FROM scheduled WHERE id = 1", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM scheduled_images", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
