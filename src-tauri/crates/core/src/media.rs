//! Which attachments a message may carry, decided by their bytes: a file's name or the type the
//! OS guesses can lie, and the carrier rejects what is not really an image.

use crate::error_code::ErrorCode;
use crate::model::ImageKind;
use serde::{Deserialize, Serialize};
use thiserror::Error;

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
}
