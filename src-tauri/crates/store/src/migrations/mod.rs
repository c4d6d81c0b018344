//! Numbered schema migrations, one file per version, tracked by `PRAGMA user_version`.
//!
//! Each migration runs in its own transaction together with the bump of `user_version`, so a
//! crash leaves the database at a whole version. A database newer than this code is refused
//! before anything is written to it.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Result, StoreError};

mod m0001_initial;
mod m0002_message_id_high_water;
mod m0003_line_capabilities;
mod m0004_outbox_not_before;
mod m0005_media;
mod m0006_draft_images;
mod m0007_forgotten_sids;
mod m0008_opt_outs;
mod m0009_scheduled;
mod m0010_triage;
mod m0011_templates;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub up: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

/// Every migration, in order. Versions are 1, 2, 3… with no gaps (a test checks).
pub(crate) const MIGRATIONS: &[Migration] = &[
    m0001_initial::MIGRATION,
    m0002_message_id_high_water::MIGRATION,
    m0003_line_capabilities::MIGRATION,
    m0004_outbox_not_before::MIGRATION,
    m0005_media::MIGRATION,
    m0006_draft_images::MIGRATION,
    m0007_forgotten_sids::MIGRATION,
    m0008_opt_outs::MIGRATION,
    m0009_scheduled::MIGRATION,
    m0010_triage::MIGRATION,
    m0011_templates::MIGRATION,
];

/// The newest schema this code knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses a database written by a newer Switchboard; returns its version otherwise.
pub(crate) fn refuse_the_future(conn: &Connection) -> Result<i64> {
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::FromTheFuture {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; returns the versions applied (none when current).
pub(crate) fn migrate(conn: &mut Connection) -> Result<Vec<i64>> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the migrations up to `version` only: each migration's tests start from the schema
/// its predecessors left.
#[cfg(test)]
pub(crate) fn migrate_to(conn: &mut Connection, version: i64) -> Result<Vec<i64>> {
    let upto = MIGRATIONS
        .iter()
        .take_while(|m| m.version <= version)
        .count();
    migrate_with(conn, &MIGRATIONS[..upto])
}

fn migrate_with(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<i64>> {
    let current = refuse_the_future(conn)?;
    let mut applied = Vec::new();
    if migrations.iter().all(|m| m.version <= current) {
        // The usual case: no write lock taken, so opening never waits for another process.
        return Ok(applied);
    }
    for m in migrations {
        // IMMEDIATE takes the write lock first, so two processes opening the same new database
        // cannot both apply a migration: the second sees the new version and skips.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if user_version(&tx)? >= m.version {
            continue;
        }
        (m.up)(&tx)?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied database migration"
        );
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::empty_db;

    #[test]
    fn versions_are_sequential_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn applies_all_then_nothing() {
        let (_dir, mut conn) = empty_db();
        let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(migrate(&mut conn).unwrap(), all);
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut conn).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let (_dir, mut conn) = empty_db();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(err, StoreError::FromTheFuture { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
            "{err:?}"
        );
        assert_eq!(err.code().as_str(), "from_the_future");
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "nothing was created");
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        fn broken(tx: &Transaction<'_>) -> rusqlite::Result<()> {
            tx.execute_batch("CREATE TABLE half_done (x); SELECT no_such_function();")
        }
        let steps = [
            Migration {
                version: 1,
                name: "initial",
                up: MIGRATIONS[0].up,
            },
            Migration {
                version: 2,
                name: "broken",
                up: broken,
            },
        ];
        let (_dir, mut conn) = empty_db();
        assert!(migrate_with(&mut conn, &steps).is_err());
        assert_eq!(user_version(&conn).unwrap(), 1);
        let half: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(half, 0, "the failed step was rolled back whole");
    }
}
