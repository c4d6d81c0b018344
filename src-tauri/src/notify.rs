//! OS notifications for inbound messages (`notify-rust`: D-Bus on Linux, the notification
//! centres elsewhere). What a notification says depends on the privacy setting; whether one is
//! raised at all on do-not-disturb and on what the window shows.

use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_engine::core::model::{MessageId, ThreadId};
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

/// "Ada Lovelace → Sales" with the text, only the sender, or nothing but that a message came.
pub fn content(privacy: NotificationPrivacy, sender: &str, line: &str, text: &str) -> Content {
    match privacy {
        NotificationPrivacy::Full => Content {
            title: format!("{sender} → {line}"),
            body: if text.chars().count() > MAX_BODY_CHARS {
                let cut: String = text.chars().take(MAX_BODY_CHARS).collect();
                format!("{cut}…")
            } else if text.is_empty() {
                "Sent an image".to_owned()
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
    let Ok(detail) = engine.thread(thread, 20, None) else {
        return;
    };
    let text = detail
        .messages
        .iter()
        .find(|m| m.id == message)
        .map(|m| m.body.as_str())
        .unwrap_or_default();
    let shown = content(
        settings.notification_privacy,
        &detail.thread.display,
        &detail.thread.line.label,
        text,
    );
    let handle = handle.clone();
    std::thread::spawn(move || show(&handle, thread, &shown));
}

fn show(handle: &AppHandle, thread: ThreadId, content: &Content) {
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
    match n.show() {
        Ok(_shown) => {
            tracing::debug!(thread = %thread, "notification shown");
            // Clicking the notification opens its thread where the platform reports it.
            #[cfg(all(unix, not(target_os = "macos")))]
            if waiting.is_some() {
                _shown.wait_for_action(|action| {
                    if action == "default" {
                        crate::window::show_main(handle);
                        let _ = handle.emit(APP_EVENT, AppEvent::OpenThread { thread_id: thread });
                    }
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "the notification could not be shown"),
    }
    drop(waiting);
    let _ = handle;
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

    #[test]
    fn privacy_decides_what_a_notification_says() {
        let check = |privacy, text: &str, title: &str, body: &str| {
            assert_eq!(
                content(privacy, "Ada Lovelace", "Sales", text),
                Content {
                    title: title.into(),
                    body: body.into()
                }
            );
        };
        use NotificationPrivacy::*;
        check(Full, "See you at 3", "Ada Lovelace → Sales", "See you at 3");
        check(Full, "", "Ada Lovelace → Sales", "Sent an image");
        check(
            Sender,
            "See you at 3",
            "Ada Lovelace → Sales",
            "New message",
        );
        check(Nothing, "See you at 3", "Switchboard", "New message");
        let long = "x".repeat(250);
        let shown = content(Full, "Ada", "Sales", &long);
        assert_eq!(shown.body.chars().count(), MAX_BODY_CHARS + 1);
        assert!(shown.body.ends_with('…'));
    }
}
