//! Version 7: the carrier ids of messages the user removed. A message the carrier reported
//! failed (after it accepted it) has a carrier id; once the user deletes it, or retries it as a
//! new message, the row goes, and without its id the sync would list it again as a message
//! sent from elsewhere and bring it back. Stored as `messages.carrier_sid` is.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 7,
    name: "forgotten sids",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE forgotten_sids (
    -- An 18-byte blob for an id of Twilio's shape, else text (`rows::Sid`).
    carrier_sid  ANY PRIMARY KEY NOT NULL
) STRICT, WITHOUT ROWID;
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn a_forgotten_id_is_kept_once() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 6).unwrap();
        assert_eq!(migrate_to(&mut conn, 7).unwrap(), [7]);
        assert_eq!(user_version(&conn).unwrap(), 7);
        for sid in ["x'0102'", "'MMtext'"] {
            let insert = format!("INSERT INTO forgotten_sids VALUES ({sid})");
            conn.execute(&insert, []).unwrap();
            assert!(conn.execute(&insert, []).is_err(), "{sid} kept twice");
        }
    }
}
