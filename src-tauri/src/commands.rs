//! The webview's commands: each translates its arguments, calls the engine, and translates the
//! answer. No rule of the product lives here (GitButler's one-line delegations are the model).
//! Every command is also listed in `ipc`, which registers it and writes its TypeScript.
//!
//! Every command is `async`, so Tauri never runs one on the window's main thread, and its
//! blocking work (the store, image fitting, search, import) runs on the blocking pool through
//! `App::blocking`: a slow search or a 64-megapixel photo freezes neither the window nor the
//! other commands. A test below fails on a command that is not `async`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use switchboard_engine::carrier::S3Config;
use switchboard_engine::core::model::{
    ContactId, ImageKind, Line, LineId, MessageId, TemplateId, ThreadId,
};
use switchboard_engine::core::templates::SavedTemplate;
use switchboard_engine::core::triage::View;
use switchboard_engine::store::{
    DraftKey, MessageCursor, MessageRow, OutboxJob, ScheduledId, ThreadCursor,
};
use switchboard_engine::{
    twilio_api_url, AccountConnected, AccountStatus, ComposeRequest, ComposerState, ContactEdit,
    ContactView, DefaultLineEdit, DraftImageFile, ErrorCode, ImportFormat, ImportSummary,
    LineUnread, MediaHostSummary, PreparedImage, Preview, Recipient, ScheduleReceipt,
    ScheduledView, SearchGroup, SendReceipt, SettingChange, Settings, ThreadDetail, ThreadView,
    TwilioCredentials, DEFAULT_MMS_BUDGET,
};
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::{off_the_runtime, App};
use crate::{background, media, window};

/// Most hits a search returns.
const SEARCH_LIMIT: usize = 50;
/// Largest image accepted from the page as base64, before decoding: the JSON transport's own
/// guard (base64 is a third larger than the image, which the engine checks again).
const MAX_IMAGE_BASE64: usize = 40 * 1024 * 1024;
/// Largest set of images accepted from the page in one call, as base64: ten phone photos of
/// 7 MB each, with room to spare (the set sent is within the line's 5 MB budget anyway).
const MAX_IMAGES_BASE64: usize = 100 * 1024 * 1024;

/// What the composer sends to Rust: recipients as typed (names or numbers), the body, the line
/// picked (if any), and the prepared images as base64, in the order they are sent.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
pub struct ComposeInput {
    pub recipients: Vec<String>,
    pub body: String,
    pub line: Option<LineId>,
    pub images: Vec<String>,
    /// The body is a template ("Hi {first_name}"), filled for each recipient.
    #[serde(default)]
    pub template: bool,
}

/// An image as it will be sent, with its bytes for display.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ImageData {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// True when the original was over the line's budget and this is the scaled version.
    pub resized: bool,
    pub bytes: usize,
    /// The image, base64.
    pub data: String,
}

/// A message's images as they will be sent, and the line's budget for all of them together.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AttachedImages {
    pub images: Vec<ImageData>,
    /// Bytes of media a message may carry in all (Twilio: 5 MB).
    pub budget: usize,
}

/// An image of a draft as the page holds it: prepared already, base64, and whether preparing
/// scaled it down.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct DraftImageInput {
    pub data: String,
    pub resized: bool,
}

/// What the window shows in its status bar and the offline banner.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AppStatus {
    pub version: String,
    pub data_dir: String,
    pub carrier: String,
    /// Whether the carrier answered the last call; `null` before the first one.
    pub online: Option<bool>,
    /// Messages waiting to be sent.
    pub pending: i64,
    pub unread: i64,
    /// Why messages are not being sent from this window, if they are not.
    pub problem: Option<AppError>,
    pub pinned: bool,
    /// Scheduled messages found late by more than 15 minutes, waiting for the user.
    pub late: i64,
}

#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct ContactInput {
    pub name: String,
    pub numbers: Vec<String>,
    pub default_line: Option<LineId>,
}

fn decode_image(data: &str) -> AppResult<Vec<u8>> {
    if data.len() > MAX_IMAGE_BASE64 {
        return Err(AppError::new(
            ErrorCode::FileTooLarge,
            "This image is too large to attach (more than 30 MB).",
        ));
    }
    BASE64.decode(data.trim()).map_err(|_| {
        AppError::new(
            ErrorCode::ImageDataMalformed,
            "The image did not arrive intact. Attach it again.",
        )
    })
}

