//! Version 3: a line knows what its carrier says of it. `carrier_sid` is the carrier's id for the
//! number (Twilio's `PN…`), to write a renamed label back; `sms` and `mms` are its capabilities;
//! `in_account` is false for a line that is no longer among the connected account's numbers (the
//! sandbox's demo lines once a Twilio account is connected): its conversations stay readable,
//! but nothing is sent from it.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 3,
    name: "line capabilities",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

/// Existing lines came from the sandbox, whose numbers can do everything.
const SQL: &str = r#"
ALTER TABLE lines ADD COLUMN carrier_sid TEXT;
ALTER TABLE lines ADD COLUMN sms INTEGER NOT NULL DEFAULT 1 CHECK (sms IN (0, 1));
ALTER TABLE lines ADD COLUMN mms INTEGER NOT NULL DEFAULT 1 CHECK (mms IN (0, 1));
ALTER TABLE lines ADD COLUMN in_account INTEGER NOT NULL DEFAULT 1 CHECK (in_account IN (0, 1));
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn existing_lines_can_do_everything_and_stay_in_the_account() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute(
            "INSERT INTO lines (number, label, color, created_at) VALUES ('+14155550100', 'Sales', '#112233', 0)",
            [],
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, 3).unwrap(), [3]);
        assert_eq!(user_version(&conn).unwrap(), 3);
        let row: (Option<String>, i64, i64, i64) = conn
            .query_row(
                "SELECT carrier_sid, sms, mms, in_account FROM lines",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (None, 1, 1, 1));
    }
}
