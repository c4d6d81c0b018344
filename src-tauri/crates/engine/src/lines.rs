//! The account's business numbers: adding, naming, colouring and removing them. Lines are
//! named by their id here; finding one by what a person types is the client's business (the
//! CLI's `names`), so that an edit meant for one line can never reach another.

use switchboard_carrier::{Carrier, CarrierError, TransientKind};
use switchboard_core::model::{Line, LineId};
use switchboard_core::phone;
use switchboard_store::StoreError;

use crate::{Engine, EngineError, Result};

/// Colours given to new lines in turn, chosen to stay readable on light and dark themes.
const PALETTE: [&str; 6] = [
    "#2563eb", "#16a34a", "#db2777", "#d97706", "#7c3aed", "#0891b2",
];
const MAX_LABEL_CHARS: usize = 40;

/// The colour of the `n`th line, when none is given.
pub(crate) fn palette_color(n: usize) -> &'static str {
    PALETTE[n % PALETTE.len()]
}

impl Engine {
    pub fn lines(&self) -> Result<Vec<Line>> {
        Ok(self.store.list_lines()?)
    }

    /// One line by id; an id that is no line (any more) is refused as an unknown line, naming
    /// the lines there are.
    pub fn line(&self, id: LineId) -> Result<Line> {
        match self.store.get_line(id) {
            Err(StoreError::LineNotFound(_)) => Err(EngineError::UnknownLine {
                input: id.to_string(),
                known: self.lines()?.into_iter().map(|l| l.label).collect(),
            }),
            other => Ok(other?),
        }
    }

    /// Adds a line from a typed number; without a colour it takes the next one of the palette.
    pub fn add_line(&self, number: &str, label: &str, color: Option<&str>) -> Result<Line> {
        let label = check_label(label)?;
        let number = phone::parse(number, self.default_country()?)
            .map_err(|e| EngineError::phone(number, e))?;
        let color = match color {
            Some(c) => check_color(c)?,
            None => palette_color(self.store.list_lines()?.len()).to_owned(),
        };
        Ok(self.store.add_line(&number, label, &color)?)
    }

    /// Renames a line. A line of the connected account is renamed at the carrier first
    /// (Twilio's FriendlyName): every start adopts the carrier's labels, so a rename the
    /// carrier did not take would come undone. Without a `carrier` to reach, such a rename is
    /// refused, in words; a line no longer in the account is renamed here only.
    pub async fn rename_line(
        &self,
        carrier: Option<&dyn Carrier>,
        line: LineId,
        label: &str,
    ) -> Result<Line> {
        let found = self.line(line)?;
        let label = check_label(label)?;
        let sid = if found.in_account {
            self.store.line_carrier_sid(found.id)?
        } else {
            None
        };
        if let Some(sid) = sid {
            let carrier = carrier.ok_or_else(|| {
                EngineError::Carrier(CarrierError::Transient {
                    kind: TransientKind::Offline,
                    retry_after: None,
                    message: format!(
                        "{} can't be renamed while the carrier can't be reached: its name is \
                         kept at the carrier too.",
                        found.label
                    ),
                })
            })?;
            carrier
                .rename_line(&sid, label)
                .await
                .map_err(EngineError::Carrier)?;
        }
        self.store.rename_line(found.id, label)?;
        Ok(self.store.get_line(found.id)?)
    }

    pub fn set_line_color(&self, line: LineId, color: &str) -> Result<Line> {
        let line = self.line(line)?.id;
        self.store.set_line_color(line, &check_color(color)?)?;
        self.line(line)
    }

    /// Removes a line that has no conversations (the store refuses otherwise: history is kept).
    pub fn remove_line(&self, line: LineId) -> Result<Line> {
        let found = self.line(line)?;
        self.store.remove_line(found.id)?;
        Ok(found)
    }
}

/// A carrier's label as a line's: trimmed and cut to the length a line's name may have.
pub(crate) fn fit_label(label: &str) -> String {
    label.trim().chars().take(MAX_LABEL_CHARS).collect()
}

fn check_label(label: &str) -> Result<&str> {
    let label = label.trim();
    if label.is_empty() {
        return Err(EngineError::Invalid {
            what: "label",
            why: "A line needs a name, such as Sales or Support.".into(),
        });
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(EngineError::Invalid {
            what: "label",
            why: format!("A line's name can be at most {MAX_LABEL_CHARS} characters."),
        });
    }
    Ok(label)
}

fn check_color(color: &str) -> Result<String> {
    let c = color.trim();
    if switchboard_core::model::is_hex_color(c) {
        Ok(c.to_ascii_lowercase())
    } else {
        Err(EngineError::Invalid {
            what: "colour",
            why: format!("{color:?} is not a colour; use the #rrggbb form, e.g. #2563eb."),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::engine;

    #[test]
    fn lines_are_edited_by_id_whatever_their_labels_say() {
        let (_d, e) = engine();
        let sales = e.add_line("(415) 555-0100", "Sales", None).unwrap();
        let support = e
            .add_line("+1 415 555 0101", "Support", Some("#16A34A"))
            .unwrap();
        assert_eq!(sales.number.as_str(), "+14155550100");
        assert_eq!(support.color, "#16a34a");
        // A line labelled like another's id is not the other line.
        let tricky = e
            .add_line("+1 415 555 0102", &sales.id.to_string(), None)
            .unwrap();
        let recoloured = e.set_line_color(sales.id, "#7C3AED").unwrap();
        assert_eq!(
            (recoloured.id, recoloured.color.as_str()),
            (sales.id, "#7c3aed")
        );
        assert_ne!(e.line(tricky.id).unwrap().color, "#7c3aed");
        assert_eq!(
            e.set_line_color(switchboard_core::model::LineId(999), "#db2777")
                .unwrap_err()
                .code(),
            crate::ErrorCode::UnknownLine
        );
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        let (_d, e) = engine();
        let check = |number: &str, label: &str, color: Option<&str>, code: &str| {
            let err = e.add_line(number, label, color).unwrap_err();
            assert_eq!(err.code().as_str(), code, "{number} {label}");
        };
        e.add_line("+14155550100", "Sales", None).unwrap();
        check("+14155550100", "Again", None, "line_number_taken");
        check("not a number", "Sales 2", None, "number_has_letters");
        check("+14155550199", "  ", None, "invalid_input");
        check("+14155550199", "Ops", Some("blue"), "invalid_input");
        assert_eq!(e.lines().unwrap().len(), 1);
    }
}