/// Each image decoded, under the one-image guard and the guard for all of them together.
fn decode_images(images: &[String]) -> AppResult<Vec<Vec<u8>>> {
    if images.iter().map(String::len).sum::<usize>() > MAX_IMAGES_BASE64 {
        return Err(AppError::new(
            ErrorCode::FileTooLarge,
            "These images are too large to attach together (more than 75 MB). Attach fewer at a \
             time.",
        ));
    }
    images.iter().map(|data| decode_image(data)).collect()
}

fn compose_request(input: ComposeInput) -> AppResult<ComposeRequest> {
    Ok(ComposeRequest {
        recipients: input.recipients,
        body: input.body,
        images: decode_images(&input.images)?,
        line: input.line,
    })
}

fn image_data(image: PreparedImage) -> ImageData {
    ImageData {
        kind: image.kind,
        width: image.width,
        height: image.height,
        resized: image.resized,
        bytes: image.bytes.len(),
        data: BASE64.encode(&image.bytes),
    }
}

#[tauri::command]
pub async fn status(app: State<'_, App>, window: tauri::WebviewWindow) -> AppResult<AppStatus> {
    let online = app.runner().and_then(|r| r.online());
    let problem = app
        .store_problem()
        .or_else(|| app.runner_problem.lock().ok().and_then(|p| p.clone()));
    let data_dir = app.data_dir.display().to_string();
    app.blocking_if_open(move |engine| {
        Ok(AppStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            data_dir,
            carrier: engine
                .and_then(|e| e.account_status().ok())
                .map_or_else(|| "sandbox".to_owned(), |s| s.carrier),
            online,
            pending: engine.and_then(|e| e.pending_count().ok()).unwrap_or(0),
            unread: engine.and_then(|e| e.total_unread().ok()).unwrap_or(0),
            late: engine.and_then(|e| e.late_count().ok()).unwrap_or(0),
            problem,
            // Tauri runs the window's getter on the main thread and waits here for it.
            pinned: window.is_always_on_top().unwrap_or(false),
        })
    })
    .await
}

#[tauri::command]
pub async fn lines(app: State<'_, App>) -> AppResult<Vec<Line>> {
    app.blocking(|e| e.lines()).await
}

#[tauri::command]
pub async fn add_line(
    app: State<'_, App>,
    number: String,
    label: String,
    color: Option<String>,
) -> AppResult<Line> {
    app.blocking(move |e| e.add_line(&number, &label, color.as_deref()))
        .await
}

/// Renames (at the carrier too, see `Engine::rename_line`) and recolours a line.
#[tauri::command]
pub async fn edit_line(
    app: State<'_, App>,
    line: LineId,
    label: String,
    color: String,
) -> AppResult<Line> {
    // Only the carrier is kept: a runner (which holds the outbox lock) is not held across the
    // request.
    let carrier = app.runner().map(|r| r.carrier());
    app.blocking_with_network(move |e| async move {
        let current = e.line(line)?;
        if current.label != label.trim() {
            e.rename_line(carrier.as_deref(), line, &label).await?;
        }
        e.set_line_color(line, &color)
    })
    .await
}

#[tauri::command]
pub async fn account(app: State<'_, App>) -> AppResult<AccountStatus> {
    app.blocking(|e| e.account_status()).await
}

/// Checks the credentials with Twilio, keeps them in the keychain, adopts the account's numbers
/// as lines, and starts sending through Twilio.
#[tauri::command]
pub async fn connect_twilio(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    account_sid: String,
    auth_token: String,
) -> AppResult<AccountConnected> {
    let credentials = TwilioCredentials::checked(&account_sid, &auth_token)?;
    let connected = app
        .blocking_with_network(move |e| async move {
            e.connect_twilio(&credentials, &twilio_api_url()).await
        })
        .await?;
    background::reconnect(&handle);
    Ok(connected)
}

#[tauri::command]
pub async fn disconnect_twilio(
    app: State<'_, App>,
    handle: tauri::AppHandle,
) -> AppResult<AccountStatus> {
    app.blocking(move |e| {
        e.disconnect_twilio()?;
        background::reconnect(&handle);
        e.account_status()
    })
    .await
}

