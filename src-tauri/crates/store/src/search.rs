//! Full-text search over message bodies, newest hits first, and the escaping that makes any
//! text typed by a user a safe FTS5 query.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Direction, LineId, MessageId, ThreadId, E164};

use crate::error::Result;
use crate::rows;
use crate::threads::contact_name_of_counterpart;
use crate::Store;

/// One message matching a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchHit {
    pub message_id: MessageId,
    pub thread_id: ThreadId,
    pub line_id: LineId,
    pub counterpart: E164,
    pub contact_name: Option<String>,
    pub created_at: i64,
    pub direction: Direction,
    /// A window of the body around the matches ("…" where it was cut). Plain text.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched, for highlighting.
    pub highlights: Vec<(usize, usize)>,
}

/// The hits of one thread, in the order the thread's newest hit came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadHits {
    pub thread_id: ThreadId,
    pub hits: Vec<SearchHit>,
}

/// Marks FTS5 puts around matches in a snippet; control characters that typed text lacks.
const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// The newest hits are taken inside FTS5 (`ORDER BY rowid DESC LIMIT`, ids in time order):
/// only those rows are joined and snippeted, whatever the number of matches.
pub(crate) const SEARCH_SQL: &str = concat!(
    "SELECT f.id, m.thread_id, t.line_id, t.counterpart, ",
    contact_name_of_counterpart!(),
    ", m.created_at, m.direction, f.snip
    FROM (SELECT rowid AS id, snippet(message_fts, 0, char(1), char(2), '…', 12) AS snip
          FROM message_fts WHERE message_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2) AS f
    JOIN messages m ON m.id = f.id
    JOIN threads t ON t.id = m.thread_id"
);

impl Store {
    /// Messages containing every word of `query` (case and accents ignored), newest first.
    /// Any text is accepted: FTS5 operators in it are searched as words.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts5_query(query, false) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(1_000) as i64;
        let mut hits: Vec<SearchHit> = self.read(|conn| {
            let rows = conn
                .prepare_cached(SEARCH_SQL)?
                .query_map(params![fts, limit], |r| {
                    let (snippet, highlights) = split_marks(&r.get::<_, String>(7)?);
                    Ok(SearchHit {
                        message_id: MessageId(r.get(0)?),
                        thread_id: ThreadId(r.get(1)?),
                        line_id: LineId(r.get(2)?),
                        counterpart: rows::counterpart(r, 3)?,
                        contact_name: r.get(4)?,
                        created_at: r.get(5)?,
                        direction: rows::direction(r, 6)?,
                        snippet,
                        highlights,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        // At most `limit` rows: ordering them here keeps the plan free of a sort.
        hits.sort_by_key(|h| std::cmp::Reverse(h.message_id));
        Ok(hits)
    }
}

/// Groups hits by thread, keeping newest-first order of threads and of hits in each.
pub fn group_by_thread(hits: Vec<SearchHit>) -> Vec<ThreadHits> {
    let mut groups: Vec<ThreadHits> = Vec::new();
    for hit in hits {
        match groups.iter_mut().find(|g| g.thread_id == hit.thread_id) {
            Some(group) => group.hits.push(hit),
            None => groups.push(ThreadHits {
                thread_id: hit.thread_id,
                hits: vec![hit],
            }),
        }
    }
    groups
}

/// Turns user text into an FTS5 query that means "all these words": each whitespace-separated
/// term is quoted as a string (inner `"` doubled), so `AND`, `NEAR(`, `*`, `:` or `-` are
/// plain text. Control characters separate terms like spaces do: FTS5 cannot take a NUL in a
/// string (it ends the query: "unterminated string"), and no indexed word holds one. Terms
/// with no letter or digit are dropped (they hold no token to search).
/// With `prefix`, every term also matches words it begins ("ada lov" finds "Ada Lovelace").
/// `None` when nothing is left to search for.
pub fn fts5_query(input: &str, prefix: bool) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .map(|t| {
            let quoted = format!("\"{}\"", t.replace('"', "\"\""));
            if prefix {
                quoted + "*"
            } else {
                quoted
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Removes the match marks from a snippet, returning the text and the marked byte ranges.
fn split_marks(marked: &str) -> (String, Vec<(usize, usize)>) {
    let mut text = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut open: Option<usize> = None;
    for c in marked.chars() {
        match c {
            OPEN => open = Some(text.len()),
            CLOSE => {
                if let Some(start) = open.take() {
                    ranges.push((start, text.len()));
                }
            }
            c => text.push(c),
        }
    }
    (text, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted_terms() {
        fn check(input: &str, prefix: bool, expected: Option<&str>) {
            assert_eq!(fts5_query(input, prefix).as_deref(), expected, "{input:?}");
        }
        check("hello", false, Some(r#""hello""#));
        check("  hello   world ", false, Some(r#""hello" "world""#));
        check("ada lov", true, Some(r#""ada"* "lov"*"#));
        check(r#"say "hi""#, false, Some(r#""say" """hi""""#));
        check("AND", false, Some(r#""AND""#));
        check("NEAR(a b)", false, Some(r#""NEAR(a" "b)""#));
        check("col:umn -x", false, Some(r#""col:umn" "-x""#));
        check(r#"" * ( ) - ^"#, false, None);
        check("", false, None);
        check("   ", true, None);
        check("a\0b", false, Some(r#""a" "b""#));
        check("a\u{1}b\u{7f}c\u{9f}", true, Some(r#""a"* "b"* "c"*"#));
        check("\0", false, None);
        check("\u{1}\u{2}\"\0", false, None);
    }

    #[test]
    fn marks_become_ranges() {
        let (text, ranges) = split_marks("…we \u{1}ship\u{2} on \u{1}Monday\u{2}…");
        assert_eq!(text, "…we ship on Monday…");
        let words: Vec<&str> = ranges.iter().map(|&(a, b)| &text[a..b]).collect();
        assert_eq!(words, ["ship", "Monday"]);
    }
}
