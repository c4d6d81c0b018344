//! The new-message rules: who may receive it, how long it may be, and when it is sendable.

use crate::error_code::ErrorCode;
use crate::media::MAX_MEDIA_PER_MESSAGE;
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
    /// The attached images, in the order they will be sent.
    pub images: Vec<ImageKind>,
}

/// A message that may be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidMessage {
    /// Distinct, in the order they were first added.
    pub recipients: Vec<E164>,
    /// Empty when the message is only images.
    pub body: String,
    /// 0 to [`MAX_MEDIA_PER_MESSAGE`], in the order they will be sent.
    pub images: Vec<ImageKind>,
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
    /// Twilio takes at most 10 media per message.
    #[error("A message can carry up to {limit} images.")]
    TooManyImages { count: usize, limit: usize },
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
            ComposeError::TooManyImages { .. } => ErrorCode::TooManyImages,
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

/// Refuses an 11th image at the moment it is attached, as [`validate`] would at Send.
pub fn check_image_count(count: usize) -> Result<(), ComposeError> {
    if count > MAX_MEDIA_PER_MESSAGE {
        return Err(ComposeError::TooManyImages {
            count,
            limit: MAX_MEDIA_PER_MESSAGE,
        });
    }
    Ok(())
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
    check_image_count(draft.images.len())?;
    let blank = draft.body.trim().is_empty();
    if blank && draft.images.is_empty() {
        return Err(ComposeError::EmptyMessage);
    }
    // Stray spaces beside images would otherwise be billed as a text part.
    let body = if blank {
        String::new()
    } else {
        draft.body.clone()
    };
    Ok(ValidMessage {
        recipients,
        sms: sms::count(&body),
        body,
        images: draft.images.clone(),
    })
}

/// Whether the sending line can carry the message's `images` (however many): its number must
/// have MMS, and the carrier must have somewhere to fetch them from (`media_host`).
pub fn check_image_line(
    images: usize,
    line_label: &str,
    line_mms: bool,
    media_host: bool,
) -> Result<(), ComposeError> {
    if images == 0 {
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
    fn images_need_a_line_with_mms_and_a_media_host_however_many() {
        #[track_caller]
        fn check(images: usize, mms: bool, host: bool, expected: Option<&str>) {
            let got = check_image_line(images, "Sales", mms, host);
            assert_eq!(
                got.as_ref().err().map(|e| e.code().as_str()),
                expected,
                "{images} images, mms {mms}, host {host}"
            );
            if let Err(e) = got {
                let words = e.to_string();
                match e {
                    ComposeError::LineHasNoMms { .. } => {
                        assert!(words.starts_with("Sales can't send images"), "{words}")
                    }
                    _ => assert!(words.contains("media host"), "{words}"),
                }
            }
        }
        check(0, false, false, None); // text goes from any line
        check(1, true, true, None);
        check(3, true, true, None);
        check(10, true, true, None);
        check(1, false, true, Some("line_has_no_mms"));
        check(3, false, true, Some("line_has_no_mms"));
        check(1, true, false, Some("no_media_host"));
        check(10, true, false, Some("no_media_host"));
        check(2, false, false, Some("line_has_no_mms"));
    }

    #[test]
    fn nothing_goes_to_a_short_code_or_an_alphanumeric_sender() {
        for sender in ["89363", "GOOGLE", "Bank-Info"] {
            let mut d = draft(&[1], "Thanks", &[]);
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

    fn draft(recipients: &[usize], body: &str, images: &[ImageKind]) -> Draft {
        Draft {
            recipients: numbers(recipients),
            body: body.to_owned(),
            images: images.to_vec(),
        }
    }

    /// On success, `expected` is the recipients kept and the body that will be sent.
    fn check(draft: Draft, expected: Result<(&[usize], &str), ComposeError>) {
        let got = validate(&draft);
        match (got, expected) {
            (Ok(msg), Ok((recipients, body))) => {
                assert_eq!(msg.recipients, numbers(recipients), "{draft:?}");
                assert_eq!(msg.body, body, "{draft:?}");
                assert_eq!(msg.images, draft.images, "every image kept, in order");
                assert_eq!(msg.sms, sms::count(body));
            }
            (got, expected) => assert_eq!(got.map(|_| ()), expected.map(|_| ()), "{draft:?}"),
        }
    }

    #[test]
    fn drafts_at_send() {
        let png: &[ImageKind] = &[ImageKind::Png];
        let three = [ImageKind::Jpeg, ImageKind::Png, ImageKind::Gif];
        let ten = [ImageKind::Jpeg; 10];
        let eleven = [ImageKind::Png; 11];
        let twenty: Vec<usize> = (1..=20).collect();
        let twenty_one: Vec<usize> = (1..=21).collect();
        let mut twenty_with_repeats = twenty.clone();
        twenty_with_repeats.extend([3, 7, 20, 1]);

        check(draft(&[1], "Hello", &[]), Ok((&[1], "Hello")));
        check(draft(&[2, 1, 2, 3, 1], "Hi", &[]), Ok((&[2, 1, 3], "Hi")));
        check(draft(&twenty, "Hi", &[]), Ok((&twenty, "Hi")));
        check(draft(&twenty_with_repeats, "Hi", &[]), Ok((&twenty, "Hi")));
        check(
            draft(&twenty_one, "Hi", &[]),
            Err(ComposeError::TooManyRecipients {
                count: 21,
                limit: 20,
            }),
        );
        check(draft(&[], "Hi", &[]), Err(ComposeError::NoRecipients));
        check(draft(&[], "", &[]), Err(ComposeError::NoRecipients));
        check(draft(&[1], "", &[]), Err(ComposeError::EmptyMessage));
        check(draft(&[1], " \n\t ", &[]), Err(ComposeError::EmptyMessage));
        check(draft(&[1], "", png), Ok((&[1], "")));
        check(draft(&[1], "  \n", png), Ok((&[1], "")));
        check(draft(&[1], " Look! ", png), Ok((&[1], " Look! ")));
        check(draft(&[1], "Three", &three), Ok((&[1], "Three")));
        check(draft(&[1], "", &ten), Ok((&[1], "")));
        check(
            draft(&[1], "Too many", &eleven),
            Err(ComposeError::TooManyImages {
                count: 11,
                limit: 10,
            }),
        );
        check(
            draft(&[], "Too many", &eleven),
            Err(ComposeError::NoRecipients),
        );
        check(
            draft(&[1], &"é".repeat(1600), &[]),
            Ok((&[1], &"é".repeat(1600))),
        );
        check(
            draft(&[1], &"é".repeat(1601), &[]),
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
    fn an_eleventh_image_is_refused_in_words() {
        assert_eq!(check_image_count(0), Ok(()));
        assert_eq!(check_image_count(10), Ok(()));
        let refused = check_image_count(11).unwrap_err();
        assert_eq!(refused.code().as_str(), "too_many_images");
        assert_eq!(refused.to_string(), "A message can carry up to 10 images.");
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