/// The S3-compatible bucket Twilio fetches images from; checked, then kept in the keychain.
/// `Debug` never shows the secret key.
#[derive(Clone, Deserialize, ts_rs::TS)]
pub struct MediaHostInput {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub path_style: bool,
}

impl std::fmt::Debug for MediaHostInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaHostInput")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

#[tauri::command]
pub async fn set_media_host(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    host: MediaHostInput,
) -> AppResult<MediaHostSummary> {
    let config = S3Config {
        endpoint: host.endpoint,
        region: host.region,
        bucket: host.bucket,
        access_key_id: host.access_key_id,
        secret_access_key: host.secret_access_key,
        path_style: host.path_style,
    };
    let summary = app
        .blocking_with_network(move |e| async move { e.set_media_host(&config).await })
        .await?;
    background::reconnect(&handle);
    Ok(summary)
}

#[tauri::command]
pub async fn remove_media_host(
    app: State<'_, App>,
    handle: tauri::AppHandle,
) -> AppResult<AccountStatus> {
    app.blocking(move |e| {
        e.remove_media_host()?;
        background::reconnect(&handle);
        e.account_status()
    })
    .await
}

#[tauri::command]
pub async fn threads(
    app: State<'_, App>,
    view: View,
    line: Option<LineId>,
    limit: usize,
    before: Option<ThreadCursor>,
) -> AppResult<Vec<ThreadView>> {
    app.blocking(move |e| e.view_threads(view, line, limit, before))
        .await
}

#[tauri::command]
pub async fn mark_done(app: State<'_, App>, thread: ThreadId) -> AppResult<ThreadView> {
    app.blocking(move |e| e.mark_done(thread)).await
}

#[tauri::command]
pub async fn mark_undone(app: State<'_, App>, thread: ThreadId) -> AppResult<ThreadView> {
    app.blocking(move |e| e.mark_undone(thread)).await
}

/// Marked unread: the window no longer counts as showing it, so it stays unread.
#[tauri::command]
pub async fn mark_unread(app: State<'_, App>, thread: ThreadId) -> AppResult<ThreadView> {
    {
        let mut viewing = app.viewing.lock().unwrap_or_else(|e| e.into_inner());
        if *viewing == Some(thread) {
            *viewing = None;
        }
    }
    app.blocking(move |e| e.mark_unread(thread)).await
}

/// Snoozed until `until` (milliseconds since the epoch); the runner is told so that it wakes
/// at that time.
#[tauri::command]
pub async fn snooze(app: State<'_, App>, thread: ThreadId, until: i64) -> AppResult<ThreadView> {
    let snoozed = app.blocking(move |e| e.snooze(thread, until)).await?;
    app.wake();
    Ok(snoozed)
}

/// Unread messages per line, for the line filter.
#[tauri::command]
pub async fn unread_by_line(app: State<'_, App>) -> AppResult<Vec<LineUnread>> {
    app.blocking(|e| e.unread_by_line()).await
}

#[tauri::command]
pub async fn thread(
    app: State<'_, App>,
    id: ThreadId,
    limit: usize,
    before: Option<MessageCursor>,
) -> AppResult<ThreadDetail> {
    app.blocking(move |e| e.thread(id, limit, before)).await
}

/// Messages read again by id (an event changed them); the deleted ones are left out.
#[tauri::command]
pub async fn messages(app: State<'_, App>, ids: Vec<MessageId>) -> AppResult<Vec<MessageRow>> {
    app.blocking(move |e| e.messages(&ids)).await
}

/// The window now shows `thread` (or no thread): it is marked read, and its new messages raise
/// no notification while the window has focus.
#[tauri::command]
pub async fn view_thread(app: State<'_, App>, thread: Option<ThreadId>) -> AppResult<()> {
    // Before the read mark is awaited: a message arriving meanwhile, or a second view_thread
    // answered first, would otherwise be judged against the thread shown before.
    *app.viewing.lock().unwrap_or_else(|e| e.into_inner()) = thread;
    if let Some(id) = thread {
        app.blocking(move |e| e.mark_read(id)).await?;
    }
    Ok(())
}

#[tauri::command]
pub async fn search(app: State<'_, App>, query: String) -> AppResult<Vec<SearchGroup>> {
    app.blocking(move |e| e.search(&query, SEARCH_LIMIT)).await
}

