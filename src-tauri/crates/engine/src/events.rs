//! What the background work (the outbox runner and the inbound sync) tells its clients, on a
//! `tokio::sync::broadcast` channel: the app forwards these to the webview and raises
//! notifications from `InboundMessage` (or, for a message with media, once `MessageMedia` says
//! they are in). They carry ids, never message bodies.

use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, MessageId, MessageStatus, ThreadId, E164};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    /// One of our messages changed status (sending, sent, queued again, failed, delivered…).
    MessageStatus {
        message_id: MessageId,
        thread_id: ThreadId,
        status: MessageStatus,
    },
    /// A received message's media changed: an item was downloaded, or its media became
    /// unavailable. Refresh that message.
    MessageMedia {
        thread_id: ThreadId,
        message_id: MessageId,
    },
    /// A new message arrived (never repeated for a message already recorded).
    InboundMessage {
        thread_id: ThreadId,
        message_id: MessageId,
        from: E164,
        line: LineId,
    },
    /// The carrier became reachable, or stopped being reachable.
    Connectivity { online: bool },
    /// How many messages wait to be sent ("Offline — 3 messages will be sent…").
    OutboxCount { pending: i64 },
    /// A first sync (a new install, another account) recorded this many messages of history,
    /// as read: one event for them all instead of a notification each. Reload the list.
    HistoryImported { messages: u64 },
    /// The account's numbers changed at the carrier (one bought or released while running):
    /// reload the lines.
    LinesChanged,
    /// Scheduled messages were found late by more than the grace (the computer was off or
    /// asleep at their time): `held` wait for the user to send them anyway or cancel them.
    ScheduledLate { held: i64 },
    /// A snoozed conversation's time came: it is back on top of the inbox, unread.
    SnoozeEnded { thread_id: ThreadId },
}

/// How many events a slow subscriber may fall behind before it misses some (it then sees
/// `RecvError::Lagged` and should reload what it shows).
pub const EVENT_BUFFER: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_a_kind_tag() {
        let check = |event: EngineEvent, expected: serde_json::Value| {
            assert_eq!(serde_json::to_value(&event).unwrap(), expected);
            assert_eq!(
                serde_json::from_value::<EngineEvent>(expected).unwrap(),
                event
            );
        };
        check(
            EngineEvent::MessageStatus {
                message_id: MessageId(7),
                thread_id: ThreadId(2),
                status: MessageStatus::Delivered,
            },
            serde_json::json!({"kind": "message_status", "message_id": 7, "thread_id": 2, "status": "delivered"}),
        );
        check(
            EngineEvent::InboundMessage {
                thread_id: ThreadId(2),
                message_id: MessageId(8),
                from: E164::from_normalized("+14155550142").unwrap(),
                line: LineId(1),
            },
            serde_json::json!({"kind": "inbound_message", "thread_id": 2, "message_id": 8, "from": "+14155550142", "line": 1}),
        );
        check(
            EngineEvent::MessageMedia {
                thread_id: ThreadId(2),
                message_id: MessageId(8),
            },
            serde_json::json!({"kind": "message_media", "thread_id": 2, "message_id": 8}),
        );
        check(
            EngineEvent::Connectivity { online: false },
            serde_json::json!({"kind": "connectivity", "online": false}),
        );
        check(
            EngineEvent::OutboxCount { pending: 3 },
            serde_json::json!({"kind": "outbox_count", "pending": 3}),
        );
        check(
            EngineEvent::HistoryImported { messages: 500 },
            serde_json::json!({"kind": "history_imported", "messages": 500}),
        );
        check(
            EngineEvent::LinesChanged,
            serde_json::json!({"kind": "lines_changed"}),
        );
        check(
            EngineEvent::SnoozeEnded {
                thread_id: ThreadId(4),
            },
            serde_json::json!({"kind": "snooze_ended", "thread_id": 4}),
        );
    }
}
