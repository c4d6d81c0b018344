//! Version 1: the whole initial schema, shaped for 1M messages in 10k threads (DESIGN.md §4).

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 1,
    name: "initial",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

/// Times are milliseconds since the Unix epoch; booleans are 0/1; phone numbers are E.164 text.
const SQL: &str = r#"
CREATE TABLE lines (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    color       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    default_line  INTEGER REFERENCES lines(id) ON DELETE SET NULL,
    demo          INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
-- The address book is listed by name; the partial index serves ON DELETE SET NULL of a line.
CREATE INDEX contacts_by_name ON contacts(name COLLATE NOCASE, id);
CREATE INDEX contacts_by_default_line ON contacts(default_line) WHERE default_line IS NOT NULL;

-- A number belongs to at most one contact, so the unique index also resolves a thread's
-- counterpart to a name in one lookup.
CREATE TABLE contact_numbers (
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    number      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (contact_id, number)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX contact_numbers_by_number ON contact_numbers(number);

-- last_message_at/_id and preview are denormalised so that the conversation list reads only
-- this table, whatever the size of the history.
CREATE TABLE threads (
    id               INTEGER PRIMARY KEY,
    line_id          INTEGER NOT NULL REFERENCES lines(id),
    counterpart      TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_message_at  INTEGER NOT NULL,
    last_message_id  INTEGER NOT NULL,
    preview          TEXT NOT NULL,
    unread           INTEGER NOT NULL DEFAULT 0 CHECK (unread >= 0),
    UNIQUE (line_id, counterpart)
) STRICT;
CREATE INDEX threads_by_recency ON threads(last_message_at DESC, id DESC);
CREATE INDEX threads_by_line_recency ON threads(line_id, last_message_at DESC, id DESC);

-- Clustered by thread: the newest 100 messages of a thread sit on a few adjacent pages, which
-- matters when every page read is decrypted. Ids are allocated in increasing order by the
-- writer, so they also order messages by arrival (the full-text index relies on it).
CREATE TABLE messages (
    thread_id       INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    id              INTEGER NOT NULL,
    -- 0 outbound, 1 inbound. Small integers cost 0 or 1 byte in a record (see rows.rs).
    direction       INTEGER NOT NULL CHECK (direction IN (0, 1)),
    -- 0 queued, 1 sending, 2 sent, 3 delivered, 4 undelivered, 5 failed, 6 received.
    status          INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
    body            TEXT NOT NULL,
    has_attachment  INTEGER NOT NULL DEFAULT 0 CHECK (has_attachment IN (0, 1)),
    -- The carrier's id: text, or an 18-byte blob for Twilio-shaped ids (see rows.rs, Sid).
    carrier_sid     ANY,
    error_code      TEXT,
    error_message   TEXT,
    updated_at      INTEGER,
    PRIMARY KEY (thread_id, created_at, id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX messages_by_id ON messages(id);
-- Deduplicates inbound sync and finds a message from a delivery status.
CREATE UNIQUE INDEX messages_by_carrier_sid ON messages(carrier_sid) WHERE carrier_sid IS NOT NULL;

CREATE TABLE attachments (
    message_id  INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    mime        TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       BLOB NOT NULL
) STRICT;

-- "composer" or "thread:<id>"; the JSON is the UI's composer state.
CREATE TABLE drafts (
    key         TEXT PRIMARY KEY,
    json        TEXT NOT NULL CHECK (json_valid(json)),
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One job per outgoing message, written in the same transaction as the message. A job leaves
-- the table once the carrier accepted the message; client_id is the idempotency key kept
-- across retries; attempt_started_at bounds the reconciliation of an attempt cut by a crash.
CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    message_id          INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL UNIQUE,
    state               TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    attempt_started_at  INTEGER,
    last_error          TEXT,
    created_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox(next_attempt_at, id) WHERE state = 'queued';

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL CHECK (json_valid(value))
) STRICT, WITHOUT ROWID;

-- External-content FTS: the text lives only in messages; rowid = message id, so
-- `ORDER BY rowid DESC LIMIT n` takes the newest hits inside the index. Hits are ordered by
-- id, never by bm25, so the per-row token counts are not kept (columnsize = 0: ~10 bytes per
-- message). Empty bodies (an image alone) are not indexed.
-- New messages are indexed by the store's code (messages.rs, index_bodies), not by an INSERT
-- trigger: a trigger makes each message INSERT open a statement savepoint, and FTS5 flushes
-- its pending terms at every savepoint (a tiny segment per message; import ran 40% slower).
-- Deletes and body edits are rare, so triggers keep the index in step for those.
CREATE VIRTUAL TABLE message_fts USING fts5(
    body, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', columnsize = 0
);
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.body <> '' BEGIN
    INSERT INTO message_fts(message_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO message_fts(message_fts, rowid, body)
        SELECT 'delete', old.id, old.body WHERE old.body <> '';
    INSERT INTO message_fts(rowid, body) SELECT new.id, new.body WHERE new.body <> '';
END;

-- Contact names, with prefix indexes for search-as-you-type in the recipient field.
CREATE VIRTUAL TABLE contact_fts USING fts5(
    name, content = 'contacts', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contact_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contact_fts(contact_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts BEGIN
    INSERT INTO contact_fts(contact_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO contact_fts(rowid, name) VALUES (new.id, new.name);
END;
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    fn names(conn: &rusqlite::Connection, kind: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = ?1 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts_%' ORDER BY name")
            .unwrap();
        stmt.query_map([kind], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn applies_on_an_empty_database() {
        let (_dir, mut conn) = empty_db();
        assert_eq!(migrate_to(&mut conn, 1).unwrap(), vec![1]);
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(
            names(&conn, "table"),
            [
                "attachments",
                "contact_fts",
                "contact_numbers",
                "contacts",
                "drafts",
                "lines",
                "message_fts",
                "messages",
                "outbox",
                "settings",
                "threads"
            ]
        );
        assert_eq!(
            names(&conn, "index"),
            [
                "contact_numbers_by_number",
                "contacts_by_default_line",
                "contacts_by_name",
                "messages_by_carrier_sid",
                "messages_by_id",
                "outbox_due",
                "threads_by_line_recency",
                "threads_by_recency",
            ]
        );
        let fk_errors: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_errors, 0);
    }

    #[test]
    fn reapplying_is_a_no_op() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 1).unwrap();
        let before: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert!(migrate_to(&mut conn, 1).unwrap().is_empty());
        let after: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn message_index_follows_deletes() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO lines VALUES (1, '+14155550100', 'Sales', '#112233', 0);
             INSERT INTO threads VALUES (1, 1, '+14155550111', 0, 2, 2, '', 0);
             INSERT INTO messages (thread_id, created_at, id, direction, status, body)
                 VALUES (1, 1, 1, 1, 6, 'hello world'),
                        (1, 2, 2, 0, 0, '');
             INSERT INTO message_fts (rowid, body) VALUES (1, 'hello world');",
        )
        .unwrap();
        let hits = |conn: &rusqlite::Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'hello'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(hits(&conn), 1);
        conn.execute("DELETE FROM threads WHERE id = 1", [])
            .unwrap();
        assert_eq!(hits(&conn), 0, "cascaded deletes leave the index");
        conn.execute(
            "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    }
}