#[tauri::command]
pub async fn contacts(app: State<'_, App>) -> AppResult<Vec<ContactView>> {
    app.blocking(|e| e.contacts()).await
}

#[tauri::command]
pub async fn find_contacts(app: State<'_, App>, query: String) -> AppResult<Vec<ContactView>> {
    app.blocking(move |e| e.find_contacts(&query, 10)).await
}

#[tauri::command]
pub async fn add_contact(app: State<'_, App>, contact: ContactInput) -> AppResult<ContactView> {
    app.blocking(move |e| e.add_contact(&contact.name, &contact.numbers, contact.default_line))
        .await
}

#[tauri::command]
pub async fn edit_contact(
    app: State<'_, App>,
    id: ContactId,
    contact: ContactInput,
) -> AppResult<ContactView> {
    let edit = ContactEdit {
        name: Some(contact.name),
        numbers: Some(contact.numbers),
        default_line: contact
            .default_line
            .map_or(DefaultLineEdit::Clear, DefaultLineEdit::Set),
    };
    app.blocking(move |e| e.edit_contact(id, &edit)).await
}

#[tauri::command]
pub async fn set_default_line(
    app: State<'_, App>,
    contact: ContactId,
    line: Option<LineId>,
) -> AppResult<ContactView> {
    app.blocking(move |e| e.set_default_line(contact, line))
        .await
}

#[tauri::command]
pub async fn remove_contact(app: State<'_, App>, id: ContactId) -> AppResult<()> {
    app.blocking(move |e| e.remove_contact(id).map(drop)).await
}

#[tauri::command]
pub async fn import_contacts(app: State<'_, App>, text: String) -> AppResult<ImportSummary> {
    app.blocking(move |e| e.import_contacts(&text, ImportFormat::detect(&text)))
        .await
}

/// A recipient typed as a number (or a contact's name), for a chip.
#[tauri::command]
pub async fn recipient(app: State<'_, App>, input: String) -> AppResult<Recipient> {
    app.blocking(move |e| e.recipient(&input)).await
}

/// Checks a message's images (those attached, then those added) and fits them together to the
/// line's budget; answers what will be sent, in order. Decoding and re-encoding up to ten
/// camera photos takes seconds.
#[tauri::command]
pub async fn prepare_images(images: Vec<String>) -> AppResult<AttachedImages> {
    off_the_runtime(move || {
        let prepared =
            switchboard_engine::prepare_images(decode_images(&images)?, DEFAULT_MMS_BUDGET)?;
        Ok(AttachedImages {
            images: prepared.into_iter().map(image_data).collect(),
            budget: DEFAULT_MMS_BUDGET,
        })
    })
    .await
}

#[tauri::command]
pub async fn preview(app: State<'_, App>, input: ComposerState) -> AppResult<Preview> {
    app.blocking(move |e| e.live_preview(&input)).await
}

#[tauri::command]
pub async fn send(app: State<'_, App>, input: ComposeInput) -> AppResult<SendReceipt> {
    let receipt = app
        .blocking(move |e| {
            let template = input.template;
            let request = compose_request(input)?;
            let draft = Some(DraftKey::Composer);
            Ok::<_, AppError>(match template {
                true => e.send_template(&request, draft)?,
                false => e.send(&request, draft)?,
            })
        })
        .await?;
    app.wake();
    Ok(receipt)
}

/// Keeps the composer's message to send at `send_at` (ms since the epoch); its draft is
/// cleared with it, as a send clears it.
#[tauri::command]
pub async fn schedule(
    app: State<'_, App>,
    input: ComposeInput,
    send_at: i64,
) -> AppResult<ScheduleReceipt> {
    let receipt = app
        .blocking(move |e| {
            let template = input.template;
            let request = compose_request(input)?;
            Ok::<_, AppError>(e.schedule(&request, send_at, Some(DraftKey::Composer), template)?)
        })
        .await?;
    // The runner looks again, and so learns when the next scheduled message is due.
    app.wake();
    Ok(receipt)
}

#[tauri::command]
pub async fn scheduled(app: State<'_, App>) -> AppResult<Vec<ScheduledView>> {
    app.blocking(|e| e.scheduled()).await
}

