//! Which attachments a message may carry, decided by their bytes: a file's name or the type the
//! OS guesses can lie, and the carrier rejects what is not really an image.

use crate::error_code::ErrorCode;
use crate::model::{ImageKind, MediaKind};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Twilio's limit of media per message, in and out.
pub const MAX_MEDIA_PER_MESSAGE: usize = 10;

/// The largest received media item kept; Twilio's own limit for a message's media is 5 MB
/// outbound, and carriers deliver inbound items up to a few MB. Anything larger is refused.
pub const MAX_RECEIVED_MEDIA_BYTES: usize = 16 * 1024 * 1024;

/// The largest file the composer accepts before re-encoding it for the line's MMS budget.
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum MediaError {
    #[error("This file is empty.")]
    #[serde(rename = "file_empty")]
    Empty,
    #[error("This file is not a JPEG, PNG or GIF image, so it cannot be sent.")]
    NotAnImage,
    #[error("This file is too large ({}). Images can be up to 25 MB.", megabytes(*bytes))]
    #[serde(rename = "file_too_large")]
    TooLarge { bytes: u64 },
}

impl MediaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MediaError::Empty => ErrorCode::FileEmpty,
            MediaError::NotAnImage => ErrorCode::NotAnImage,
            MediaError::TooLarge { .. } => ErrorCode::FileTooLarge,
        }
    }
}

fn megabytes(bytes: u64) -> String {
    // Tenths of a MiB in integers, so the text never reads "25.0 MB" for a file just over.
    let tenths = bytes.saturating_mul(10).div_ceil(1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

/// Recognises an image by its signature. The size check comes first so a huge file is refused
/// for what the person can fix (its size) even when it is not an image either.
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, MediaError> {
    let len = bytes.len() as u64;
    if len > MAX_ATTACHMENT_BYTES {
        return Err(MediaError::TooLarge { bytes: len });
    }
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageKind::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Ok(ImageKind::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Ok(ImageKind::Gif)
    } else {
        Err(MediaError::NotAnImage)
    }
}

/// What a received file is, decided by its content, never by the type the carrier declared (a
/// carrier passes on what the sender's phone said). `mime` is the type it is stored and saved
/// as: the one its content proves, or, for content we don't recognise, the declared one when it
/// is a well-formed `type/subtype` (else `application/octet-stream`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identified {
    pub kind: MediaKind,
    /// Set for the images the thread shows.
    pub image: Option<ImageKind>,
    pub mime: String,
}

/// Recognises a received file by its signature (see [`Identified`]).
pub fn identify(bytes: &[u8], declared: Option<&str>) -> Identified {
    if let Ok(image) = sniff(bytes) {
        return Identified {
            kind: MediaKind::Image,
            image: Some(image),
            mime: image.mime().to_owned(),
        };
    }
    let head = &bytes[..bytes.len().min(64)];
    let starts = |sig: &[u8]| head.starts_with(sig);
    let known = if starts(b"%PDF-") {
        Some((MediaKind::Pdf, "application/pdf"))
    } else if is_vcard(head) {
        Some((MediaKind::Contact, "text/vcard"))
    } else if starts(b"#!AMR") {
        Some((MediaKind::Audio, "audio/amr"))
    } else if starts(b"ID3") || head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        Some((MediaKind::Audio, "audio/mpeg"))
    } else if starts(b"OggS") {
        Some((MediaKind::Audio, "audio/ogg"))
    } else if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WAVE" {
        Some((MediaKind::Audio, "audio/wav"))
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        Some(match &head[8..11] {
            b"M4A" => (MediaKind::Audio, "audio/mp4"),
            b"3gp" | b"3g2" => (MediaKind::Video, "video/3gpp"),
            b"qt " => (MediaKind::Video, "video/quicktime"),
            _ => (MediaKind::Video, "video/mp4"),
        })
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some((MediaKind::Video, "video/webm"))
    } else {
        None
    };
    match known {
        Some((kind, mime)) => Identified {
            kind,
            image: None,
            mime: mime.to_owned(),
        },
        None => Identified {
            kind: MediaKind::Other,
            image: None,
            mime: declared
                .map(|d| {
                    d.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .filter(|d| is_mime(d))
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        },
    }
}

fn is_vcard(head: &[u8]) -> bool {
    let text = head
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(head);
    let text: Vec<u8> = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(11)
        .map(u8::to_ascii_uppercase)
        .collect();
    text == b"BEGIN:VCARD"
}

/// A bare `type/subtype` of token characters, as a MIME type is written.
fn is_mime(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, sub)) if token(t) && token(sub))
}

