//! Version 5: a message carries up to 10 media items (Twilio's limit), in and out, of any kind
//! (photos, contact cards, PDFs, audio, video), and a received item may not be downloaded yet.
//! `attachments` (one image per message) becomes `media`, keyed by (message, index); an item's
//! bytes are NULL until fetched, `url` is the carrier's address for it until then. A message
//! whose media are still to be fetched has a row in `media_fetch`, the download queue.
//!
//! `messages.elsewhere` marks an outbound message the account sent from somewhere else (a
//! colleague's desktop, the carrier's console, a server): shown as sent, never sent by us.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 5,
    name: "media",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE media (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 9),
    -- core's MediaKind name ("image", "pdf", …) and the MIME type, once the content is known.
    kind        TEXT,
    mime        TEXT,
    size        INTEGER,
    -- Images only.
    width       INTEGER,
    height      INTEGER,
    bytes       BLOB,
    -- The carrier's URL of an item not downloaded yet; NULL while the carrier has not listed it.
    url         TEXT,
    PRIMARY KEY (message_id, idx)
) STRICT;

INSERT INTO media (message_id, idx, kind, mime, size, width, height, bytes)
    SELECT message_id, 0, 'image', mime, length(bytes), width, height, bytes FROM attachments;
DROP TABLE attachments;

CREATE TABLE media_fetch (
    message_id       INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    -- Set once the carrier's answers say the media will never come (gone, refused): the items
    -- stay listed as unavailable and the user may ask again.
    failed           INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1))
) STRICT;
CREATE INDEX media_fetch_due ON media_fetch(next_attempt_at) WHERE failed = 0;

ALTER TABLE messages ADD COLUMN elsewhere INTEGER NOT NULL DEFAULT 0 CHECK (elsewhere IN (0, 1));
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn an_existing_image_becomes_the_messages_first_media_item() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO lines (number, label, color, created_at) VALUES ('+14155550100', 'Sales', '#112233', 0);
             INSERT INTO threads (line_id, counterpart, created_at, last_message_at, last_message_id, preview)
                 VALUES (1, '+14155550142', 0, 0, 1, 'Hi');
             INSERT INTO messages (thread_id, id, created_at, direction, status, body, has_attachment)
                 VALUES (1, 1, 0, 0, 2, 'Hi', 1);
             INSERT INTO attachments (message_id, mime, width, height, bytes)
                 VALUES (1, 'image/png', 3, 2, x'89504e47');",
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, 5).unwrap(), [5]);
        assert_eq!(user_version(&conn).unwrap(), 5);
        let row: (
            i64,
            String,
            String,
            i64,
            i64,
            i64,
            Vec<u8>,
            Option<String>,
            i64,
        ) = conn
            .query_row(
                "SELECT idx, kind, mime, size, width, height, bytes, url,
                        (SELECT elsewhere FROM messages WHERE id = 1)
                 FROM media WHERE message_id = 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (
                0,
                "image".into(),
                "image/png".into(),
                4,
                3,
                2,
                vec![0x89, 0x50, 0x4e, 0x47],
                None,
                0
            )
        );
    }
}