#[tauri::command]
pub async fn edit_scheduled(
    app: State<'_, App>,
    id: ScheduledId,
    body: String,
    send_at: i64,
) -> AppResult<()> {
    app.blocking(move |e| e.edit_scheduled(id, &body, send_at))
        .await?;
    app.wake();
    Ok(())
}

#[tauri::command]
pub async fn cancel_scheduled(app: State<'_, App>, id: ScheduledId) -> AppResult<()> {
    app.blocking(move |e| e.cancel_scheduled(id)).await
}

/// Sends waiting messages now: `ids`, or every one held for being late.
#[tauri::command]
pub async fn send_scheduled_now(
    app: State<'_, App>,
    ids: Option<Vec<ScheduledId>>,
) -> AppResult<usize> {
    let sent = app
        .blocking(move |e| e.send_scheduled_now(ids.as_deref()))
        .await?;
    app.wake();
    Ok(sent)
}

#[tauri::command]
pub async fn reply(
    app: State<'_, App>,
    thread: ThreadId,
    body: String,
    images: Vec<String>,
    template: bool,
) -> AppResult<SendReceipt> {
    let receipt = app
        .blocking(move |e| {
            let images = decode_images(&images)?;
            let draft = Some(DraftKey::Thread(thread));
            Ok::<_, AppError>(match template {
                true => e.reply_template(thread, &body, images, draft)?,
                false => e.reply(thread, &body, images, draft)?,
            })
        })
        .await?;
    app.wake();
    Ok(receipt)
}

#[tauri::command]
pub async fn templates(app: State<'_, App>) -> AppResult<Vec<SavedTemplate>> {
    app.blocking(|e| e.templates()).await
}

#[tauri::command]
pub async fn add_template(
    app: State<'_, App>,
    name: String,
    text: String,
) -> AppResult<SavedTemplate> {
    app.blocking(move |e| e.add_template(&name, &text)).await
}

#[tauri::command]
pub async fn remove_template(app: State<'_, App>, id: TemplateId) -> AppResult<()> {
    app.blocking(move |e| e.remove_template(id)).await
}

/// Asks where to save a message's media item and writes it there exactly as stored; answers
/// the file's name, or `None` when the person cancelled (see `media::save`).
#[tauri::command]
pub async fn save_attachment(
    app: State<'_, App>,
    window: tauri::WebviewWindow,
    message: MessageId,
    index: u8,
) -> AppResult<Option<String>> {
    media::save(&app, &window, message, index).await
}

#[tauri::command]
pub async fn outbox(app: State<'_, App>) -> AppResult<Vec<OutboxJob>> {
    app.blocking(|e| e.outbox()).await
}

/// Retries a failed message: the same one queued again, or, when the carrier reported it
/// failed after accepting it, a new one with its words and images (`Engine::retry_failed_message`).
#[tauri::command]
pub async fn retry_message(
    app: State<'_, App>,
    message: MessageId,
    body: Option<String>,
) -> AppResult<()> {
    app.blocking(move |e| e.retry_failed_message(message, body.as_deref()))
        .await?;
    app.wake();
    Ok(())
}

#[tauri::command]
pub async fn retry_media(app: State<'_, App>, message: MessageId) -> AppResult<()> {
    app.blocking(move |e| e.retry_media(message)).await?;
    app.wake();
    Ok(())
}

#[tauri::command]
pub async fn delete_message(app: State<'_, App>, message: MessageId) -> AppResult<ThreadId> {
    app.blocking(move |e| e.delete_failed_message(message))
        .await
}

#[tauri::command]
pub async fn load_draft(app: State<'_, App>, key: DraftKey) -> AppResult<Option<String>> {
    app.blocking(move |e| e.load_draft(key)).await
}

#[tauri::command]
pub async fn save_draft(app: State<'_, App>, key: DraftKey, json: String) -> AppResult<()> {
    app.blocking(move |e| e.save_draft(key, &json)).await
}

/// Replaces a draft's images (none removes them); called when the set changes, not as the
/// user types.
#[tauri::command]
pub async fn save_draft_images(
    app: State<'_, App>,
    key: DraftKey,
    images: Vec<DraftImageInput>,
) -> AppResult<()> {
    app.blocking(move |e| {
        let data: Vec<String> = images.iter().map(|i| i.data.clone()).collect();
        let files = decode_images(&data)?
            .into_iter()
            .zip(&images)
            .map(|(bytes, image)| DraftImageFile {
                bytes,
                resized: image.resized,
            })
            .collect();
        Ok::<_, AppError>(e.save_draft_images(key, files)?)
    })
    .await
}

