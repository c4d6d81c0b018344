//! The account's lines (business numbers): add, list, rename, recolour, remove.

use rusqlite::{params, Connection, OptionalExtension};
use switchboard_core::model::{Line, LineId, E164};

use crate::db::now_ms;
use crate::error::{is_unique_violation, Result, StoreError};
use crate::rows;
use crate::Store;

impl Store {
    /// Adds a line. A number that is already a line is [`StoreError::LineNumberTaken`].
    pub fn add_line(&self, number: &E164, label: &str, color: &str) -> Result<Line> {
        let label = check_label(label)?;
        check_color(color)?;
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO lines (number, label, color, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![number.as_str(), label, color, now_ms()],
            );
            match inserted {
                Err(e) if is_unique_violation(&e) => Err(StoreError::LineNumberTaken {
                    number: number.clone(),
                }),
                Err(e) => Err(e.into()),
                Ok(_) => get_line(tx, LineId(tx.last_insert_rowid())),
            }
        })
    }

    /// Every line, in the order they were added.
    pub fn list_lines(&self) -> Result<Vec<Line>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {LINE_COLUMNS} FROM lines ORDER BY id"))?;
            let lines = stmt
                .query_map([], line_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(lines)
        })
    }

    pub fn get_line(&self, id: LineId) -> Result<Line> {
        self.read(|conn| get_line(conn, id))
    }

    pub fn rename_line(&self, id: LineId, label: &str) -> Result<()> {
        let label = check_label(label)?;
        self.update_line(id, "UPDATE lines SET label = ?2 WHERE id = ?1", label)
    }

    /// The carrier's id for a line's number (Twilio's `PN…`), if the carrier gave one.
    pub fn line_carrier_sid(&self, id: LineId) -> Result<Option<String>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT carrier_sid FROM lines WHERE id = ?1")?
                .query_row([id.0], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::LineNotFound(id))
        })
    }

    /// Makes the lines match the connected account's numbers, in one transaction: a number
    /// already a line takes the carrier's label, id and capabilities; a new one becomes a line
    /// coloured `color(index)`; a line whose number is not listed leaves the account (it keeps
    /// its conversations). Returns how many lines were added and how many left.
    pub fn adopt_lines(
        &self,
        listed: &[AccountLine],
        color: &dyn Fn(usize) -> String,
    ) -> Result<LinesAdopted> {
        for line in listed {
            check_label(&line.label)?;
        }
        self.write(|tx| {
            let mut adopted = LinesAdopted::default();
            let count: i64 = tx.query_row("SELECT count(*) FROM lines", [], |r| r.get(0))?;
            for line in listed {
                let label = check_label(&line.label)?;
                let updated = tx.execute(
                    "UPDATE lines SET label = ?2, carrier_sid = ?3, sms = ?4, mms = ?5, in_account = 1 \
                     WHERE number = ?1",
                    params![line.number.as_str(), label, line.carrier_sid, line.sms, line.mms],
                )?;
                if updated == 0 {
                    let color = color(count as usize + adopted.added);
                    check_color(&color)?;
                    tx.execute(
                        "INSERT INTO lines (number, label, color, created_at, carrier_sid, sms, mms, in_account) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                        params![line.number.as_str(), label, color, now_ms(), line.carrier_sid, line.sms, line.mms],
                    )?;
                    adopted.added += 1;
                }
            }
            let numbers: Vec<&str> = listed.iter().map(|l| l.number.as_str()).collect();
            let mut stmt = tx.prepare_cached("SELECT id, number FROM lines WHERE in_account = 1")?;
            let current: Vec<(i64, String)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, number) in current {
                if !numbers.contains(&number.as_str()) {
                    tx.execute("UPDATE lines SET in_account = 0 WHERE id = ?1", [id])?;
                    adopted.left += 1;
                }
            }
            Ok(adopted)
        })
    }

    pub fn set_line_color(&self, id: LineId, color: &str) -> Result<()> {
        check_color(color)?;
        self.update_line(id, "UPDATE lines SET color = ?2 WHERE id = ?1", color)
    }

    fn update_line(&self, id: LineId, sql: &str, value: &str) -> Result<()> {
        self.write(|tx| match tx.execute(sql, params![id.0, value])? {
            0 => Err(StoreError::LineNotFound(id)),
            _ => Ok(()),
        })
    }

    /// Removes a line that has no conversations. A line with conversations is refused with
    /// [`StoreError::LineHasThreads`]: removing it would silently delete their history, and a
    /// line released at the carrier should still show what was said on it. Contacts whose
    /// default line it was fall back to having none.
    pub fn remove_line(&self, id: LineId) -> Result<()> {
        self.write(|tx| {
            let threads: i64 = tx.query_row(
                "SELECT count(*) FROM threads WHERE line_id = ?1",
                [id.0],
                |r| r.get(0),
            )?;
            if threads > 0 {
                return Err(StoreError::LineHasThreads { line: id, threads });
            }
            match tx.execute("DELETE FROM lines WHERE id = ?1", [id.0])? {
                0 => Err(StoreError::LineNotFound(id)),
                _ => Ok(()),
            }
        })
    }
}

