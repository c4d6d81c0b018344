//! The new-message rules: who may receive it, how long it may be, and when it is sendable.

use crate::error_code::ErrorCode;
use crate::model::{ImageKind, E164};
use crate::sms::{self, SmsCount};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Distinct recipients of one message (the product's promise, not a carrier limit).
pub const MAX_RECIPIENTS: usize = 20;
/// Body length in characters (Unicode scalar values); about ten GSM-7 segments.
pub const MAX_BODY_CHARS: usize = 1600;

/// What the composer holds while the person types; it may be invalid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub recipients: Vec<E164>,
    pub body: String,
    pub image: Option<ImageKind>,
}

/// A message that may be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidMessage {
    /// Distinct, in the order they were first added.
    pub recipients: Vec<E164>,
    /// Empty when the message is only an image.
    pub body: String,
    pub image: Option<ImageKind>,
    pub sms: SmsCount,
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ComposeError {
    #[error("Add at least one recipient.")]
    NoRecipients,
    #[error("A message can go to at most {limit} people; this one has {count}.")]
    TooManyRecipients { count: usize, limit: usize },
    #[error("The message is too long: {chars} characters, and the limit is {limit}.")]
    BodyTooLong { chars: usize, limit: usize },
    #[error("Write a message or attach an image.")]
    EmptyMessage,
    #[error("{line} can't send images: its number has no MMS. Send the text alone, or pick another line.")]
    LineHasNoMms { line: String },
    #[error(
        "Images can't be sent from {line} yet: the carrier fetches them from a media host, and \
         none is set up. Add one in Settings → Carrier, or send the text alone."
    )]
    NoMediaHost { line: String },
    /// A short code or an alphanumeric sender (see [`E164::is_phone_number`]): carriers deliver
    /// from them but take nothing back.
    #[error("Verification codes and short codes can't be replied to.")]
    SenderCannotReceive,
}

impl ComposeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ComposeError::NoRecipients => ErrorCode::NoRecipients,
            ComposeError::TooManyRecipients { .. } => ErrorCode::TooManyRecipients,
            ComposeError::BodyTooLong { .. } => ErrorCode::BodyTooLong,
            ComposeError::EmptyMessage => ErrorCode::EmptyMessage,
            ComposeError::LineHasNoMms { .. } => ErrorCode::LineHasNoMms,
            ComposeError::NoMediaHost { .. } => ErrorCode::NoMediaHost,
            ComposeError::SenderCannotReceive => ErrorCode::SenderCannotReceive,
        }
    }
}

/// The outcome of adding a recipient chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Added {
    Added,
    /// The number was already a recipient; the list is unchanged.
    AlreadyThere,
}

/// Adds a chip, refusing the 21st distinct number at the moment it is added rather than at Send.
pub fn add_recipient(list: &mut Vec<E164>, number: E164) -> Result<Added, ComposeError> {
    if list.contains(&number) {
        return Ok(Added::AlreadyThere);
    }
    let count = distinct(list).len() + 1;
    if count > MAX_RECIPIENTS {
        return Err(ComposeError::TooManyRecipients {
            count,
            limit: MAX_RECIPIENTS,
        });
    }
    list.push(number);
    Ok(Added::Added)
}

/// Checks a draft at Send. Recipient problems come first: they are the first field on screen.
pub fn validate(draft: &Draft) -> Result<ValidMessage, ComposeError> {
    let recipients = distinct(&draft.recipients);
    if recipients.is_empty() {
        return Err(ComposeError::NoRecipients);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(ComposeError::TooManyRecipients {
            count: recipients.len(),
            limit: MAX_RECIPIENTS,
        });
    }
    if !recipients.iter().all(E164::is_phone_number) {
        return Err(ComposeError::SenderCannotReceive);
    }
    let chars = draft.body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ComposeError::BodyTooLong {
            chars,
            limit: MAX_BODY_CHARS,
        });
    }
    let blank = draft.body.trim().is_empty();
    if blank && draft.image.is_none() {
        return Err(ComposeError::EmptyMessage);
    }
    // Stray spaces beside an image would otherwise be billed as a text part.
    let body = if blank {
        String::new()
    } else {
        draft.body.clone()
    };
    Ok(ValidMessage {
        recipients,
        sms: sms::count(&body),
        body,
        image: draft.image,
    })
}

/// Whether the sending line can carry the message's image: its number must have MMS, and the
/// carrier must have somewhere to fetch the image from (`media_host`).
pub fn check_image_line(
    has_image: bool,
    line_label: &str,
    line_mms: bool,
    media_host: bool,
) -> Result<(), ComposeError> {
    if !has_image {
        return Ok(());
    }
    if !line_mms {
        return Err(ComposeError::LineHasNoMms {
            line: line_label.to_owned(),
        });
    }
    if !media_host {
        return Err(ComposeError::NoMediaHost {
            line: line_label.to_owned(),
        });
    }
    Ok(())
}