/// A draft's images in their order, as the tray shows them.
#[tauri::command]
pub async fn draft_images(app: State<'_, App>, key: DraftKey) -> AppResult<AttachedImages> {
    app.blocking(move |e| {
        Ok::<_, AppError>(AttachedImages {
            images: e.draft_images(key)?.into_iter().map(image_data).collect(),
            budget: DEFAULT_MMS_BUDGET,
        })
    })
    .await
}

#[tauri::command]
pub async fn discard_draft(app: State<'_, App>, key: DraftKey) -> AppResult<()> {
    app.blocking(move |e| e.discard_draft(key).map(drop)).await
}

#[tauri::command]
pub async fn settings(app: State<'_, App>) -> AppResult<Settings> {
    app.blocking(|e| e.settings()).await
}

#[tauri::command]
pub async fn set_setting(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    name: String,
    value: String,
) -> AppResult<Settings> {
    let change = SettingChange::parse(&name, &value)?;
    app.blocking(move |e| {
        let settings = e.set_setting(&change)?;
        // The window's setters are run on the main thread by Tauri.
        window::apply_setting(&handle, &change, &settings)?;
        if matches!(change, SettingChange::PollInterval(_)) {
            background::reconnect(&handle);
        }
        Ok::<_, AppError>(settings)
    })
    .await
}

/// Pins the window on top of others (receptionist mode), or unpins it; remembered.
#[tauri::command]
pub async fn set_pinned(handle: tauri::AppHandle, pinned: bool) -> AppResult<bool> {
    // `window::set_pinned` saves the setting itself (the tray's menu calls it too).
    off_the_runtime(move || window::set_pinned(&handle, pinned)).await?;
    Ok(pinned)
}

/// The page calls this once its first conversation list is painted: the log then says how long
/// the start took (and the app benchmark waits for that line).
/// `page_ms` is how long the page itself took, from its navigation start.
#[tauri::command]
pub async fn ui_ready(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    page_ms: f64,
) -> AppResult<()> {
    let ms = app.started.elapsed().as_millis() as u64;
    let page_ms = page_ms.clamp(0.0, 1e9) as u64;
    tracing::info!(ms, page_ms, "the conversation list is interactive");
    crate::after_first_paint(&handle);
    Ok(())
}

/// Takes the sandbox carrier offline or back online, to try how the app behaves without a
/// network.
#[tauri::command]
pub async fn sandbox_online(app: State<'_, App>, online: bool) -> AppResult<()> {
    let sandbox = app.sandbox.get().ok_or_else(|| {
        AppError::new(
            ErrorCode::SandboxUnavailable,
            "The sandbox carrier is not running in this window.",
        )
    })?;
    sandbox.set_online(online).await.map_err(|e| {
        AppError::new(
            ErrorCode::SandboxUnavailable,
            format!("The sandbox could not change state: {e}"),
        )
    })?;
    if online {
        app.network_back();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(count)` of decoded images, or the code refusing them.
    #[track_caller]
    fn check(images: &[String], expected: Result<usize, ErrorCode>) {
        let got = decode_images(images).map(|d| d.len()).map_err(|e| e.code);
        assert_eq!(got, expected);
    }

    #[test]
    fn images_from_the_page_are_guarded_one_by_one_and_together() {
        let small = BASE64.encode(b"\x89PNG\r\n\x1a\n");
        let big = "A".repeat(MAX_IMAGE_BASE64 / 2 + 4); // five are over the total, four are not
        check(&[], Ok(0));
        check(&vec![small.clone(); 3], Ok(3));
        // An 11th is the engine's to refuse, in its words.
        check(&vec![small.clone(); 11], Ok(11));
        check(
            &["A".repeat(MAX_IMAGE_BASE64 + 4)],
            Err(ErrorCode::FileTooLarge),
        );
        check(&vec![big.clone(); 5], Err(ErrorCode::FileTooLarge));
        check(&vec![big; 4], Ok(4));
        check(
            &[small, "not base64!".into()],
            Err(ErrorCode::ImageDataMalformed),
        );
    }
}
