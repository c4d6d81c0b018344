//! The domain's nouns: lines, contacts, threads and messages, shared by every crate.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A business number of the account ("Sales", "Support").
    LineId
);
id_type!(
    /// A person or company in the address book.
    ContactId
);
id_type!(
    /// A conversation: one line with one counterpart number.
    ThreadId
);
id_type!(
    /// One message, inbound or outbound. Ids grow with time.
    MessageId
);
id_type!(
    /// A saved text with variables (`templates`).
    TemplateId
);

/// A phone number in E.164 form (`+` then up to 15 digits), or, for messages received only, a
/// carrier's sender id: a short code (`89363`) or an alphanumeric sender (`GOOGLE`), which send
/// verification codes and cannot be replied to ([`E164::is_phone_number`] tells them apart).
/// Only `phone::parse`, `E164::from_normalized` and `E164::from_sender` build one, so holding an
/// `E164` means it is one of those.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// Wraps a string that is already normalised E.164 (as read back from the store).
    /// Returns `None` when it is not of the form `+` followed by 8 to 15 digits.
    pub fn from_normalized(s: &str) -> Option<E164> {
        let digits = s.strip_prefix('+')?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        ok.then(|| E164(s.to_owned()))
    }

    /// Who a received message may come from: an E.164 number, a short code (3 to 8 digits) or
    /// an alphanumeric sender id (1 to 11 letters, digits, spaces, `-`, `.` or `_`, at least
    /// one letter), as carriers deliver them. `None` for anything else.
    pub fn from_sender(s: &str) -> Option<E164> {
        if let Some(number) = E164::from_normalized(s) {
            return Some(number);
        }
        let short_code = (3..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        let alphanumeric = (1..=11).contains(&s.chars().count())
            && s.bytes().any(|b| b.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'.' | b'_'))
            && s.trim() == s;
        (short_code || alphanumeric).then(|| E164(s.to_owned()))
    }

    /// False for a short code or an alphanumeric sender: nothing can be sent to those.
    pub fn is_phone_number(&self) -> bool {
        self.0.starts_with('+')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `color` is `#rrggbb`, the one form lines' colours are written and read in.
pub fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// One of the account's business numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Line {
    pub id: LineId,
    pub number: E164,
    /// `number` as a person reads it (`+1 415-555-0100`, see `phone::format_international`).
    pub number_display: String,
    pub label: String,
    /// `#rrggbb`, used for the line's chip in lists.
    pub color: String,
    /// What the carrier says the number can do.
    pub sms: bool,
    pub mms: bool,
    /// False once the number is no longer among the connected account's: its conversations
    /// stay, but nothing is sent from it.
    pub in_account: bool,
}

impl Line {
    /// Whether messages can go from this line now.
    pub fn can_send(&self) -> bool {
        self.in_account && self.sms
    }
}

/// An address-book entry: a name, one or more numbers, and optionally the line that messages to
/// this contact are sent from by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    pub numbers: Vec<E164>,
    pub default_line: Option<LineId>,
    /// Demo entries created for the sandbox carrier, so they can be told apart and removed.
    pub demo: bool,
}

/// The identity of a thread: **(line, counterpart number)**. The same person written to from two
/// lines has two threads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ThreadKey {
    pub line: LineId,
    pub counterpart: E164,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// Where a message is in its life. Outbound: `Queued → Sending → Sent → Delivered | Undelivered`,
/// or `Failed` on a permanent error. Inbound messages are `Received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Received,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Undelivered,
        MessageStatus::Failed,
        MessageStatus::Received,
    ];

    /// The stable name used in the store, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Received => "received",
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        MessageStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The image formats a message may carry, recognised by content (see `media::sniff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
}

impl ImageKind {
    pub const ALL: [ImageKind; 3] = [ImageKind::Jpeg, ImageKind::Png, ImageKind::Gif];

    /// The kind whose MIME type is `mime` exactly.
    pub fn from_mime(mime: &str) -> Option<ImageKind> {
        ImageKind::ALL.into_iter().find(|k| k.mime() == mime)
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Gif => "gif",
        }
    }
}

/// What a received (or sent) attachment is, by its content: an image the thread shows, or a file
/// it lists by kind and size and lets the user save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A JPEG, PNG or GIF ([`ImageKind`]): shown in the thread.
    Image,
    /// A contact card (vCard).
    Contact,
    Pdf,
    Audio,
    Video,
    /// Anything else: kept as received, saved on request, never shown.
    Other,
}

impl MediaKind {
    pub const ALL: [MediaKind; 6] = [
        MediaKind::Image,
        MediaKind::Contact,
        MediaKind::Pdf,
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Other,
    ];

    /// The stable name used in the store, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Contact => "contact",
            MediaKind::Pdf => "pdf",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a person calls it, for lists and notifications ("Photo", "PDF").
    pub fn label(self) -> &'static str {
        match self {
            MediaKind::Image => "Photo",
            MediaKind::Contact => "Contact card",
            MediaKind::Pdf => "PDF",
            MediaKind::Audio => "Audio",
            MediaKind::Video => "Video",
            MediaKind::Other => "File",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, valid: bool) {
        assert_eq!(E164::from_normalized(input).is_some(), valid, "{input}");
    }

    #[test]
    fn senders_are_numbers_short_codes_or_alphanumeric_ids() {
        let check = |input: &str, expected: Option<bool>| {
            assert_eq!(
                E164::from_sender(input).map(|s| s.is_phone_number()),
                expected,
                "{input}"
            );
        };
        check("+14155550100", Some(true));
        check("89363", Some(false));
        check("262966", Some(false));
        check("GOOGLE", Some(false));
        check("Uber", Some(false));
        check("My-Bank", Some(false));
        check("12", None);
        check("123456789", None);
        check("TwelveChars1", None);
        check(" GOOGLE", None);
        check("", None);
        check("+1415", None);
        check("shop/../x", None);
    }

    #[test]
    fn normalized_e164_shape() {
        check("+14155550100", true);
        check("+447700900123", true);
        check("14155550100", false);
        check("+1415555010a", false);
        check("+0123456789", false);
        check("+1234567", false);
        check("+1234567890123456", false);
        check("", false);
    }

    #[test]
    fn media_kind_names_round_trip() {
        for k in MediaKind::ALL {
            assert_eq!(MediaKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(MediaKind::parse("hologram"), None);
    }

    #[test]
    fn status_names_round_trip() {
        for st in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(st.as_str()), Some(st));
        }
        assert_eq!(MessageStatus::parse("lost"), None);
    }
}
