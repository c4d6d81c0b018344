//! OS notifications for inbound messages and snoozed conversations coming back (`notify-rust`: D-Bus on Linux, the notification
//! centres elsewhere). What a notification says depends on the privacy setting — the sender,
//! and the text or, for a message without text, what it carries ("Photo", "2 photos", "PDF"…,
//! known once downloaded); whether one is raised at all on do-not-disturb and on what the window
//! shows. The message is read by its id, wherever it stands in its thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_engine::core::model::{MediaKind, MessageId, ThreadId};
use switchboard_engine::store::{AttachmentInfo, AttachmentState};
use switchboard_engine::{Engine, NotificationPrivacy};
use tauri::{AppHandle, Emitter, Manager};

use crate::events::{AppEvent, APP_EVENT};
use crate::state::App;

/// What one notification shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub title: String,
    pub body: String,
}

/// Longest body shown: a notification is a glance, the thread has the rest.
const MAX_BODY_CHARS: usize = 200;

/// Notifications whose click is being waited for, each on a thread of its own (D-Bus waits
/// block) until it is clicked or dismissed. Past `MAX_WAITING`, a notification is shown without
/// the click action, so a flood of messages never piles up threads.
static WAITING: AtomicUsize = AtomicUsize::new(0);
const MAX_WAITING: usize = 16;

/// A place among the `WAITING`, given back when dropped.
struct Waiting;

