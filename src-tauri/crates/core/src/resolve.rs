//! Which of the account's lines a message goes out from (DESIGN.md §1, "Sending-line
//! resolution"), and when to offer making a picked line a contact's default.

use crate::error_code::ErrorCode;
use crate::model::{ContactId, LineId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Everything the decision depends on, already read from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveInput<'a> {
    /// The thread's line when replying inside a thread.
    pub reply_in: Option<LineId>,
    pub account_lines: &'a [LineId],
    /// Picked by the user (the line picker, or the CLI's `--line`).
    pub chosen: Option<LineId>,
    /// Each recipient's contact default line, one entry per recipient (`None` for an unknown
    /// number or a contact without a default).
    pub recipient_defaults: &'a [Option<LineId>],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolution {
    /// Send from this line; the button reads "Send from *Label*".
    Use { line: LineId, why: Why },
    /// No line yet: Send opens the line dropdown and sends nothing.
    Pick { reason: PickReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    ThreadLine,
    OnlyLine,
    Chosen,
    SharedDefault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PickReason {
    /// At least one recipient has no default line (or no recipient yet).
    NoDefault,
    /// Every recipient has a default, but not the same one.
    DefaultsDiffer,
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ResolveError {
    #[error("Your account has no phone numbers to send from yet.")]
    NoLines,
    #[error("The number you picked to send from is no longer in your account. Pick another one.")]
    UnknownLine { line: LineId },
    #[error(
        "Replies in a conversation are sent from the conversation's own number. To use another \
         number, start a new message."
    )]
    ChosenConflictsWithThread { thread_line: LineId, chosen: LineId },
    #[error(
        "The number this conversation was on is no longer in your account, so you cannot reply \
         from it. Start a new message instead."
    )]
    ThreadLineGone { line: LineId },
}

impl ResolveError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ResolveError::NoLines => ErrorCode::NoLines,
            ResolveError::UnknownLine { .. } => ErrorCode::UnknownLine,
            ResolveError::ChosenConflictsWithThread { .. } => ErrorCode::ChosenConflictsWithThread,
            ResolveError::ThreadLineGone { .. } => ErrorCode::ThreadLineGone,
        }
    }
}

/// The table, top row first: the first rule that applies decides.
pub fn resolve_line(input: &ResolveInput) -> Result<Resolution, ResolveError> {
    let lines = input.account_lines;
    if lines.is_empty() {
        return Err(ResolveError::NoLines);
    }
    let use_line = |line, why| Ok(Resolution::Use { line, why });

    if let Some(thread_line) = input.reply_in {
        if !lines.contains(&thread_line) {
            return Err(ResolveError::ThreadLineGone { line: thread_line });
        }
        return match input.chosen {
            Some(chosen) if chosen != thread_line => Err(ResolveError::ChosenConflictsWithThread {
                thread_line,
                chosen,
            }),
            _ => use_line(thread_line, Why::ThreadLine),
        };
    }

    if let [only] = lines {
        return use_line(*only, Why::OnlyLine);
    }

    if let Some(chosen) = input.chosen {
        if !lines.contains(&chosen) {
            return Err(ResolveError::UnknownLine { line: chosen });
        }
        return use_line(chosen, Why::Chosen);
    }

    // A default pointing at a line that left the account is as good as none.
    let defaults: Option<Vec<LineId>> = input
        .recipient_defaults
        .iter()
        .map(|d| d.filter(|line| lines.contains(line)))
        .collect();
    match defaults.as_deref() {
        None | Some([]) => Ok(Resolution::Pick {
            reason: PickReason::NoDefault,
        }),
        Some([first, rest @ ..]) if rest.iter().all(|d| d == first) => {
            use_line(*first, Why::SharedDefault)
        }
        Some(_) => Ok(Resolution::Pick {
            reason: PickReason::DefaultsDiffer,
        }),
    }
}

