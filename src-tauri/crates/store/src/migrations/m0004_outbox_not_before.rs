//! Version 4: a queued job remembers the end of the carrier's `Retry-After`. The next attempt
//! time alone could not say which part of a wait was ours (a backoff, which connectivity coming
//! back may cut short) and which the carrier's (which nothing may cut short: an earlier retry
//! only earns another 429). NULL when the carrier set no floor, as for every existing job.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 4,
    name: "outbox not before",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
ALTER TABLE outbox ADD COLUMN not_before INTEGER;
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn existing_jobs_have_no_floor() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 3).unwrap();
        conn.execute_batch(
            "INSERT INTO lines (number, label, color, created_at) VALUES ('+14155550100', 'Sales', '#112233', 0);
             INSERT INTO threads (line_id, counterpart, created_at, last_message_at, last_message_id, preview)
                 VALUES (1, '+14155550142', 0, 0, 1, 'Hi');
             INSERT INTO messages (thread_id, id, created_at, direction, status, body)
                 VALUES (1, 1, 0, 0, 0, 'Hi');
             INSERT INTO outbox (message_id, client_id, state, next_attempt_at, created_at)
                 VALUES (1, 'c1', 'queued', 5000, 0);",
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, 4).unwrap(), [4]);
        assert_eq!(user_version(&conn).unwrap(), 4);
        let row: (i64, Option<i64>) = conn
            .query_row("SELECT next_attempt_at, not_before FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(row, (5000, None));
    }
}
