//! Opt-outs, as carriers apply them: a person who texts STOP to a line is blocked from it until
//! they text START. What counts as a keyword, and whom a block covers.
//!
//! Twilio's rules, which the sandbox plays and Switchboard learns from: only a message that is
//! the keyword alone counts ("STOP" does, "STOP PLEASE" and "please stop" do not), in any case,
//! with the whitespace around it ignored. A block applies to the line the keyword was sent to,
//! or to every line of the Messaging Service that line is in (the message then names the
//! service). HELP and INFO get an automatic answer and change nothing.

use serde::{Deserialize, Serialize};

use crate::composer::ValidMessage;
use crate::model::{LineId, E164};

/// What a single-word message asks of the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT.
    OptOut,
    /// START, YES, UNSTOP.
    OptIn,
    /// HELP, INFO.
    Help,
}

const OPT_OUT: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];
const HELP: [&str; 2] = ["HELP", "INFO"];

/// The keyword `body` is, if it is one: the whole message, any case, whitespace around it
/// ignored.
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body.trim();
    // The longest keyword is UNSUBSCRIBE; anything longer is a sentence.
    if word.len() > 11 {
        return None;
    }
    let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(word));
    if is(&OPT_OUT) {
        Some(Keyword::OptOut)
    } else if is(&OPT_IN) {
        Some(Keyword::OptIn)
    } else if is(&HELP) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Whom an opt-out covers: one line, or every line of a Messaging Service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    Line(LineId),
    /// A Twilio Messaging Service, by its SID (`MG…`).
    Service(String),
}

impl Scope {
    /// The scope of a keyword received on `line`: the Messaging Service the message names,
    /// else the line itself.
    pub fn of_message(line: LineId, messaging_service: Option<&str>) -> Scope {
        match messaging_service.map(str::trim) {
            Some(sid) if !sid.is_empty() => Scope::Service(sid.to_owned()),
            _ => Scope::Line(line),
        }
    }

    /// Whether an opt-out of this scope blocks sending from `line`, which is in the Messaging
    /// Service `line_service` (if any is known).
    pub fn blocks(&self, line: LineId, line_service: Option<&str>) -> bool {
        match self {
            Scope::Line(id) => *id == line,
            Scope::Service(sid) => line_service.is_some_and(|s| s == sid),
        }
    }

    /// As the store keeps it: `line:7` or `service:MG…`.
    pub fn to_key(&self) -> String {
        match self {
            Scope::Line(id) => format!("line:{}", id.0),
            Scope::Service(sid) => format!("service:{sid}"),
        }
    }

    /// Reads back [`Scope::to_key`]; `None` for anything else.
    pub fn from_key(key: &str) -> Option<Scope> {
        if let Some(id) = key.strip_prefix("line:") {
            return id.parse().ok().map(|id| Scope::Line(LineId(id)));
        }
        key.strip_prefix("service:")
            .filter(|sid| !sid.is_empty())
            .map(|sid| Scope::Service(sid.to_owned()))
    }
}

/// What a message received on a line does to the sender's opt-out state there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    OptOut(Scope),
    OptIn(Scope),
}

/// The change a received message makes, if any (HELP changes nothing).
pub fn change(body: &str, line: LineId, messaging_service: Option<&str>) -> Option<Change> {
    let scope = || Scope::of_message(line, messaging_service);
    match keyword(body)? {
        Keyword::OptOut => Some(Change::OptOut(scope())),
        Keyword::OptIn => Some(Change::OptIn(scope())),
        Keyword::Help => None,
    }
}

/// A message's recipients without those who opted out of its line: the message that may go
/// (`None` when nobody is left), and the numbers left out, in the order they were added.
pub fn leave_out(msg: &ValidMessage, opted_out: &[E164]) -> (Option<ValidMessage>, Vec<E164>) {
    let (left, kept): (Vec<E164>, Vec<E164>) = msg
        .recipients
        .iter()
        .cloned()
        .partition(|r| opted_out.contains(r));
    let rest = (!kept.is_empty()).then(|| ValidMessage {
        recipients: kept,
        ..msg.clone()
    });
    (rest, left)
}