/// "1st", "2nd", "3rd", "4th"… for naming the file of a set that was refused ("The 2nd file is
/// not a JPEG, PNG or GIF image").
pub fn ordinal(position: usize) -> String {
    let suffix = match (position % 10, position % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{position}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expected: Result<ImageKind, MediaError>) {
        assert_eq!(
            sniff(bytes),
            expected,
            "{:02x?}",
            &bytes[..bytes.len().min(8)]
        );
    }

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

    #[test]
    fn recognised_by_content() {
        check(
            &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F'],
            Ok(ImageKind::Jpeg),
        );
        check(
            &[0xFF, 0xD8, 0xFF, 0xE1, 0, 0, b'E', b'x'],
            Ok(ImageKind::Jpeg),
        );
        check(PNG, Ok(ImageKind::Png));
        check(b"GIF87a\x01\x00\x01\x00", Ok(ImageKind::Gif));
        check(b"GIF89a\x01\x00\x01\x00", Ok(ImageKind::Gif));
    }

    #[test]
    fn refused() {
        check(b"", Err(MediaError::Empty));
        // What a text file renamed to photo.png contains.
        check(
            b"hello, this is not a picture\n",
            Err(MediaError::NotAnImage),
        );
        check(b"%PDF-1.7\n", Err(MediaError::NotAnImage));
        check(b"RIFF\x00\x00\x00\x00WEBPVP8 ", Err(MediaError::NotAnImage));
        check(
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            Err(MediaError::NotAnImage),
        );
        check(b"GIF88a", Err(MediaError::NotAnImage));
        check(&[0xFF, 0xD8], Err(MediaError::NotAnImage));
        check(&PNG[..7], Err(MediaError::NotAnImage));
    }

    #[test]
    fn size_limit_is_checked_first() {
        let limit = MAX_ATTACHMENT_BYTES as usize;
        let mut big = vec![0u8; limit];
        big[..PNG.len()].copy_from_slice(PNG);
        check(&big, Ok(ImageKind::Png));
        big.push(0);
        check(
            &big,
            Err(MediaError::TooLarge {
                bytes: limit as u64 + 1,
            }),
        );
        let mut text = vec![b'x'; limit + 1];
        text[0] = b'h';
        check(
            &text,
            Err(MediaError::TooLarge {
                bytes: limit as u64 + 1,
            }),
        );
    }

    #[test]
    fn received_files_are_recognised_by_content_not_by_their_declared_type() {
        let check = |bytes: &[u8], declared: Option<&str>, kind: MediaKind, mime: &str| {
            let got = identify(bytes, declared);
            assert_eq!((got.kind, got.mime.as_str()), (kind, mime), "{declared:?}");
            assert_eq!(got.image.is_some(), kind == MediaKind::Image);
        };
        // A PNG declared as a PDF is a PNG; a "JPEG" that is text is not shown.
        check(PNG, Some("application/pdf"), MediaKind::Image, "image/png");
        check(b"hello", Some("image/jpeg"), MediaKind::Other, "image/jpeg");
        check(b"%PDF-1.4\n", None, MediaKind::Pdf, "application/pdf");
        check(
            b"BEGIN:VCARD\r\nVERSION:3.0",
            Some("text/x-vcard"),
            MediaKind::Contact,
            "text/vcard",
        );
        check(
            b"\xEF\xBB\xBF\r\nbegin:vcard\r\n",
            None,
            MediaKind::Contact,
            "text/vcard",
        );
        check(b"#!AMR\n", None, MediaKind::Audio, "audio/amr");
        check(b"ID3\x04\x00", None, MediaKind::Audio, "audio/mpeg");
        check(b"OggS\x00\x02", None, MediaKind::Audio, "audio/ogg");
        check(
            b"RIFF\x00\x00\x00\x00WAVEfmt ",
            None,
            MediaKind::Audio,
            "audio/wav",
        );
        check(
            b"\x00\x00\x00\x20ftypM4A \x00",
            None,
            MediaKind::Audio,
            "audio/mp4",
        );
        check(
            b"\x00\x00\x00\x14ftyp3gp4\x00",
            None,
            MediaKind::Video,
            "video/3gpp",
        );
        check(
            b"\x00\x00\x00\x18ftypisom\x00",
            None,
            MediaKind::Video,
            "video/mp4",
        );
        check(
            &[0x1A, 0x45, 0xDF, 0xA3, 1],
            None,
            MediaKind::Video,
            "video/webm",
        );
        // What is not recognised keeps a well-formed declared type, else a neutral one.
        check(
            b"PK\x03\x04",
            Some("Application/ZIP; x=1"),
            MediaKind::Other,
            "application/zip",
        );
        check(
            b"PK\x03\x04",
            Some("<script>"),
            MediaKind::Other,
            "application/octet-stream",
        );
        check(b"", None, MediaKind::Other, "application/octet-stream");
    }

    #[test]
    fn messages_for_people() {
        let e = MediaError::TooLarge {
            bytes: MAX_ATTACHMENT_BYTES + 1,
        };
        assert_eq!(
            e.to_string(),
            "This file is too large (25.1 MB). Images can be up to 25 MB."
        );
        assert_eq!(e.code().as_str(), "file_too_large");
        let e = MediaError::TooLarge {
            bytes: 40 * 1024 * 1024,
        };
        assert_eq!(
            e.to_string(),
            "This file is too large (40.0 MB). Images can be up to 25 MB."
        );
        for e in [MediaError::Empty, MediaError::NotAnImage, e] {
            assert_eq!(serde_json::to_value(&e).unwrap()["code"], e.code().as_str());
        }
    }

    #[test]
    fn positions_read_as_ordinals() {
        #[track_caller]
        fn check(position: usize, expected: &str) {
            assert_eq!(ordinal(position), expected);
        }
        check(1, "1st");
        check(2, "2nd");
        check(3, "3rd");
        check(4, "4th");
        check(10, "10th");
        check(11, "11th");
        check(12, "12th");
        check(13, "13th");
        check(21, "21st");
        check(22, "22nd");
        check(111, "111th");
    }
}