/// After the person picked a line for a single recipient who is a contact without a default,
/// returns that contact so the UI can offer "Always send to *Name* from *Label*?".
///
/// `recipient_contacts` is one `(contact, its default line)` per recipient; `None` for an
/// unknown number.
pub fn offer_default(
    recipient_contacts: &[(Option<ContactId>, Option<LineId>)],
    resolution: &Resolution,
) -> Option<ContactId> {
    match (recipient_contacts, resolution) {
        (
            [(Some(contact), None)],
            Resolution::Use {
                why: Why::Chosen, ..
            },
        ) => Some(*contact),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALES: LineId = LineId(1);
    const SUPPORT: LineId = LineId(2);
    const BILLING: LineId = LineId(3);
    const GONE: LineId = LineId(99);

    fn check(
        reply_in: Option<LineId>,
        account_lines: &[LineId],
        chosen: Option<LineId>,
        recipient_defaults: &[Option<LineId>],
        expected: Result<Resolution, ResolveError>,
    ) {
        let input = ResolveInput {
            reply_in,
            account_lines,
            chosen,
            recipient_defaults,
        };
        assert_eq!(resolve_line(&input), expected, "{input:?}");
    }

    fn use_(line: LineId, why: Why) -> Result<Resolution, ResolveError> {
        Ok(Resolution::Use { line, why })
    }

    fn pick(reason: PickReason) -> Result<Resolution, ResolveError> {
        Ok(Resolution::Pick { reason })
    }

    const TWO: &[LineId] = &[SALES, SUPPORT];
    const THREE: &[LineId] = &[SALES, SUPPORT, BILLING];

    #[test]
    fn design_table() {
        use PickReason::*;
        use Why::*;

        // Reply inside a thread: the thread's line, whatever the defaults say.
        check(
            Some(SUPPORT),
            TWO,
            None,
            &[Some(SALES)],
            use_(SUPPORT, ThreadLine),
        );
        check(Some(SUPPORT), TWO, None, &[None], use_(SUPPORT, ThreadLine));
        check(
            Some(SUPPORT),
            TWO,
            Some(SUPPORT),
            &[None],
            use_(SUPPORT, ThreadLine),
        );
        check(
            Some(SALES),
            &[SALES],
            None,
            &[None],
            use_(SALES, ThreadLine),
        );

        // The account has one line: that line, no picker.
        check(None, &[SALES], None, &[None], use_(SALES, OnlyLine));
        check(
            None,
            &[SALES],
            None,
            &[Some(SUPPORT), None],
            use_(SALES, OnlyLine),
        );
        check(None, &[SALES], Some(SALES), &[None], use_(SALES, OnlyLine));

        // The user chose a line: it wins over any default.
        check(None, TWO, Some(SUPPORT), &[None], use_(SUPPORT, Chosen));
        check(
            None,
            TWO,
            Some(SUPPORT),
            &[Some(SALES)],
            use_(SUPPORT, Chosen),
        );
        check(
            None,
            THREE,
            Some(BILLING),
            &[Some(SALES), Some(SALES)],
            use_(BILLING, Chosen),
        );
        check(
            None,
            TWO,
            Some(SALES),
            &[Some(SALES), Some(SUPPORT)],
            use_(SALES, Chosen),
        );

        // Every recipient has the same default: one click sends.
        check(
            None,
            TWO,
            None,
            &[Some(SUPPORT)],
            use_(SUPPORT, SharedDefault),
        );
        check(
            None,
            THREE,
            None,
            &[Some(SALES); 20],
            use_(SALES, SharedDefault),
        );

        // Any recipient without a default, or defaults that differ: pick first.
        check(None, TWO, None, &[None], pick(NoDefault));
        check(None, TWO, None, &[Some(SALES), None], pick(NoDefault));
        check(None, TWO, None, &[None, Some(SALES)], pick(NoDefault));
        check(
            None,
            TWO,
            None,
            &[Some(SALES), Some(SUPPORT)],
            pick(DefaultsDiffer),
        );
        check(
            None,
            THREE,
            None,
            &[Some(SALES), Some(SALES), Some(BILLING)],
            pick(DefaultsDiffer),
        );
        check(None, TWO, None, &[], pick(NoDefault));
    }

    #[test]
    fn lines_that_left_the_account() {
        use PickReason::*;
        use Why::*;

        // A deleted default line counts as no default.
        check(None, TWO, None, &[Some(GONE)], pick(NoDefault));
        check(None, TWO, None, &[Some(GONE), Some(SALES)], pick(NoDefault));
        check(None, TWO, None, &[Some(GONE), Some(GONE)], pick(NoDefault));
        check(None, &[SALES], None, &[Some(GONE)], use_(SALES, OnlyLine));
        // A choice restored from a draft whose line has since gone.
        check(
            None,
            TWO,
            Some(GONE),
            &[Some(SALES)],
            Err(ResolveError::UnknownLine { line: GONE }),
        );
        // A thread on a line that has gone cannot be replied to.
        check(
            Some(GONE),
            TWO,
            None,
            &[None],
            Err(ResolveError::ThreadLineGone { line: GONE }),
        );
        check(
            None,
            TWO,
            Some(SUPPORT),
            &[Some(GONE)],
            use_(SUPPORT, Chosen),
        );
    }

    #[test]
    fn refusals() {
        check(None, &[], None, &[Some(SALES)], Err(ResolveError::NoLines));
        check(Some(SALES), &[], None, &[None], Err(ResolveError::NoLines));
        check(None, &[], Some(SALES), &[None], Err(ResolveError::NoLines));
        check(
            Some(SALES),
            TWO,
            Some(SUPPORT),
            &[None],
            Err(ResolveError::ChosenConflictsWithThread {
                thread_line: SALES,
                chosen: SUPPORT,
            }),
        );
    }

    const ADA: ContactId = ContactId(7);
    const BOB: ContactId = ContactId(8);

    fn check_offer(
        recipients: &[(Option<ContactId>, Option<LineId>)],
        resolution: Resolution,
        expected: Option<ContactId>,
    ) {
        assert_eq!(
            offer_default(recipients, &resolution),
            expected,
            "{recipients:?} {resolution:?}"
        );
    }

    #[test]
    fn offering_to_remember_a_pick() {
        let chosen = Resolution::Use {
            line: SALES,
            why: Why::Chosen,
        };
        check_offer(&[(Some(ADA), None)], chosen, Some(ADA));
        check_offer(&[(Some(ADA), Some(SUPPORT))], chosen, None);
        check_offer(&[(None, None)], chosen, None);
        check_offer(&[(Some(ADA), None), (Some(BOB), None)], chosen, None);
        check_offer(&[], chosen, None);
        for why in [Why::ThreadLine, Why::OnlyLine, Why::SharedDefault] {
            check_offer(
                &[(Some(ADA), None)],
                Resolution::Use { line: SALES, why },
                None,
            );
        }
        let pick = Resolution::Pick {
            reason: PickReason::NoDefault,
        };
        check_offer(&[(Some(ADA), None)], pick, None);
    }

    #[test]
    fn serialised_for_the_ui() {
        let r = Resolution::Use {
            line: SALES,
            why: Why::SharedDefault,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"use","line":1,"why":"shared_default"}"#
        );
        let r = Resolution::Pick {
            reason: PickReason::DefaultsDiffer,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"pick","reason":"defaults_differ"}"#
        );
        for e in [
            ResolveError::NoLines,
            ResolveError::UnknownLine { line: GONE },
            ResolveError::ChosenConflictsWithThread {
                thread_line: SALES,
                chosen: SUPPORT,
            },
            ResolveError::ThreadLineGone { line: GONE },
        ] {
            assert_eq!(serde_json::to_value(&e).unwrap()["code"], e.code().as_str());
        }
    }
}
