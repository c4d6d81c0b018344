//! Drafts: what the New message window and each reply box hold, kept across restarts. The
//! text, recipients and line are the UI's JSON, saved as the user types and capped at 64 KB; the
//! images are saved apart, only when the set changes, each checked by content like any image
//! attached. A send or reply that came from a draft clears both (`compose.rs`).

use switchboard_store::{DraftImage, DraftKey};

use crate::images::{self, PreparedImage, DEFAULT_MMS_BUDGET};
use crate::{Engine, EngineError, Result};

/// Longest draft accepted, in bytes of JSON: far above any composer's text, far below harm.
/// A draft's images are not in it.
const MAX_DRAFT_BYTES: usize = 64 * 1024;

/// An image of a draft as the composer holds it: prepared already (see [`images::prepare_all`]).
#[derive(Clone, PartialEq, Eq)]
pub struct DraftImageFile {
    pub bytes: Vec<u8>,
    /// Whether preparing scaled it down to fit (shown beside it, and kept with it).
    pub resized: bool,
}

impl std::fmt::Debug for DraftImageFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftImageFile")
            .field("bytes", &self.bytes.len())
            .field("resized", &self.resized)
            .finish()
    }
}

impl Engine {
    /// Saves the composer's or a reply box's state (as JSON the UI owns), without its images.
    pub fn save_draft(&self, key: DraftKey, json: &str) -> Result<()> {
        if json.len() > MAX_DRAFT_BYTES {
            return Err(EngineError::Invalid {
                what: "draft",
                why: format!("is too large to save ({} bytes).", json.len()),
            });
        }
        if serde_json::from_str::<serde_json::Value>(json).is_err() {
            return Err(EngineError::Invalid {
                what: "draft",
                why: "is not valid JSON.".into(),
            });
        }
        Ok(self.store.save_draft(key, json)?)
    }

    pub fn load_draft(&self, key: DraftKey) -> Result<Option<String>> {
        Ok(self.store.load_draft(key)?)
    }

    /// Replaces the draft's whole set of images (none removes them), in order: at most 10,
    /// each a JPEG, PNG or GIF by content, all within what a message can carry. A refused set
    /// leaves the one saved before.
    pub fn save_draft_images(&self, key: DraftKey, files: Vec<DraftImageFile>) -> Result<()> {
        let resized: Vec<bool> = files.iter().map(|f| f.resized).collect();
        let checked = images::check_all(files.into_iter().map(|f| f.bytes).collect())?;
        if checked.iter().map(|i| i.bytes.len()).sum::<usize>() > DEFAULT_MMS_BUDGET {
            return Err(EngineError::ImagesTooLargeToSend {
                count: checked.len(),
                budget: DEFAULT_MMS_BUDGET,
            });
        }
        let images: Vec<DraftImage> = checked
            .into_iter()
            .zip(resized)
            .map(|(image, resized)| DraftImage {
                kind: image.kind,
                width: image.width,
                height: image.height,
                resized,
                bytes: image.bytes,
            })
            .collect();
        tracing::debug!(draft = %key, count = images.len(), "saving a draft's images");
        Ok(self.store.save_draft_images(key, &images)?)
    }

    /// The draft's images in their order, as they will be sent.
    pub fn draft_images(&self, key: DraftKey) -> Result<Vec<PreparedImage>> {
        Ok(self
            .store
            .draft_images(key)?
            .into_iter()
            .map(|i| PreparedImage {
                kind: i.kind,
                width: i.width,
                height: i.height,
                resized: i.resized,
                bytes: i.bytes,
            })
            .collect())
    }

