//! A message's media on their way out of the store: the `media:` URI scheme that hands the page
//! an image's stored bytes as they are (no base64 in JSON, no copy in the page's heap), and
//! "Save…", whose dialog Rust opens and whose file Rust writes, so that the page never holds a
//! path it could write to.
//!
//! The page names an item `media://localhost/<message>/<index>` (Windows:
//! `http://media.localhost/…`; `ui/src/backend/` builds it). Only images are answered, with
//! their stored type and `nosniff`: a PDF or a vCard is never rendered by the webview, only
//! saved.

use std::path::PathBuf;

use switchboard_engine::core::model::{ImageKind, MediaKind, MessageId};
use switchboard_engine::store::Attachment;
use switchboard_engine::ErrorCode;
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};
use tauri_plugin_dialog::DialogExt;

use crate::error::{AppError, AppResult};
use crate::state::App;

/// The scheme's name, as registered and as the CSP's `img-src` allows it.
pub const SCHEME: &str = "media";

/// Serves one request of the scheme, off the main thread (a read from the encrypted store).
pub fn serve<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let handle = ctx.app_handle().clone();
    let method_ok = request.method() == tauri::http::Method::GET;
    let item = parse_path(request.uri().path());
    tauri::async_runtime::spawn_blocking(move || {
        let response = match (method_ok, item) {
            (false, _) => plain(StatusCode::METHOD_NOT_ALLOWED, "Only GET is served."),
            (true, None) => plain(StatusCode::BAD_REQUEST, "Not a media item's address."),
            (true, Some((message, index, size))) => {
                let found = handle
                    .state::<App>()
                    .engine()
                    .and_then(|e| Ok(e.attachment(message, index)?));
                if let Err(e) = &found {
                    tracing::warn!(message = message.0, index, code = %e.code, "a media item could not be read");
                }
                match size {
                    Size::Original => answer(found),
                    Size::Preview => answer(found.map(|a| a.map(preview))),
                }
            }
        };
        responder.respond(response);
    });
}

/// Which bytes of an image the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// As received (the viewer).
    Original,
    /// At most `PREVIEW_SIDE` on its longer side (the thread): a thread of 20 photos then holds
    /// 20 small bitmaps, not 20 camera-sized ones.
    Preview,
}

/// The longer side of a thread's preview: a single photo is shown at most 280 px high, a
/// grid's squares at 140 px, so this is sharp on a screen of twice the density.
pub const PREVIEW_SIDE: u32 = 800;

/// `/<message>/<index>` or `/<message>/<index>/preview` (the separators may arrive
/// percent-encoded, as `convertFileSrc` writes them) → the item and its size; anything else →
/// `None`.
pub fn parse_path(path: &str) -> Option<(MessageId, u8, Size)> {
    let path = path
        .strip_prefix('/')?
        .replace("%2F", "/")
        .replace("%2f", "/");
    let (path, size) = match path.strip_suffix("/preview") {
        Some(rest) => (rest.to_owned(), Size::Preview),
        None => (path, Size::Original),
    };
    let (message, index) = path.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(message) || !digits(index) {
        return None;
    }
    let index: u8 = index.parse().ok()?;
    if usize::from(index) >= switchboard_engine::core::media::MAX_MEDIA_PER_MESSAGE {
        return None;
    }
    Some((MessageId(message.parse().ok()?), index, size))
}

/// The item made a preview: scaled down to `PREVIEW_SIDE` when it is larger (JPEG stays JPEG,
/// PNG stays PNG, keeping its transparency), as it is otherwise — a GIF too, which would lose
/// its animation, and an image that cannot be decoded within the limits, which the webview
/// then handles as it would the original.
pub fn preview(mut item: Attachment) -> Attachment {
    let (Some(w), Some(h)) = (item.width, item.height) else {
        return item;
    };
    let kind = item.image_kind();
    if w.max(h) <= PREVIEW_SIDE || !matches!(kind, Some(ImageKind::Jpeg | ImageKind::Png)) {
        return item;
    }
    let Some(scaled) = scale(&item.bytes, kind == Some(ImageKind::Png)) else {
        return item;
    };
    item.bytes = scaled;
    item
}

fn scale(bytes: &[u8], png: bool) -> Option<Vec<u8>> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    // A picture of absurd dimensions is not decoded here (the store accepts up to 16 MB).
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let small = reader.decode().ok()?.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE);
    let mut out = Vec::new();
    if png {
        small
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .ok()?;
    } else {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82)
            .encode_image(&small.to_rgb8())
            .ok()?;
    }
    Some(out)
}

