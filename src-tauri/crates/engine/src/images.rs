//! Images for MMS: recognised by content, measured, and — when larger than the line's MMS
//! budget — scaled down and re-encoded as JPEG until they fit, so that the user can see the
//! result before sending.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};
use serde::{Deserialize, Serialize};
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

/// Checks `bytes` is a JPEG, PNG or GIF by content and fits it into `budget` bytes.
pub fn prepare(bytes: Vec<u8>, budget: usize) -> Result<PreparedImage> {
    let kind = media::sniff(&bytes)?;
    let (width, height) = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|_| EngineError::ImageUnreadable)?
        .into_dimensions()
        .map_err(|_| EngineError::ImageUnreadable)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(EngineError::ImageUnreadable);
    }
    if bytes.len() <= budget {
        return Ok(PreparedImage {
            kind,
            width,
            height,
            resized: false,
            bytes,
        });
    }
    shrink(&bytes, budget)
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
}