fn distinct(numbers: &[E164]) -> Vec<E164> {
    let mut out: Vec<E164> = Vec::with_capacity(numbers.len());
    for n in numbers {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_needs_a_line_with_mms_and_a_media_host() {
        let check = |image, mms, host| check_image_line(image, "Sales", mms, host);
        assert_eq!(
            check(false, false, false),
            Ok(()),
            "text goes from any line"
        );
        assert_eq!(check(true, true, true), Ok(()));
        let no_mms = check(true, false, true).unwrap_err();
        assert_eq!(no_mms.code().as_str(), "line_has_no_mms");
        assert!(no_mms.to_string().starts_with("Sales can't send images"));
        let no_host = check(true, true, false).unwrap_err();
        assert_eq!(no_host.code().as_str(), "no_media_host");
        assert!(no_host.to_string().contains("media host"), "{no_host}");
        assert_eq!(
            check(true, false, false).unwrap_err().code().as_str(),
            "line_has_no_mms"
        );
    }

    #[test]
    fn nothing_goes_to_a_short_code_or_an_alphanumeric_sender() {
        for sender in ["89363", "GOOGLE", "Bank-Info"] {
            let mut d = draft(&[1], "Thanks", None);
            d.recipients.push(E164::from_sender(sender).unwrap());
            let refused = validate(&d).unwrap_err();
            assert_eq!(refused, ComposeError::SenderCannotReceive, "{sender}");
            assert_eq!(refused.code().as_str(), "sender_cannot_receive");
            assert_eq!(
                refused.to_string(),
                "Verification codes and short codes can't be replied to."
            );
        }
    }

    /// `+1415555` followed by a 4-digit suffix: distinct valid-shaped numbers.
    fn n(i: usize) -> E164 {
        E164::from_normalized(&format!("+1415555{i:04}")).unwrap()
    }

    fn numbers(ids: &[usize]) -> Vec<E164> {
        ids.iter().copied().map(n).collect()
    }

    fn draft(recipients: &[usize], body: &str, image: Option<ImageKind>) -> Draft {
        Draft {
            recipients: numbers(recipients),
            body: body.to_owned(),
            image,
        }
    }

    /// On success, `expected` is the recipients kept and the body that will be sent.
    fn check(draft: Draft, expected: Result<(&[usize], &str), ComposeError>) {
        let got = validate(&draft);
        match (got, expected) {
            (Ok(msg), Ok((recipients, body))) => {
                assert_eq!(msg.recipients, numbers(recipients), "{draft:?}");
                assert_eq!(msg.body, body, "{draft:?}");
                assert_eq!(msg.image, draft.image);
                assert_eq!(msg.sms, sms::count(body));
            }
            (got, expected) => assert_eq!(got.map(|_| ()), expected.map(|_| ()), "{draft:?}"),
        }
    }

    #[test]
    fn drafts_at_send() {
        let png = Some(ImageKind::Png);
        let twenty: Vec<usize> = (1..=20).collect();
        let twenty_one: Vec<usize> = (1..=21).collect();
        let mut twenty_with_repeats = twenty.clone();
        twenty_with_repeats.extend([3, 7, 20, 1]);

        check(draft(&[1], "Hello", None), Ok((&[1], "Hello")));
        check(draft(&[2, 1, 2, 3, 1], "Hi", None), Ok((&[2, 1, 3], "Hi")));
        check(draft(&twenty, "Hi", None), Ok((&twenty, "Hi")));
        check(draft(&twenty_with_repeats, "Hi", None), Ok((&twenty, "Hi")));
        check(
            draft(&twenty_one, "Hi", None),
            Err(ComposeError::TooManyRecipients {
                count: 21,
                limit: 20,
            }),
        );
        check(draft(&[], "Hi", None), Err(ComposeError::NoRecipients));
        check(draft(&[], "", None), Err(ComposeError::NoRecipients));
        check(draft(&[1], "", None), Err(ComposeError::EmptyMessage));
        check(draft(&[1], " \n\t ", None), Err(ComposeError::EmptyMessage));
        check(draft(&[1], "", png), Ok((&[1], "")));
        check(draft(&[1], "  \n", png), Ok((&[1], "")));
        check(draft(&[1], " Look! ", png), Ok((&[1], " Look! ")));
        check(
            draft(&[1], &"é".repeat(1600), None),
            Ok((&[1], &"é".repeat(1600))),
        );
        check(
            draft(&[1], &"é".repeat(1601), None),
            Err(ComposeError::BodyTooLong {
                chars: 1601,
                limit: 1600,
            }),
        );
        check(
            draft(&[1], &"🙂".repeat(1601), png),
            Err(ComposeError::BodyTooLong {
                chars: 1601,
                limit: 1600,
            }),
        );
    }

    fn check_add(existing: &[usize], new: usize, expected: Result<Added, ComposeError>) {
        let mut list = numbers(existing);
        let got = add_recipient(&mut list, n(new));
        assert_eq!(got, expected, "adding {new} to {existing:?}");
        let mut after = numbers(existing);
        if got == Ok(Added::Added) {
            after.push(n(new));
        }
        assert_eq!(list, after, "only a new number is appended");
    }

    #[test]
    fn adding_chips() {
        let nineteen: Vec<usize> = (1..=19).collect();
        let twenty: Vec<usize> = (1..=20).collect();
        check_add(&[], 1, Ok(Added::Added));
        check_add(&[1, 2], 3, Ok(Added::Added));
        check_add(&[1, 2], 2, Ok(Added::AlreadyThere));
        check_add(&nineteen, 20, Ok(Added::Added));
        check_add(&twenty, 5, Ok(Added::AlreadyThere));
        check_add(
            &twenty,
            21,
            Err(ComposeError::TooManyRecipients {
                count: 21,
                limit: 20,
            }),
        );
    }

    #[test]
    fn errors_speak_to_people() {
        let e = ComposeError::TooManyRecipients {
            count: 21,
            limit: 20,
        };
        assert_eq!(
            e.to_string(),
            "A message can go to at most 20 people; this one has 21."
        );
        for e in [
            ComposeError::NoRecipients,
            e,
            ComposeError::BodyTooLong {
                chars: 1601,
                limit: 1600,
            },
            ComposeError::EmptyMessage,
        ] {
            assert_eq!(serde_json::to_value(&e).unwrap()["code"], e.code().as_str());
        }
    }
}
