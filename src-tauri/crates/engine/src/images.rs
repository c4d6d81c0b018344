//! Images for MMS: recognised by content, measured, and — when a message's images are larger
//! than the line's MMS budget together — each scaled down and re-encoded as JPEG until it fits
//! its share, so that the user can see the result before sending. Preparing a prepared set
//! again changes nothing, so what the composer previewed is what the outbox sends.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};
use serde::{Deserialize, Serialize};
use switchboard_core::composer;
use switchboard_core::media;
use switchboard_core::model::ImageKind;

use crate::{EngineError, Result};

/// Twilio accepts up to 5 MB of media per message; the sandbox carrier uses the same budget.
pub const DEFAULT_MMS_BUDGET: usize = 5 * 1024 * 1024;

/// Guards decoding against images whose header claims absurd sizes (decompression bombs).
const MAX_PIXELS: u64 = 64_000_000;

/// An image ready to attach: what will actually be sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PreparedImage {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// True when the original was over budget and this is the scaled, re-encoded version.
    pub resized: bool,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for PreparedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedImage")
            .field("kind", &self.kind)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("resized", &self.resized)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Checks each file is a JPEG, PNG or GIF by content (a refusal names the file by its position
/// when there are several), refuses an 11th, and fits them into `budget` bytes in all: the
/// images within their fair share are kept as they are, and the others share what is left in
/// proportion to their sizes ([`shares`]). Answers them in the order given.
pub fn prepare_all(files: Vec<Vec<u8>>, budget: usize) -> Result<Vec<PreparedImage>> {
    let several = files.len() > 1;
    let checked = check_all(files)?;
    let sizes: Vec<usize> = checked.iter().map(|c| c.bytes.len()).collect();
    let count = checked.len();
    checked
        .into_iter()
        .zip(shares(&sizes, budget))
        .map(|(image, share)| match image.bytes.len() <= share {
            true => Ok(image),
            false => shrink(&image.bytes, share).map_err(|e| match (e, several) {
                (EngineError::ImageTooLargeToSend { .. }, true) => {
                    EngineError::ImagesTooLargeToSend { count, budget }
                }
                (e, _) => e,
            }),
        })
        .collect()
}

/// Refuses an 11th, then checks each file is a JPEG, PNG or GIF by content and measures it,
/// as it is (a refusal names the file by its position when there are several).
pub(crate) fn check_all(files: Vec<Vec<u8>>) -> Result<Vec<PreparedImage>> {
    composer::check_image_count(files.len())?;
    let several = files.len() > 1;
    let named = |position: usize| {
        move |e: EngineError| match several {
            true => EngineError::ImageAt {
                position,
                source: Box::new(e),
            },
            false => e,
        }
    };
    files
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| inspect(bytes).map_err(named(i + 1)))
        .collect()
}

/// How many bytes each image may take so that all fit `budget`: every image within the fair
/// share of what is left (the budget left ÷ the images left, smallest first) keeps its size, so
/// a small one is not shrunk for nothing; the larger ones share the rest in proportion to their
/// sizes. The shares never add up to more than `budget`.
pub fn shares(sizes: &[usize], budget: usize) -> Vec<usize> {
    let mut out = sizes.to_vec();
    if sizes.iter().sum::<usize>() <= budget {
        return out;
    }
    let mut smallest_first: Vec<usize> = (0..sizes.len()).collect();
    smallest_first.sort_by_key(|&i| sizes[i]);
    let mut left = budget;
    for (k, &i) in smallest_first.iter().enumerate() {
        let fair = left / (sizes.len() - k);
        if sizes[i] <= fair {
            left -= sizes[i];
            continue;
        }
        let rest = &smallest_first[k..];
        let rest_total: u128 = rest.iter().map(|&j| sizes[j] as u128).sum();
        for &j in rest {
            out[j] = (left as u128 * sizes[j] as u128 / rest_total) as usize;
        }
        break;
    }
    out
}

/// Checks `bytes` is a JPEG, PNG or GIF by content and fits it into `budget` bytes.
pub fn prepare(bytes: Vec<u8>, budget: usize) -> Result<PreparedImage> {
    let image = inspect(bytes)?;
    if image.bytes.len() <= budget {
        return Ok(image);
    }
    shrink(&image.bytes, budget)
}

/// The image as it is, recognised by content and measured (its header read, not decoded).
fn inspect(bytes: Vec<u8>) -> Result<PreparedImage> {
    let kind = media::sniff(&bytes)?;
    let (width, height) = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|_| EngineError::ImageUnreadable)?
        .into_dimensions()
        .map_err(|_| EngineError::ImageUnreadable)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(EngineError::ImageUnreadable);
    }
    Ok(PreparedImage {
        kind,
        width,
        height,
        resized: false,
        bytes,
    })
}