/// One of the connected account's numbers, for [`Store::adopt_lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLine {
    pub number: E164,
    pub label: String,
    pub carrier_sid: Option<String>,
    pub sms: bool,
    pub mms: bool,
}

/// What [`Store::adopt_lines`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinesAdopted {
    pub added: usize,
    pub left: usize,
}

pub(crate) fn get_line(conn: &Connection, id: LineId) -> Result<Line> {
    conn.prepare_cached(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE id = ?1"))?
        .query_row([id.0], line_from_row)
        .optional()?
        .ok_or(StoreError::LineNotFound(id))
}

pub(crate) fn line_exists(conn: &Connection, id: LineId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM lines WHERE id = ?1")?
        .exists([id.0])?)
}

const LINE_COLUMNS: &str = "id, number, label, color, sms, mms, in_account";

fn line_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Line> {
    let number = rows::e164(r, 1)?;
    Ok(Line {
        id: LineId(r.get(0)?),
        number_display: switchboard_core::phone::format_international(&number),
        number,
        label: r.get(2)?,
        color: r.get(3)?,
        sms: r.get(4)?,
        mms: r.get(5)?,
        in_account: r.get(6)?,
    })
}

fn check_label(label: &str) -> Result<&str> {
    let label = label.trim();
    if label.is_empty() {
        return Err(StoreError::InvalidInput {
            what: "line label",
            why: "it is empty",
        });
    }
    Ok(label)
}

/// Colours are `#rrggbb`, the one form the UI writes and reads.
fn check_color(color: &str) -> Result<()> {
    if !switchboard_core::model::is_hex_color(color) {
        return Err(StoreError::InvalidInput {
            what: "line colour",
            why: "it must look like #1a2b3c",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testutil::{new_store, num};

    #[test]
    fn add_list_rename_recolour() {
        let (_dir, store) = new_store();
        let sales = store
            .add_line(&num("+14155550100"), " Sales ", "#ff0000")
            .unwrap();
        let support = store
            .add_line(&num("+14155550101"), "Support", "#00ff00")
            .unwrap();
        assert_eq!(sales.label, "Sales");
        store.rename_line(sales.id, "Sales EU").unwrap();
        store.set_line_color(support.id, "#0000ff").unwrap();
        let lines = store.list_lines().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].label, "Sales EU");
        assert_eq!(lines[1].color, "#0000ff");
        assert_eq!(store.get_line(support.id).unwrap(), lines[1]);
    }

    #[test]
    fn refusals() {
        let (_dir, store) = new_store();
        let line = store
            .add_line(&num("+14155550100"), "Sales", "#ff0000")
            .unwrap();
        let check =
            |r: crate::Result<()>, code: &str| assert_eq!(r.unwrap_err().code().as_str(), code);
        check(
            store
                .add_line(&num("+14155550100"), "Again", "#ff0000")
                .map(drop),
            "line_number_taken",
        );
        check(
            store
                .add_line(&num("+14155550102"), "  ", "#ff0000")
                .map(drop),
            "invalid_input",
        );
        check(
            store.add_line(&num("+14155550102"), "X", "red").map(drop),
            "invalid_input",
        );
        check(store.rename_line(crate::LineId(99), "X"), "line_not_found");
        check(store.remove_line(crate::LineId(99)), "line_not_found");
        check(store.set_line_color(line.id, "#12345"), "invalid_input");
    }
}
