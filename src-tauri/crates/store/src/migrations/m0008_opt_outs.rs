//! Version 8: opt-outs. A person who texts STOP to a line is blocked from it by the carrier
//! until they text START (`switchboard_core::optout`); Switchboard keeps the last change per
//! (scope, number) — out or back in, with the date of the message that made it — so that a
//! STOP listed late never undoes a START sent after it. The scope is a line (`line:7`) or a
//! Messaging Service (`service:MG…`), and a line remembers the Messaging Service its messages
//! last named.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 8,
    name: "opt-outs",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE opt_outs (
    scope       TEXT NOT NULL,
    number      TEXT NOT NULL,
    opted_out   INTEGER NOT NULL CHECK (opted_out IN (0, 1)),
    -- The date of the message (or of the carrier's refusal) that made the change, in ms.
    changed_at  INTEGER NOT NULL,
    -- 'keyword': the person texted it; 'carrier': a send was refused as opted out (21610).
    source      TEXT NOT NULL CHECK (source IN ('keyword', 'carrier')),
    PRIMARY KEY (number, scope)
) STRICT, WITHOUT ROWID;

ALTER TABLE lines ADD COLUMN messaging_service TEXT;
"#;

#[cfg(test)]
mod tests {
    use super::MIGRATION;
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn one_state_per_scope_and_number() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, MIGRATION.version - 1).unwrap();
        assert_eq!(
            migrate_to(&mut conn, MIGRATION.version).unwrap(),
            [MIGRATION.version]
        );
        assert_eq!(user_version(&conn).unwrap(), MIGRATION.version);
        let insert = "INSERT INTO opt_outs VALUES ('line:1', '+14155550123', 1, 5, 'keyword')";
        conn.execute(insert, []).unwrap();
        assert!(conn.execute(insert, []).is_err(), "kept twice");
        conn.execute(
            "INSERT INTO opt_outs VALUES ('service:MG1', '+14155550123', 0, 6, 'carrier')",
            [],
        )
        .unwrap();
        let bad = "INSERT INTO opt_outs VALUES ('line:2', '+14155550123', 1, 5, 'guess')";
        assert!(conn.execute(bad, []).is_err(), "an unknown source");
        conn.execute("UPDATE lines SET messaging_service = 'MG1'", [])
            .unwrap();
    }
}
