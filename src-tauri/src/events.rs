//! What Rust pushes to the webview: the engine's events as they are (on `ENGINE_EVENT`), and the
//! shell's own (on `APP_EVENT`): a notification or the tray asking to open something, the pin
//! changing from the tray.

use serde::Serialize;
use switchboard_engine::core::model::ThreadId;

pub const ENGINE_EVENT: &str = "engine";
pub const APP_EVENT: &str = "app";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppEvent {
    /// Show this conversation (a notification was clicked).
    OpenThread { thread_id: ThreadId },
    /// Open the New message window (tray menu).
    NewMessage,
    /// The window was pinned or unpinned (from the tray).
    Pinned { pinned: bool },
    /// The carrier came up (or failed to): reload the status and the lines.
    CarrierReady,
    /// The shell fell behind the engine's events and missed some: reload everything shown
    /// (the status, the lines, the list and the open conversation).
    Reload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_events_serialise_with_a_kind_tag() {
        let check = |event: AppEvent, expected: serde_json::Value| {
            assert_eq!(serde_json::to_value(&event).unwrap(), expected);
        };
        check(
            AppEvent::OpenThread {
                thread_id: ThreadId(4),
            },
            serde_json::json!({"kind": "open_thread", "thread_id": 4}),
        );
        check(
            AppEvent::NewMessage,
            serde_json::json!({"kind": "new_message"}),
        );
        check(
            AppEvent::Pinned { pinned: true },
            serde_json::json!({"kind": "pinned", "pinned": true}),
        );
        check(AppEvent::Reload, serde_json::json!({"kind": "reload"}));
    }
}