/// The answer to a request for an item: its bytes when it is an image the webview can show,
/// else a 404 (a file of another kind is saved, never rendered).
pub fn answer(found: AppResult<Option<Attachment>>) -> Response<Vec<u8>> {
    match found {
        Err(_) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The store could not be read.",
        ),
        Ok(None) => plain(
            StatusCode::NOT_FOUND,
            "No such media item (or not downloaded yet).",
        ),
        Ok(Some(a)) => match a.image_kind() {
            None => plain(
                StatusCode::NOT_FOUND,
                "Only images are shown; save this file instead.",
            ),
            Some(kind) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, mime_of(kind))
                .header(header::CONTENT_LENGTH, a.bytes.len())
                .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                // Kept out of any cache, on disk above all: the store is the one copy, encrypted.
                .header(header::CACHE_CONTROL, "no-store")
                .body(a.bytes)
                .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "")),
        },
    }
}

fn mime_of(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Jpeg => "image/jpeg",
        ImageKind::Png => "image/png",
        ImageKind::Gif => "image/gif",
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(text.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Asks where to save a message's item `index` (a save dialog over `window`) and writes its
/// bytes there exactly as stored. Answers the file's name, or `None` when the person cancelled.
pub async fn save<R: Runtime>(
    app: &App,
    window: &tauri::WebviewWindow<R>,
    message: MessageId,
    index: u8,
) -> AppResult<Option<String>> {
    let (item, sent_at) = app
        .blocking(move |engine| {
            let item = engine.attachment(message, index)?.ok_or_else(|| {
                AppError::new(
                    ErrorCode::AttachmentMissing,
                    "This attachment is not here (any more, or not downloaded yet).",
                )
            })?;
            let sent_at = engine
                .store()
                .get_message(message)
                .map_err(switchboard_engine::EngineError::from)?
                .created_at;
            Ok::<_, AppError>((item, sent_at))
        })
        .await?;
    let name = suggested_name(item.kind, &item.mime, sent_at, index);
    let (tx, rx) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_parent(window)
        .set_title(format!("Save {}", item.kind.label().to_lowercase()))
        .set_file_name(&name)
        .save_file(move |picked| {
            let _ = tx.send(picked);
        });
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path: PathBuf = picked.into_path().map_err(|_| {
        AppError::new(
            ErrorCode::Io,
            "That place can't be written to: choose a folder on this computer.",
        )
    })?;
    let bytes = item.bytes.len();
    let to = path.clone();
    crate::state::off_the_runtime(move || write(&to, &item.bytes)).await?;
    tracing::info!(message = message.0, index, bytes, "a media item was saved");
    Ok(path.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Writes the bytes beside their destination, then moves them into place: a failure midway
/// leaves no half file under the chosen name.
fn write(path: &std::path::Path, bytes: &[u8]) -> AppResult<()> {
    let failed = |e: std::io::Error| {
        AppError::new(
            ErrorCode::Io,
            format!("The file could not be saved there ({e})."),
        )
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        failed(e)
    })
}

/// The name the save dialog offers: `photo-2026-03-14-1.jpg` (the message's date, UTC; the
/// item's place counted from 1; the extension from its type).
pub fn suggested_name(kind: MediaKind, mime: &str, sent_at_ms: i64, index: u8) -> String {
    let stem = match kind {
        MediaKind::Image => "photo",
        MediaKind::Contact => "contact",
        MediaKind::Pdf => "document",
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
        MediaKind::Other => "file",
    };
    let (y, m, d) = civil_date(sent_at_ms.div_euclid(86_400_000));
    format!(
        "{stem}-{y:04}-{m:02}-{d:02}-{}.{}",
        u16::from(index) + 1,
        extension(kind, mime)
    )
}

fn extension(kind: MediaKind, mime: &str) -> &'static str {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(image) = ImageKind::from_mime(&essence) {
        return image.extension();
    }
    match (kind, essence.as_str()) {
        (_, "application/pdf") => "pdf",
        (_, "text/vcard" | "text/x-vcard" | "text/directory") => "vcf",
        (_, "audio/mpeg") => "mp3",
        (_, "audio/mp4" | "audio/m4a" | "audio/x-m4a") => "m4a",
        (_, "audio/ogg") => "ogg",
        (_, "audio/amr") => "amr",
        (_, "audio/wav" | "audio/x-wav") => "wav",
        (_, "video/mp4") => "mp4",
        (_, "video/quicktime") => "mov",
        (_, "video/3gpp") => "3gp",
        (_, "image/webp") => "webp",
        (_, "image/heic") => "heic",
        (MediaKind::Pdf, _) => "pdf",
        (MediaKind::Contact, _) => "vcf",
        _ => "bin",
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_path(path: &str, expected: Option<(i64, u8)>) {
        assert_eq!(
            parse_path(path),
            expected.map(|(m, i)| (MessageId(m), i, Size::Original)),
            "{path}"
        );
    }

    #[test]
    fn an_items_address_is_its_message_and_index() {
        check_path("/12/0", Some((12, 0)));
        check_path("/12%2F3", Some((12, 3)));
        check_path("/12%2f9", Some((12, 9)));
        check_path("/12/10", None); // past the 10 a message may carry
        check_path("/12/0/thumbnail", None);
        check_path("/12/preview", None);
        check_path("/12/300", None);
        check_path("/12", None);
        check_path("/12/", None);
        check_path("//0", None);
        check_path("/-1/0", None);
        check_path("/12/0/extra", None);
        check_path("/../etc/passwd", None);
        check_path("/12/+1", None);
        check_path("/99999999999999999999/0", None);
        check_path("12/0", None);
    }

    #[test]
    fn a_preview_is_asked_for_by_its_suffix() {
        let preview = |m, i| Some((MessageId(m), i, Size::Preview));
        assert_eq!(parse_path("/12/3/preview"), preview(12, 3));
        assert_eq!(parse_path("/12%2F3%2Fpreview"), preview(12, 3));
        assert_eq!(parse_path("/12%2F3/preview"), preview(12, 3));
    }

    fn picture(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), format)
            .unwrap();
        out
    }

    #[track_caller]
    fn check_preview(
        format: image::ImageFormat,
        mime: &str,
        size: (u32, u32),
        expected: (u32, u32),
    ) {
        let bytes = picture(format, size.0, size.1);
        let mut original = item(MediaKind::Image, mime, &bytes);
        (original.width, original.height) = (Some(size.0), Some(size.1));
        let made = preview(original.clone());
        let decoded = image::load_from_memory(&made.bytes).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            expected,
            "{mime} {size:?}"
        );
        assert_eq!(
            image::guess_format(&made.bytes).unwrap(),
            format,
            "the same format"
        );
        if size == expected {
            assert!(made == original, "a small image is served as it is");
        }
    }

    #[test]
    fn a_thread_gets_previews_no_larger_than_it_shows() {
        use image::ImageFormat::{Gif, Jpeg, Png};
        check_preview(Jpeg, "image/jpeg", (1600, 1200), (800, 600));
        check_preview(Jpeg, "image/jpeg", (1200, 1600), (600, 800));
        check_preview(Png, "image/png", (2000, 500), (800, 200));
        check_preview(Jpeg, "image/jpeg", (800, 600), (800, 600));
        check_preview(Png, "image/png", (64, 48), (64, 48));
        // A GIF keeps its frames: served as it is.
        check_preview(Gif, "image/gif", (1000, 1000), (1000, 1000));
    }

    #[test]
    fn a_picture_that_cannot_be_decoded_is_previewed_as_it_is() {
        let mut broken = item(
            MediaKind::Image,
            "image/jpeg",
            b"\xFF\xD8\xFF\xE0 not a jpeg",
        );
        (broken.width, broken.height) = (Some(4000), Some(3000));
        assert!(preview(broken.clone()) == broken);
    }

    fn item(kind: MediaKind, mime: &str, bytes: &[u8]) -> Attachment {
        Attachment {
            message_id: MessageId(1),
            index: 0,
            kind,
            mime: mime.into(),
            width: None,
            height: None,
            bytes: bytes.to_vec(),
        }
    }

    #[track_caller]
    fn check_answer(
        found: AppResult<Option<Attachment>>,
        status: u16,
        mime: &str,
        body: Option<&[u8]>,
    ) {
        let r = answer(found);
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.headers()[header::CONTENT_TYPE], mime);
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        if let Some(body) = body {
            assert_eq!(r.body(), body);
        }
    }

    #[test]
    fn only_images_are_served_and_as_they_are_stored() {
        let jpeg = b"\xFF\xD8\xFF\xE0 the original bytes";
        check_answer(
            Ok(Some(item(MediaKind::Image, "image/jpeg", jpeg))),
            200,
            "image/jpeg",
            Some(jpeg),
        );
        check_answer(
            Ok(Some(item(MediaKind::Image, "image/png", b"png"))),
            200,
            "image/png",
            Some(b"png"),
        );
        check_answer(
            Ok(Some(item(MediaKind::Image, "image/gif", b"gif"))),
            200,
            "image/gif",
            Some(b"gif"),
        );
        // Kinds the webview must never render, even under an image's type.
        let not_shown = "text/plain; charset=utf-8";
        check_answer(
            Ok(Some(item(MediaKind::Pdf, "application/pdf", b"%PDF"))),
            404,
            not_shown,
            None,
        );
        check_answer(
            Ok(Some(item(MediaKind::Contact, "text/vcard", b"BEGIN:VCARD"))),
            404,
            not_shown,
            None,
        );
        check_answer(
            Ok(Some(item(MediaKind::Other, "image/jpeg", b"<svg"))),
            404,
            not_shown,
            None,
        );
        check_answer(
            Ok(Some(item(MediaKind::Image, "image/svg+xml", b"<svg"))),
            404,
            not_shown,
            None,
        );
        check_answer(Ok(None), 404, not_shown, None);
        check_answer(
            Err(AppError::new(ErrorCode::Database, "x")),
            500,
            not_shown,
            None,
        );
    }

    #[test]
    fn a_served_image_is_kept_out_of_every_cache() {
        let r = answer(Ok(Some(item(MediaKind::Image, "image/jpeg", b"x"))));
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[track_caller]
    fn check_name(kind: MediaKind, mime: &str, at: i64, index: u8, expected: &str) {
        assert_eq!(suggested_name(kind, mime, at, index), expected);
    }

    #[test]
    fn the_save_dialog_offers_a_name_by_kind_date_and_place() {
        // 2026-03-14 09:26:53 UTC.
        let pi_day = 1_773_480_413_000;
        check_name(
            MediaKind::Image,
            "image/jpeg",
            pi_day,
            0,
            "photo-2026-03-14-1.jpg",
        );
        check_name(
            MediaKind::Image,
            "image/png",
            pi_day,
            1,
            "photo-2026-03-14-2.png",
        );
        check_name(
            MediaKind::Image,
            "image/gif",
            pi_day,
            9,
            "photo-2026-03-14-10.gif",
        );
        check_name(
            MediaKind::Pdf,
            "application/pdf",
            pi_day,
            0,
            "document-2026-03-14-1.pdf",
        );
        check_name(
            MediaKind::Contact,
            "text/x-vcard",
            pi_day,
            2,
            "contact-2026-03-14-3.vcf",
        );
        check_name(
            MediaKind::Audio,
            "audio/amr",
            pi_day,
            0,
            "audio-2026-03-14-1.amr",
        );
        check_name(
            MediaKind::Video,
            "video/mp4; codecs=avc1",
            pi_day,
            0,
            "video-2026-03-14-1.mp4",
        );
        check_name(
            MediaKind::Other,
            "application/zip",
            pi_day,
            0,
            "file-2026-03-14-1.bin",
        );
        check_name(
            MediaKind::Image,
            "image/jpeg",
            0,
            0,
            "photo-1970-01-01-1.jpg",
        );
        check_name(
            MediaKind::Image,
            "image/jpeg",
            951_782_400_000,
            0,
            "photo-2000-02-29-1.jpg",
        );
        check_name(
            MediaKind::Image,
            "image/jpeg",
            -86_400_000,
            0,
            "photo-1969-12-31-1.jpg",
        );
    }

    #[test]
    fn a_save_writes_the_original_bytes_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo-2026-03-14-1.jpg");
        let bytes: Vec<u8> = (0..=255).cycle().take(300_000).collect();
        write(&path, &bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("photo-2026-03-14-1.jpg")]);

        let err = write(&dir.path().join("missing-folder").join("x.jpg"), &bytes).unwrap_err();
        assert_eq!(err.code, ErrorCode::Io);
        assert!(
            err.message.starts_with("The file could not be saved there"),
            "{}",
            err.message
        );
    }
}