impl Waiting {
    fn take() -> Option<Waiting> {
        WAITING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_WAITING).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a message without text carries, as a notification names it: "Photo", "2 photos",
/// "PDF", "Contact card"… once its items are downloaded and so proved; "Attachment" (or
/// "3 attachments") for items not downloaded (or not to be), or of several kinds.
pub fn media_label(items: &[AttachmentInfo]) -> String {
    let proved: Option<Vec<MediaKind>> = items
        .iter()
        .map(|a| {
            (a.state == AttachmentState::Ready)
                .then_some(a.kind)
                .flatten()
        })
        .collect();
    let one_kind = proved.as_deref().and_then(|kinds| {
        let first = *kinds.first()?;
        kinds.iter().all(|k| *k == first).then_some(first)
    });
    match (items.len(), one_kind) {
        (0, _) => "New message".to_owned(),
        (1, Some(kind)) => kind.label().to_owned(),
        (1, None) => "Attachment".to_owned(),
        (n, Some(MediaKind::Image)) => format!("{n} photos"),
        (n, _) => format!("{n} attachments"),
    }
}

/// "Ada Lovelace → Sales" with the text (or, for a message without text, what it carries:
/// [`media_label`]), only the sender, or nothing but that a message came.
pub fn content(
    privacy: NotificationPrivacy,
    sender: &str,
    line: &str,
    text: &str,
    media: &[AttachmentInfo],
) -> Content {
    match privacy {
        NotificationPrivacy::Full => Content {
            title: format!("{sender} → {line}"),
            body: if text.chars().count() > MAX_BODY_CHARS {
                let cut: String = text.chars().take(MAX_BODY_CHARS).collect();
                format!("{cut}…")
            } else if text.trim().is_empty() {
                media_label(media)
            } else {
                text.to_owned()
            },
        },
        NotificationPrivacy::Sender => Content {
            title: format!("{sender} → {line}"),
            body: "New message".to_owned(),
        },
        NotificationPrivacy::Nothing => Content {
            title: "Switchboard".to_owned(),
            body: "New message".to_owned(),
        },
    }
}

/// What the notification of a snoozed conversation coming back says: who, on which line,
/// unless the privacy setting hides even the sender.
pub fn snooze_content(privacy: NotificationPrivacy, sender: &str, line: &str) -> Content {
    Content {
        title: "Snoozed conversation is back".to_owned(),
        body: match privacy {
            NotificationPrivacy::Full | NotificationPrivacy::Sender => format!("{sender} → {line}"),
            NotificationPrivacy::Nothing => "Open Switchboard to see it".to_owned(),
        },
    }
}

/// Raises the notification of a snoozed conversation whose time came, unless do-not-disturb
/// is on. Runs on a blocking thread (D-Bus calls block).
pub fn snooze_ended(handle: &AppHandle, engine: &Engine, thread: ThreadId) {
    let Ok(settings) = engine.settings() else {
        return;
    };
    if settings.do_not_disturb {
        return;
    }
    let Ok(detail) = engine.thread(thread, 1, None) else {
        return;
    };
    let shown = snooze_content(
        settings.notification_privacy,
        &detail.thread.display,
        &detail.thread.line.label,
    );
    let handle = handle.clone();
    std::thread::spawn(move || show(&handle, Some(thread), &shown));
}

/// What the notification of scheduled messages found late says: how many, and that they wait.
pub fn late_content(held: i64) -> Content {
    Content {
        title: if held == 1 {
            "A scheduled message is late".to_owned()
        } else {
            format!("{held} scheduled messages are late")
        },
        body:
            "They were due while Switchboard was closed or asleep: open it to send or cancel them."
                .to_owned(),
    }
}

/// Raises the notification of scheduled messages found late (never their words or their
/// recipients), unless do-not-disturb is on. Runs on a blocking thread.
pub fn scheduled_late(handle: &AppHandle, engine: &Engine, held: i64) {
    if engine.settings().is_ok_and(|s| s.do_not_disturb) {
        return;
    }
    let shown = late_content(held);
    let handle = handle.clone();
    std::thread::spawn(move || show(&handle, None, &shown));
}

/// Whether an inbound message's notification waits for its media: while any item is still
/// downloading, what it is (a photo, a PDF) is not known yet.
pub fn waits_for_media(engine: &Engine, message: MessageId) -> bool {
    engine.store().get_message(message).is_ok_and(|m| {
        m.attachments
            .iter()
            .any(|a| a.state == AttachmentState::Downloading)
    })
}

/// What the notification of `message` in `thread` says under `privacy`; the message is read
/// by its id, wherever it stands in its thread.
pub fn message_content(
    engine: &Engine,
    privacy: NotificationPrivacy,
    thread: ThreadId,
    message: MessageId,
) -> Option<Content> {
    let header = engine.thread(thread, 1, None).ok()?.thread;
    let row = engine.store().get_message(message).ok()?;
    if row.thread_id != thread {
        return None;
    }
    Some(content(
        privacy,
        &header.display,
        &header.line.label,
        &row.body,
        &row.attachments,
    ))
}

/// Raises the notification for an inbound message unless do-not-disturb is on, or the window has
/// focus and shows that thread. Runs on a blocking thread (D-Bus calls block).
pub fn inbound(handle: &AppHandle, engine: &Engine, thread: ThreadId, message: MessageId) {
    let app = handle.state::<App>();
    let focused = handle
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused && app.viewing() == Some(thread) {
        return;
    }
    let Ok(settings) = engine.settings() else {
        return;
    };
    if settings.do_not_disturb {
        return;
    }
    let Some(shown) = message_content(engine, settings.notification_privacy, thread, message)
    else {
        return;
    };
    let handle = handle.clone();
    std::thread::spawn(move || show(&handle, Some(thread), &shown));
}

/// Shows `content`; a click brings the window forward, on `thread` when there is one.
fn show(handle: &AppHandle, thread: Option<ThreadId>, content: &Content) {
    let mut n = notify_rust::Notification::new();
    n.appname("Switchboard")
        .summary(&content.title)
        .body(&content.body)
        .icon("app.switchboard.desktop");
    let waiting = Waiting::take();
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        if waiting.is_some() {
            n.action("default", "Open");
        }
        n.hint(notify_rust::Hint::Category("im.received".to_owned()));
    }
    // Windows shows a toast only for a registered AppUserModelID: the installer's Start menu
    // shortcut carries the bundle identifier as the app's. A click on the toast's body is its
    // default action (no button is added for it).
    #[cfg(windows)]
    n.app_id("app.switchboard.desktop");
    match n.show() {
        Ok(_shown) => {
            tracing::debug!(thread = ?thread, "notification shown");
            // Clicking the notification opens its thread where the platform reports it.
            #[cfg(all(unix, not(target_os = "macos")))]
            if waiting.is_some() {
                _shown.wait_for_action(|action| {
                    if action == "default" {
                        open_thread(handle, thread);
                    }
                });
            }
            #[cfg(windows)]
            if waiting.is_some() {
                let _ = _shown.wait_for_response(|response: &notify_rust::NotificationResponse| {
                    if response.is_default_action() {
                        open_thread(handle, thread);
                    }
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "the notification could not be shown"),
    }
    drop(waiting);
    let _ = handle;
}

/// What a click on a notification does: the window comes forward on the message's thread.
/// (macOS reports no clicks through notify-rust: there the function is not called.)
#[cfg_attr(target_os = "macos", allow(dead_code))]
fn open_thread(handle: &AppHandle, thread: Option<ThreadId>) {
    crate::window::show_main(handle);
    let Some(thread) = thread else {
        return;
    };
    let _ = handle.emit(APP_EVENT, AppEvent::OpenThread { thread_id: thread });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_clicks_is_bounded() {
        let held: Vec<Waiting> = std::iter::from_fn(Waiting::take).take(100).collect();
        assert_eq!(held.len(), MAX_WAITING);
        assert!(
            Waiting::take().is_none(),
            "the seventeenth waits for nothing"
        );
        drop(held);
        assert_eq!(WAITING.load(Ordering::Acquire), 0);
        assert!(Waiting::take().is_some(), "places come back");
    }

    fn item(state: AttachmentState, kind: Option<MediaKind>) -> AttachmentInfo {
        AttachmentInfo {
            index: 0,
            state,
            kind,
            mime: None,
            bytes: None,
            width: None,
            height: None,
        }
    }

    fn ready(kind: MediaKind) -> AttachmentInfo {
        item(AttachmentState::Ready, Some(kind))
    }

    fn downloading() -> AttachmentInfo {
        item(AttachmentState::Downloading, None)
    }

    #[test]
    fn a_snoozed_conversation_back_is_named_unless_privacy_hides_it() {
        let check = |privacy, body: &str| {
            let c = snooze_content(privacy, "Ada Lovelace", "Sales");
            assert_eq!(
                (c.title.as_str(), c.body.as_str()),
                ("Snoozed conversation is back", body)
            );
        };
        check(NotificationPrivacy::Full, "Ada Lovelace → Sales");
        check(NotificationPrivacy::Sender, "Ada Lovelace → Sales");
        check(NotificationPrivacy::Nothing, "Open Switchboard to see it");
    }

    #[test]
    fn privacy_decides_what_a_notification_says() {
        #[track_caller]
        fn check(
            privacy: NotificationPrivacy,
            text: &str,
            media: &[AttachmentInfo],
            title: &str,
            body: &str,
        ) {
            assert_eq!(
                content(privacy, "Ada Lovelace", "Sales", text, media),
                Content {
                    title: title.into(),
                    body: body.into()
                }
            );
        }
        use MediaKind::*;
        use NotificationPrivacy::*;
        let ada = "Ada Lovelace → Sales";
        check(Full, "See you at 3", &[], ada, "See you at 3");
        check(Full, "See you at 3", &[ready(Image)], ada, "See you at 3");
        check(Full, "", &[ready(Image)], ada, "Photo");
        check(Full, " ", &[ready(Image), ready(Image)], ada, "2 photos");
        check(Full, "", &[ready(Pdf)], ada, "PDF");
        check(Full, "", &[ready(Contact)], ada, "Contact card");
        check(Full, "", &[ready(Other)], ada, "File");
        check(Full, "", &[ready(Image), ready(Pdf)], ada, "2 attachments");
        // Not downloaded (yet, or ever): not proved a photo.
        check(Full, "", &[downloading()], ada, "Attachment");
        check(
            Full,
            "",
            &[ready(Image), downloading()],
            ada,
            "2 attachments",
        );
        let gone = item(AttachmentState::Unavailable, None);
        check(Full, "", &[gone], ada, "Attachment");
        check(Sender, "See you at 3", &[], ada, "New message");
        check(Sender, "", &[ready(Image)], ada, "New message");
        check(Nothing, "See you at 3", &[], "Switchboard", "New message");
        check(Nothing, "", &[ready(Image)], "Switchboard", "New message");
        let long = "x".repeat(250);
        let shown = content(Full, "Ada", "Sales", &long, &[]);
        assert_eq!(shown.body.chars().count(), MAX_BODY_CHARS + 1);
        assert!(shown.body.ends_with('…'));
    }

    #[test]
    fn a_message_is_read_by_its_id_wherever_it_is_in_its_thread() {
        use switchboard_engine::store::ThreadKey;
        use switchboard_engine::KeyChoice;
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            &dir.path().join("data"),
            KeyChoice::KeyFile(dir.path().join("key")),
        )
        .unwrap();
        let sales = engine.add_line("+14155550100", "Sales", None).unwrap();
        let key = ThreadKey {
            line: sales.id,
            counterpart: switchboard_engine::store::E164::from_normalized("+14155550142").unwrap(),
        };
        let store = engine.store();
        let first = store
            .insert_inbound(&key, "The first of many", "SMfirst", 1_000, None)
            .unwrap();
        for i in 0..25 {
            store
                .insert_inbound(
                    &key,
                    &format!("then {i}"),
                    &format!("SM{i}"),
                    2_000 + i,
                    None,
                )
                .unwrap();
        }
        let shown = message_content(
            &engine,
            NotificationPrivacy::Full,
            first.thread_id,
            first.message_id,
        )
        .unwrap();
        assert_eq!(shown.body, "The first of many", "26th from the newest");
        assert_eq!(shown.title, "+1 415-555-0142 → Sales");
        assert!(!waits_for_media(&engine, first.message_id));
        assert_eq!(
            message_content(
                &engine,
                NotificationPrivacy::Full,
                switchboard_engine::core::model::ThreadId(99),
                first.message_id
            ),
            None
        );
    }
}
