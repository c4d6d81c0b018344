//! Reading domain values back from SQL columns. A value that does not parse means the
//! database was damaged or hand-edited: it becomes a conversion error, never a panic.

use rusqlite::types::Type;
use switchboard_core::model::{Direction, MediaKind, MessageStatus, E164};
use switchboard_core::triage::View;

fn bad(col: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        Type::Text,
        format!("not a valid {what}: {value:?}").into(),
    )
}

pub(crate) fn e164(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<E164> {
    let s: String = row.get(col)?;
    E164::from_normalized(&s).ok_or_else(|| bad(col, "E.164 number", &s))
}

/// A thread's counterpart: a phone number, or a short code or sender name that only ever
/// wrote to us (see [`E164::from_sender`]).
pub(crate) fn counterpart(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<E164> {
    let s: String = row.get(col)?;
    E164::from_sender(&s).ok_or_else(|| bad(col, "phone number or sender id", &s))
}

// A message's direction and status are stored as small integers, not names: 0 and 1 take no
// bytes at all in a record and the others one, which is ~20 bytes per message saved on the
// size budget (300 bytes per message, FTS included). These numbers are part of the schema
// (see m0001): never renumber or reuse one.

pub(crate) fn status_code(status: MessageStatus) -> i64 {
    match status {
        MessageStatus::Queued => 0,
        MessageStatus::Sending => 1,
        MessageStatus::Sent => 2,
        MessageStatus::Delivered => 3,
        MessageStatus::Undelivered => 4,
        MessageStatus::Failed => 5,
        MessageStatus::Received => 6,
    }
}

pub(crate) fn status(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<MessageStatus> {
    let code: i64 = row.get(col)?;
    MessageStatus::ALL
        .into_iter()
        .find(|s| status_code(*s) == code)
        .ok_or_else(|| bad_code(col, "message status", code))
}

pub(crate) fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Outbound => 0,
        Direction::Inbound => 1,
    }
}

pub(crate) fn direction(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<Direction> {
    match row.get::<_, i64>(col)? {
        0 => Ok(Direction::Outbound),
        1 => Ok(Direction::Inbound),
        code => Err(bad_code(col, "direction", code)),
    }
}

/// A thread's triage view (m0008): part of the schema, never renumber.
pub(crate) fn view_code(view: View) -> i64 {
    match view {
        View::Inbox => 0,
        View::Snoozed => 1,
        View::Done => 2,
    }
}

pub(crate) fn view(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<View> {
    let code: i64 = row.get(col)?;
    View::ALL
        .into_iter()
        .find(|v| view_code(*v) == code)
        .ok_or_else(|| bad_code(col, "view", code))
}

fn bad_code(col: usize, what: &str, code: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        Type::Integer,
        format!("not a valid {what} code: {code}").into(),
    )
}

/// A media item's kind, `None` while it is not downloaded.
pub(crate) fn media_kind(
    row: &rusqlite::Row<'_>,
    col: usize,
) -> rusqlite::Result<Option<MediaKind>> {
    let Some(s) = row.get::<_, Option<String>>(col)? else {
        return Ok(None);
    };
    MediaKind::parse(&s)
        .map(Some)
        .ok_or_else(|| bad(col, "media kind", &s))
}

/// A carrier message id as stored. Ids of Twilio's shape (two capitals then 32 lowercase hex
/// digits, e.g. `SM0123…`) are stored as an 18-byte blob instead of 34 characters; the id sits
/// in the row and again in its unique index, so this saves ~35 bytes per message on disk (the
/// budget is 300, FTS included). Any other id is stored as text. The mapping is one-to-one
/// (a blob never equals a text) and ids are only looked up, never read back.
pub(crate) struct Sid<'a>(pub &'a str);

impl rusqlite::ToSql for Sid<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        let s = self.0.as_bytes();
        let twilio_shaped = s.len() == 34
            && s[..2].iter().all(u8::is_ascii_uppercase)
            && s[2..]
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !twilio_shaped {
            return Ok(ToSqlOutput::Borrowed(ValueRef::Text(s)));
        }
        let mut blob = vec![0u8; 18];
        blob[..2].copy_from_slice(&s[..2]);
        hex::decode_to_slice(&s[2..], &mut blob[2..])
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(ToSqlOutput::Owned(Value::Blob(blob)))
    }
}

/// The conversation-list preview of a body: whitespace runs folded to one space, at most
/// [`PREVIEW_CHARS`] characters.
pub(crate) fn preview(body: &str, has_image: bool) -> String {
    let mut out = String::new();
    for (i, word) in body.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() >= PREVIEW_CHARS {
            break;
        }
    }
    if out.chars().count() > PREVIEW_CHARS {
        out = out.chars().take(PREVIEW_CHARS - 1).collect();
        out.push('…');
    }
    if out.is_empty() && has_image {
        out.push_str("📷 Image");
    }
    out
}

pub(crate) const PREVIEW_CHARS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_distinct_and_fixed() {
        let codes: Vec<i64> = MessageStatus::ALL.into_iter().map(status_code).collect();
        assert_eq!(
            codes,
            [0, 1, 2, 3, 4, 5, 6],
            "stored codes must never change"
        );
        assert_eq!(direction_code(Direction::Outbound), 0);
        assert_eq!(direction_code(Direction::Inbound), 1);
    }

    #[test]
    fn carrier_ids() {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        use rusqlite::ToSql;
        fn check(sid: &str, blob: bool) {
            let value = Sid(sid);
            match value.to_sql().unwrap() {
                ToSqlOutput::Owned(Value::Blob(b)) => {
                    assert!(blob, "{sid}");
                    assert_eq!(b.len(), 18);
                    assert_eq!(&b[..2], &sid.as_bytes()[..2]);
                }
                ToSqlOutput::Borrowed(ValueRef::Text(t)) => {
                    assert!(!blob, "{sid}");
                    assert_eq!(t, sid.as_bytes());
                }
                _ => panic!("unexpected {sid}"),
            }
        }
        check(&format!("SM{}", "0123456789abcdef".repeat(2)), true);
        check(&format!("MM{}", "f".repeat(32)), true);
        check(&format!("SM{}", "0123456789ABCDEF".repeat(2)), false);
        check(&format!("Sm{}", "0".repeat(32)), false);
        check("SM123", false);
        check("", false);
        check("8f2a-uuid-from-another-carrier", false);
    }

    #[test]
    fn previews() {
        fn check(body: &str, image: bool, expected: &str) {
            assert_eq!(preview(body, image), expected, "{body:?}");
        }
        check("hello", false, "hello");
        check("  two\n\nlines\t here ", false, "two lines here");
        check("", true, "📷 Image");
        check("caption", true, "caption");
        check("", false, "");
        let long = "é".repeat(150);
        let p = preview(&long, false);
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.ends_with('…'));
        check(&"a".repeat(100), false, &"a".repeat(100));
    }
}
