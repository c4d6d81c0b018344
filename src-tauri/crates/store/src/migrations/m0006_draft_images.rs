//! Version 6: a draft's images are kept apart from its JSON, one row per image in order, so
//! that saving what was typed rewrites a few hundred bytes and not every attached photo. The
//! set is written only when it changes (an image added or removed), replaced whole, and removed
//! with the draft. Keyed like `drafts` (`composer`, `thread:<id>`), without a foreign key: the
//! images may be saved a moment before the draft's JSON first is.

use rusqlite::Transaction;

use super::Migration;

pub(super) const MIGRATION: Migration = Migration {
    version: 6,
    name: "draft images",
    up,
};

fn up(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(SQL)
}

const SQL: &str = r#"
CREATE TABLE draft_images (
    key      TEXT NOT NULL,
    idx      INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 9),
    -- The image's MIME type: image/jpeg, image/png or image/gif.
    mime     TEXT NOT NULL,
    width    INTEGER NOT NULL,
    height   INTEGER NOT NULL,
    -- 1 when the original was over the line's budget and this is the scaled version.
    resized  INTEGER NOT NULL CHECK (resized IN (0, 1)),
    bytes    BLOB NOT NULL,
    PRIMARY KEY (key, idx)
) STRICT;
"#;

#[cfg(test)]
mod tests {
    use crate::migrations::{migrate_to, user_version};
    use crate::testutil::empty_db;

    #[test]
    fn existing_drafts_are_kept_and_have_no_images() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 5).unwrap();
        conn.execute_batch(
            r#"INSERT INTO drafts (key, json, updated_at) VALUES ('composer', '{"body":"Hi"}', 7);"#,
        )
        .unwrap();
        assert_eq!(migrate_to(&mut conn, 6).unwrap(), [6]);
        assert_eq!(user_version(&conn).unwrap(), 6);
        let json: String = conn
            .query_row("SELECT json FROM drafts WHERE key = 'composer'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(json, r#"{"body":"Hi"}"#);
        let images: i64 = conn
            .query_row("SELECT count(*) FROM draft_images", [], |r| r.get(0))
            .unwrap();
        assert_eq!(images, 0);
    }

    #[test]
    fn an_eleventh_image_is_refused_by_the_schema() {
        let (_dir, mut conn) = empty_db();
        migrate_to(&mut conn, 6).unwrap();
        let insert = |idx: i64| {
            conn.execute(
                "INSERT INTO draft_images (key, idx, mime, width, height, resized, bytes)
                 VALUES ('composer', ?1, 'image/png', 1, 1, 0, x'00')",
                [idx],
            )
        };
        assert!(insert(9).is_ok());
        assert!(insert(10).is_err());
    }
}
