//! Version 10: triage. A thread is in the inbox, done, or snoozed until a time (core's
//! `triage`), kept as a column so that each view's list is read newest first through an
//! index, as the whole list was. A snooze's end brings the thread back on top: `woke_at`
//! keeps when, and the list is ordered by `listed_at`, the later of its last message and that
//! (a generated column, so no write path can forget it). "Marked unread" is an unread count of
//! at least one, as a new message makes it.

use rusqlite::Transaction;

use super::Migration;

pub(crate) const VERSION: i64 = 10;

pub(super) const MIGRATION: Migration = Migration {
    version: VERSION,
    name: "triage",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
-- 0 inbox, 1 snoozed, 2 done (rows::view_code).
ALTER TABLE threads ADD COLUMN view INTEGER NOT NULL DEFAULT 0 CHECK (view IN (0, 1, 2));
-- When the user marked it done or snoozed it.
ALTER TABLE threads ADD COLUMN triaged_at INTEGER;
ALTER TABLE threads ADD COLUMN snoozed_until INTEGER CHECK ((view = 1) = (snoozed_until IS NOT NULL));
ALTER TABLE threads ADD COLUMN woke_at INTEGER;
ALTER TABLE threads ADD COLUMN listed_at INTEGER
    GENERATED ALWAYS AS (max(last_message_at, coalesce(woke_at, last_message_at))) VIRTUAL;

DROP INDEX threads_by_recency;
DROP INDEX threads_by_line_recency;
CREATE INDEX threads_by_view ON threads(view, listed_at DESC, id DESC);
CREATE INDEX threads_by_line_view ON threads(line_id, view, listed_at DESC, id DESC);
-- The snoozes (when the next ends, which are due) are read through threads_by_view: the
-- snoozed threads are a handful, and an index of their own would cost every write.
-- Unread counts per line (the line filter's, the tray's) read only the unread threads.
CREATE INDEX threads_unread ON threads(line_id, unread) WHERE unread > 0;
"#;

#[cfg(test)]
mod tests {
    use super::VERSION;
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn threads_start_in_the_inbox_listed_by_their_last_message() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, VERSION - 1).unwrap();
        conn.execute_batch(
            "INSERT INTO lines (id, number, label, color, created_at) VALUES (1, '+14155550100', 'Sales', '#000', 0);
             INSERT INTO threads (line_id, counterpart, created_at, last_message_at, last_message_id, preview)
                 VALUES (1, '+14155550111', 0, 42, 2, 'hi');",
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, VERSION).unwrap(), [VERSION]);
        assert_eq!(user_version(&conn).unwrap(), VERSION);
        let row: (i64, Option<i64>, i64) = conn
            .query_row(
                "SELECT view, snoozed_until, listed_at FROM threads",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, (0, None, 42));
        conn.execute("UPDATE threads SET woke_at = 50", []).unwrap();
        let listed: i64 = conn
            .query_row("SELECT listed_at FROM threads", [], |r| r.get(0))
            .unwrap();
        assert_eq!(listed, 50, "a snooze's end lists it later");
        // A snoozed thread has its time, and only a snoozed one.
        assert!(conn.execute("UPDATE threads SET view = 1", []).is_err());
        assert!(conn
            .execute("UPDATE threads SET snoozed_until = 9", [])
            .is_err());
        conn.execute("UPDATE threads SET view = 1, snoozed_until = 9", [])
            .unwrap();
        assert!(conn
            .execute("UPDATE threads SET view = 3, snoozed_until = NULL", [])
            .is_err());
    }
}