/// Scales by the square root of the size ratio (bytes grow with area), with a margin, and
/// tries again smaller if the encoder still overshoots.
fn shrink(original: &[u8], budget: usize) -> Result<PreparedImage> {
    let decoded = image::load_from_memory(original).map_err(|_| EngineError::ImageUnreadable)?;
    let mut last = original.len();
    let mut scale = ((budget as f64) / (original.len() as f64)).sqrt() * 0.9;
    for _ in 0..8 {
        let w = ((decoded.width() as f64) * scale).max(1.0) as u32;
        let h = ((decoded.height() as f64) * scale).max(1.0) as u32;
        let resized = decoded.resize(w, h, FilterType::Triangle);
        let bytes = encode_jpeg(&resized)?;
        if bytes.len() <= budget {
            return Ok(PreparedImage {
                kind: ImageKind::Jpeg,
                width: resized.width(),
                height: resized.height(),
                resized: true,
                bytes,
            });
        }
        last = bytes.len();
        scale *= 0.7;
    }
    Err(EngineError::ImageTooLargeToSend {
        bytes: last,
        budget,
    })
}

fn encode_jpeg(img: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // JPEG has no alpha: flatten to RGB first.
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&rgb)
        .map_err(|_| EngineError::ImageUnreadable)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    /// A noisy PNG (noise defeats compression, so its size tracks its area).
    pub fn noisy_png(w: u32, h: u32) -> Vec<u8> {
        let mut seed = 0x2545_f491_u32;
        let img = RgbImage::from_fn(w, h, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let [a, b, c, _] = seed.to_le_bytes();
            Rgb([a, b, c])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_within_budget_is_kept_as_is() {
        let png = noisy_png(40, 30);
        let prepared = prepare(png.clone(), DEFAULT_MMS_BUDGET).unwrap();
        assert_eq!(
            (prepared.kind, prepared.width, prepared.height),
            (ImageKind::Png, 40, 30)
        );
        assert!(!prepared.resized);
        assert_eq!(prepared.bytes, png);
    }

    #[test]
    fn an_image_over_budget_is_scaled_to_fit() {
        let png = noisy_png(600, 400);
        let budget = png.len() / 4;
        let prepared = prepare(png, budget).unwrap();
        assert!(prepared.resized);
        assert_eq!(prepared.kind, ImageKind::Jpeg);
        assert!(
            prepared.bytes.len() <= budget,
            "{} > {budget}",
            prepared.bytes.len()
        );
        assert!(prepared.width < 600 && prepared.height < 400);
        assert_eq!(media::sniff(&prepared.bytes).unwrap(), ImageKind::Jpeg);
    }

    #[test]
    fn a_text_file_named_png_is_refused_by_content() {
        let err = prepare(b"hello, I am text".to_vec(), DEFAULT_MMS_BUDGET).unwrap_err();
        assert_eq!(err.code().as_str(), "not_an_image");
    }

    #[test]
    fn a_truncated_image_is_unreadable() {
        let png = noisy_png(40, 30);
        let err = prepare(png[..20].to_vec(), DEFAULT_MMS_BUDGET).unwrap_err();
        assert_eq!(err.code().as_str(), "image_unreadable");
    }

    /// A small GIF (its signature and a 1×1 logical screen), for sets of mixed kinds.
    fn gif() -> Vec<u8> {
        let img = RgbImage::from_pixel(3, 2, Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Gif).unwrap();
        out.into_inner()
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let png = noisy_png(w, h);
        encode_jpeg(&image::load_from_memory(&png).unwrap()).unwrap()
    }

    #[test]
    fn shares_keep_small_images_whole_and_split_the_rest_by_size() {
        #[track_caller]
        fn check(sizes: &[usize], budget: usize, expected: &[usize]) {
            let got = shares(sizes, budget);
            assert_eq!(got, expected, "{sizes:?} in {budget}");
            assert!(got.iter().sum::<usize>() <= budget.max(sizes.iter().sum()));
        }
        check(&[], 100, &[]);
        check(&[40, 30, 30], 100, &[40, 30, 30]); // all fit: untouched
        check(&[500], 100, &[100]);
        // 10 and 20 are within their fair share; 300 and 600 share the 70 left, 1:2.
        check(&[300, 10, 600, 20], 100, &[23, 10, 46, 20]);
        // Nothing small: each in proportion to its size.
        check(&[200, 200, 400], 100, &[25, 25, 50]);
        // A file over the fair share of the whole but within that of what the small left.
        check(&[10, 45, 200], 100, &[10, 45, 45]);
        check(&[1, 1, 1], 2, &[0, 0, 0]);
    }

    #[test]
    fn three_images_keep_their_order_and_kinds() {
        let files = vec![noisy_png(30, 20), gif(), jpeg(20, 30)];
        let prepared = prepare_all(files.clone(), DEFAULT_MMS_BUDGET).unwrap();
        let kinds: Vec<ImageKind> = prepared.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ImageKind::Png, ImageKind::Gif, ImageKind::Jpeg]);
        let sizes: Vec<(u32, u32)> = prepared.iter().map(|p| (p.width, p.height)).collect();
        assert_eq!(sizes, [(30, 20), (3, 2), (20, 30)]);
        let bytes: Vec<Vec<u8>> = prepared.into_iter().map(|p| p.bytes).collect();
        assert_eq!(bytes, files, "within the budget, each is sent as it is");
    }

    #[test]
    fn ten_images_are_accepted_and_an_eleventh_refused() {
        let ten = vec![noisy_png(8, 8); 10];
        assert_eq!(prepare_all(ten, DEFAULT_MMS_BUDGET).unwrap().len(), 10);
        let refused = prepare_all(vec![noisy_png(8, 8); 11], DEFAULT_MMS_BUDGET).unwrap_err();
        assert_eq!(refused.code().as_str(), "too_many_images");
        assert_eq!(refused.to_string(), "A message can carry up to 10 images.");
    }

    #[test]
    fn a_set_over_budget_is_fitted_in_all_and_a_small_image_is_left_alone() {
        let (big, other, small) = (noisy_png(500, 400), noisy_png(400, 300), noisy_png(20, 20));
        let budget = (big.len() + other.len()) / 3;
        let files = vec![big, small.clone(), other];
        let prepared = prepare_all(files, budget).unwrap();
        let total: usize = prepared.iter().map(|p| p.bytes.len()).sum();
        assert!(total <= budget, "{total} > {budget}");
        assert!(prepared[0].resized && prepared[2].resized);
        assert_eq!(prepared[0].kind, ImageKind::Jpeg);
        assert!(!prepared[1].resized, "the small one fits its share");
        assert_eq!(prepared[1].bytes, small);
        assert!(prepared[0].width < 500 && prepared[2].width < 400);
    }

    #[test]
    fn a_prepared_set_prepared_again_is_unchanged_so_the_preview_is_what_is_sent() {
        let files = vec![noisy_png(500, 400), noisy_png(20, 20), noisy_png(400, 300)];
        let budget = files.iter().map(Vec::len).sum::<usize>() / 3;
        let previewed = prepare_all(files, budget).unwrap();
        let again: Vec<Vec<u8>> = previewed.iter().map(|p| p.bytes.clone()).collect();
        let sent = prepare_all(again, budget).unwrap();
        let bytes = |set: &[PreparedImage]| -> Vec<Vec<u8>> {
            set.iter().map(|p| p.bytes.clone()).collect()
        };
        assert_eq!(bytes(&sent), bytes(&previewed));
    }

    #[test]
    fn a_fake_among_real_images_is_refused_by_its_position() {
        #[track_caller]
        fn check(files: Vec<Vec<u8>>, code: &str, sentence: &str) {
            let refused = prepare_all(files, DEFAULT_MMS_BUDGET).unwrap_err();
            assert_eq!(
                (refused.code().as_str(), refused.to_string().as_str()),
                (code, sentence)
            );
        }
        let png = noisy_png(10, 10);
        let text = b"I am a text file named photo.png".to_vec();
        check(
            vec![png.clone(), text.clone(), png.clone()],
            "not_an_image",
            "The 2nd file is not a JPEG, PNG or GIF image.",
        );
        check(
            vec![png.clone(), png.clone(), Vec::new()],
            "file_empty",
            "The 3rd file is empty.",
        );
        check(
            vec![png[..30].to_vec(), png.clone()],
            "image_unreadable",
            "The 1st file could not be read: it may be damaged.",
        );
        // Alone, a file is "this file", as before.
        check(
            vec![text],
            "not_an_image",
            "This file is not a JPEG, PNG or GIF image, so it cannot be sent.",
        );
    }

    #[test]
    fn a_set_that_cannot_fit_says_so_in_words() {
        let files = vec![noisy_png(300, 300), noisy_png(300, 300)];
        let refused = prepare_all(files, 400).unwrap_err();
        assert_eq!(refused.code().as_str(), "image_too_large_to_send");
        assert_eq!(
            refused.to_string(),
            "These 2 images can't be made small enough to go in one message, which carries \
             0.0 MB of images in all. Remove one, or send them in two messages."
        );
    }
}