/// The Twilio error code of a send to a recipient who opted out.
pub const TWILIO_OPTED_OUT: &str = "21610";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_single_words_in_any_case() {
        let table: &[(&str, Option<Keyword>)] = &[
            ("STOP", Some(Keyword::OptOut)),
            ("stop", Some(Keyword::OptOut)),
            ("Stop", Some(Keyword::OptOut)),
            ("  sToP \n", Some(Keyword::OptOut)),
            ("STOPALL", Some(Keyword::OptOut)),
            ("unsubscribe", Some(Keyword::OptOut)),
            ("Cancel", Some(Keyword::OptOut)),
            ("END", Some(Keyword::OptOut)),
            ("quit", Some(Keyword::OptOut)),
            ("START", Some(Keyword::OptIn)),
            ("yes", Some(Keyword::OptIn)),
            ("Unstop", Some(Keyword::OptIn)),
            ("HELP", Some(Keyword::Help)),
            ("info", Some(Keyword::Help)),
            // Sentences, other words, and lookalikes are plain messages.
            ("STOP PLEASE", None),
            ("please stop", None),
            ("stop.", None),
            ("STOP!", None),
            ("S T O P", None),
            ("STOPP", None),
            ("stops", None),
            ("yes please", None),
            ("no", None),
            ("", None),
            ("   ", None),
            ("ＳＴＯＰ", None), // full-width letters are not the keyword
            ("Thanks, see you at 3", None),
        ];
        for (body, expected) in table {
            assert_eq!(keyword(body), *expected, "{body:?}");
        }
    }

    #[test]
    fn a_keyword_covers_its_line_or_its_messaging_service() {
        let sales = LineId(1);
        let support = LineId(2);
        let table: &[(Option<&str>, LineId, Option<&str>, bool)] = &[
            // (service named by the STOP message, line sending later, its service, blocked)
            (None, sales, None, true),
            (None, support, None, false),
            (None, sales, Some("MG1"), true),
            (Some("MG1"), sales, Some("MG1"), true),
            (Some("MG1"), support, Some("MG1"), true),
            (Some("MG1"), support, Some("MG2"), false),
            (Some("MG1"), support, None, false),
            (Some("  "), support, None, false),
        ];
        for (service, line, line_service, blocked) in table {
            let scope = Scope::of_message(sales, *service);
            assert_eq!(
                scope.blocks(*line, *line_service),
                *blocked,
                "STOP to Sales via {service:?}, sending from {line:?} in {line_service:?}"
            );
        }
    }

    #[test]
    fn changes_follow_the_keyword() {
        let sales = LineId(1);
        assert_eq!(
            change("stop", sales, None),
            Some(Change::OptOut(Scope::Line(sales)))
        );
        assert_eq!(
            change("START", sales, Some("MG9")),
            Some(Change::OptIn(Scope::Service("MG9".into())))
        );
        assert_eq!(change("help", sales, None), None);
        assert_eq!(change("stop it", sales, None), None);
    }

    #[test]
    fn a_fan_out_leaves_out_those_who_opted_out() {
        let n = |s: &str| E164::from_normalized(s).unwrap();
        let msg = |to: &[&str]| {
            crate::composer::validate(&crate::composer::Draft {
                recipients: to.iter().map(|s| n(s)).collect(),
                body: "Your order is ready".into(),
                images: Vec::new(),
            })
            .unwrap()
        };
        let (a, b, c) = ("+14155550123", "+14155550124", "+14155550125");
        // (recipients, opted out, who it goes to, who is left out)
        type Row<'a> = (
            &'a [&'a str],
            &'a [&'a str],
            Option<&'a [&'a str]>,
            &'a [&'a str],
        );
        let table: &[Row] = &[
            (&[a, b, c], &[], Some(&[a, b, c]), &[]),
            (&[a, b, c], &[b], Some(&[a, c]), &[b]),
            (&[a, b, c], &[c, a], Some(&[b]), &[a, c]),
            (&[a], &[a], None, &[a]),
            (&[a, b], &[c], Some(&[a, b]), &[]),
        ];
        for (to, out, goes, left) in table {
            let out: Vec<E164> = out.iter().map(|s| n(s)).collect();
            let (rest, left_out) = leave_out(&msg(to), &out);
            assert_eq!(
                rest.map(|m| m.recipients),
                goes.map(|g| g.iter().map(|s| n(s)).collect::<Vec<_>>()),
                "{to:?} without {out:?}"
            );
            assert_eq!(left_out, left.iter().map(|s| n(s)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn scopes_read_back_as_they_are_kept() {
        for scope in [Scope::Line(LineId(42)), Scope::Service("MGabc".into())] {
            assert_eq!(Scope::from_key(&scope.to_key()), Some(scope));
        }
        for bad in ["", "line:", "line:x", "service:", "other:1", "42"] {
            assert_eq!(Scope::from_key(bad), None, "{bad:?}");
        }
    }
}
