//! The media of messages people send to the lines (an inbound MMS): what a reply may carry
//! ([`ReplyMedia`], at most [`MAX_REPLY_MEDIA`] items), how the control API's base64 is read,
//! and the photos demo contacts answer with when asked for one ([`demo_photos`]). The bytes are
//! kept with the sandbox's other media; Twilio's API serves them only behind the account's
//! credentials (`Messages/{Sid}/Media/{Sid}`).

use base64::Engine as _;
use serde::{Serialize, Serializer};

/// Twilio's limit of media items per message.
pub const MAX_REPLY_MEDIA: usize = 10;
/// The most bytes of media one reply carries in all: more than the app downloads of one item
/// (16 MB), so that its limit can be tried against the sandbox.
pub const MAX_REPLY_MEDIA_BYTES: usize = 32 * 1024 * 1024;

/// One item of an inbound MMS: any file, as the sender's phone labelled it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyMedia {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl ReplyMedia {
    pub fn new(content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> ReplyMedia {
        ReplyMedia {
            content_type: content_type.into(),
            bytes: bytes.into(),
        }
    }

    /// An item of the control API's `"media"` list: `{"content_type": …, "data": <base64>}`.
    pub fn from_control(
        content_type: &str,
        data: &str,
        index: usize,
    ) -> Result<ReplyMedia, String> {
        let number = index + 1;
        if content_type.split_once('/').is_none_or(|(kind, sub)| {
            kind.is_empty() || sub.is_empty() || content_type.contains(char::is_whitespace)
        }) {
            return Err(format!(
                "media item {number}'s content type {content_type:?} is not a MIME type such as \
                 image/png"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| format!("media item {number}'s data is not valid base64"))?;
        if bytes.is_empty() {
            return Err(format!("media item {number} is empty"));
        }
        Ok(ReplyMedia::new(content_type, bytes))
    }
}

impl std::fmt::Debug for ReplyMedia {
    // The bytes are a person's photo: their size, never their content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyMedia")
            .field("content_type", &self.content_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// As the control API reads it, so that a client in another process can send it.
impl Serialize for ReplyMedia {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            content_type: &'a str,
            data: String,
        }
        Wire {
            content_type: &self.content_type,
            data: base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        }
        .serialize(serializer)
    }
}

/// Why a reply's media are refused, as a sentence; `None` when they can be sent.
pub fn check(media: &[ReplyMedia]) -> Option<String> {
    let total: usize = media.iter().map(|m| m.bytes.len()).sum();
    if media.len() > MAX_REPLY_MEDIA {
        Some(format!(
            "a message carries at most {MAX_REPLY_MEDIA} media items, not {}",
            media.len()
        ))
    } else if total > MAX_REPLY_MEDIA_BYTES {
        Some(format!(
            "a message carries at most {} MB of media, not {:.1} MB",
            MAX_REPLY_MEDIA_BYTES / (1024 * 1024),
            total as f64 / (1024.0 * 1024.0)
        ))
    } else {
        None
    }
}

const PHOTOS: [&[u8]; 2] = [
    include_bytes!("demo-photo-1.jpg"),
    include_bytes!("demo-photo-2.jpg"),
];

/// What a demo contact attaches to their answer to `asked`: two photos when it mentions
/// "photos" or "pictures" (or "pics"), one when it mentions "photo", "picture" or "pic",
/// none otherwise. Whole words, any case: "Pic?" asks, "epic" and "topic" do not. The photos
/// are two small JPEGs (320×240 and 240×320), the same every time.
pub fn demo_photos(asked: &str) -> Vec<ReplyMedia> {
    let mut count = 0;
    for word in asked
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        match word.as_str() {
            "photos" | "pictures" | "pics" => count = 2,
            "photo" | "picture" | "pic" => count = count.max(1),
            _ => {}
        }
    }
    PHOTOS[..count]
        .iter()
        .map(|bytes| ReplyMedia::new("image/jpeg", *bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_contact_sends_as_many_photos_as_asked_for() {
        #[track_caller]
        fn check(asked: &str, expected: usize) {
            assert_eq!(demo_photos(asked).len(), expected, "{asked:?}");
        }
        check("Hello, are you coming at 3?", 0);
        check("Could you send a photo of the parcel?", 1);
        check("A PICTURE please", 1);
        check("pic?", 1);
        check("Any photos of the damage?", 2);
        check("Send pictures, and a photo of the label", 2);
        check("That was epic, on topic", 0);
        check("photography", 0);
    }

    #[test]
    fn the_demo_photos_are_jpegs_of_their_own() {
        let photos = demo_photos("photos");
        assert!(photos
            .iter()
            .all(|p| p.bytes.starts_with(&[0xFF, 0xD8, 0xFF])));
        assert_ne!(photos[0].bytes, photos[1].bytes);
    }

    #[test]
    fn control_media_are_read_with_a_sentence_for_each_mistake() {
        #[track_caller]
        fn check(content_type: &str, data: &str, expected: Result<&[u8], &str>) {
            let read = ReplyMedia::from_control(content_type, data, 1);
            match expected {
                Ok(bytes) => assert_eq!(read.unwrap().bytes, bytes),
                Err(sentence) => assert_eq!(read.unwrap_err(), sentence),
            }
        }
        check("image/png", "aGk=", Ok(b"hi"));
        check(
            "image/png",
            "not base64!",
            Err("media item 2's data is not valid base64"),
        );
        check("image/png", "", Err("media item 2 is empty"));
        check(
            "png",
            "aGk=",
            Err("media item 2's content type \"png\" is not a MIME type such as image/png"),
        );
    }

    #[test]
    fn more_than_ten_items_are_refused() {
        let items = |n: usize| vec![ReplyMedia::new("image/png", b"x".to_vec()); n];
        assert_eq!(check(&items(10)), None);
        assert_eq!(
            check(&items(11)).as_deref(),
            Some("a message carries at most 10 media items, not 11")
        );
    }

    #[test]
    fn the_debug_form_shows_the_size_not_the_bytes() {
        let item = ReplyMedia::new("image/png", b"secret".to_vec());
        assert_eq!(
            format!("{item:?}"),
            "ReplyMedia { content_type: \"image/png\", size: 6 }"
        );
    }
}