    /// Removes the draft's JSON and its images; `false` when there was nothing.
    pub fn discard_draft(&self, key: DraftKey) -> Result<bool> {
        Ok(self.store.clear_draft(key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tests::noisy_png;
    use crate::testutil::engine;
    use switchboard_core::model::{ImageKind, ThreadId};

    fn file(bytes: Vec<u8>, resized: bool) -> DraftImageFile {
        DraftImageFile { bytes, resized }
    }

    fn stored_bytes(e: &Engine, key: DraftKey) -> Vec<Vec<u8>> {
        e.draft_images(key)
            .unwrap()
            .into_iter()
            .map(|i| i.bytes)
            .collect()
    }

    #[test]
    fn images_are_kept_apart_so_a_photo_does_not_count_against_the_text() {
        let (_d, e) = engine();
        // A realistic photo, far over the 64 KB a draft's JSON may take.
        let photo = noisy_png(320, 240);
        assert!(photo.len() > MAX_DRAFT_BYTES * 3, "{}", photo.len());
        e.save_draft_images(
            DraftKey::Composer,
            vec![file(photo.clone(), false), file(noisy_png(20, 10), true)],
        )
        .unwrap();
        e.save_draft(DraftKey::Composer, r#"{"body":"typed after","images":2}"#)
            .unwrap();

        let images = e.draft_images(DraftKey::Composer).unwrap();
        let described: Vec<_> = images
            .iter()
            .map(|i| (i.kind, i.width, i.height, i.resized))
            .collect();
        assert_eq!(
            described,
            [
                (ImageKind::Png, 320, 240, false),
                (ImageKind::Png, 20, 10, true)
            ]
        );
        assert_eq!(images[0].bytes, photo);
        assert_eq!(
            e.load_draft(DraftKey::Composer).unwrap().as_deref(),
            Some(r#"{"body":"typed after","images":2}"#)
        );
    }

    #[test]
    fn the_json_alone_is_still_limited_to_64_kb() {
        let (_d, e) = engine();
        let fits = format!(r#"{{"body":"{}"}}"#, "a".repeat(MAX_DRAFT_BYTES - 11));
        assert_eq!(fits.len(), MAX_DRAFT_BYTES);
        e.save_draft(DraftKey::Composer, &fits).unwrap();
        let over = format!(r#"{{"body":"{}"}}"#, "a".repeat(MAX_DRAFT_BYTES - 10));
        let err = e.save_draft(DraftKey::Composer, &over).unwrap_err();
        assert_eq!(err.code().as_str(), "invalid_input");
        assert_eq!(e.load_draft(DraftKey::Composer).unwrap(), Some(fits));
    }

    #[test]
    fn a_refused_set_of_images_leaves_the_one_saved_before() {
        let (_d, e) = engine();
        let key = DraftKey::Thread(ThreadId(4));
        let kept = vec![noisy_png(12, 12), noisy_png(8, 16)];
        e.save_draft_images(key, kept.iter().map(|b| file(b.clone(), false)).collect())
            .unwrap();

        let check = |files: Vec<DraftImageFile>, code: &str, sentence: &str| {
            let err = e.save_draft_images(key, files).unwrap_err();
            assert_eq!(
                (err.code().as_str(), err.to_string().as_str()),
                (code, sentence)
            );
            assert_eq!(stored_bytes(&e, key), kept, "{sentence}");
        };
        check(
            vec![file(noisy_png(8, 8), false); 11],
            "too_many_images",
            "A message can carry up to 10 images.",
        );
        check(
            vec![
                file(noisy_png(8, 8), false),
                file(b"%PDF-1.4 an invoice".to_vec(), false),
            ],
            "not_an_image",
            "The 2nd file is not a JPEG, PNG or GIF image.",
        );
        check(
            vec![file(b"GIF89a but nothing after".to_vec(), false)],
            "image_unreadable",
            &EngineError::ImageUnreadable.to_string(),
        );
        // Six photos of a megabyte each: more than any message can carry.
        let big = noisy_png(600, 580);
        assert!(6 * big.len() > DEFAULT_MMS_BUDGET, "{}", big.len());
        let err = e
            .save_draft_images(key, vec![file(big, false); 6])
            .unwrap_err();
        assert_eq!(err.code().as_str(), "image_too_large_to_send");
        assert_eq!(stored_bytes(&e, key), kept);

        e.save_draft_images(key, Vec::new()).unwrap();
        assert_eq!(stored_bytes(&e, key), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn discarding_a_draft_removes_its_images() {
        let (_d, e) = engine();
        e.save_draft(DraftKey::Composer, r#"{"images":1}"#).unwrap();
        e.save_draft_images(DraftKey::Composer, vec![file(noisy_png(9, 9), false)])
            .unwrap();
        assert!(e.discard_draft(DraftKey::Composer).unwrap());
        assert_eq!(e.load_draft(DraftKey::Composer).unwrap(), None);
        assert!(e.draft_images(DraftKey::Composer).unwrap().is_empty());
    }
}
