//! How Switchboard talks to a carrier (the embedded sandbox, Twilio, later SMSGate): one
//! [`Carrier`] trait, with every error classified as transient (retry later) or permanent (the
//! message failed, with the carrier's code and a sentence a person understands).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchboard_core::model::{ImageKind, E164};

/// What a carrier can do; the composer and the outbox runner adapt to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub mms: bool,
    /// The carrier deduplicates sends by our client id; without it, reconciliation searches.
    pub idempotency_keys: bool,
    /// Messages per second per line (Twilio long codes: about 1).
    pub per_line_rate: f64,
    /// Largest media a message may carry, in bytes.
    pub mms_budget: usize,
    /// How long after an attempt to send began its message may still turn up at the carrier:
    /// the request's own timeout plus the carrier's listing lag. A lookup that finds nothing
    /// sooner proves nothing, so a message in doubt is not sent again before then.
    pub settle: Duration,
}

/// One of the account's numbers as the carrier lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierLine {
    /// The carrier's id for the number (Twilio's `PN…` sid), to write its label back.
    pub sid: String,
    pub number: E164,
    /// Twilio's FriendlyName.
    pub label: String,
    pub sms: bool,
    pub mms: bool,
}

/// The account a carrier's credentials open, as the credentials check reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierAccount {
    /// Twilio's Account SID (`AC…`).
    pub sid: String,
    /// The account's own name at the carrier.
    pub name: String,
}

/// A media item downloaded from the carrier, as it came: to be recognised by its content.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    /// The `Content-Type` the carrier declared, which only names what content alone can't.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FetchedMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedMedia")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// An image to send with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: ImageKind,
    pub bytes: Vec<u8>,
}

/// One message to hand to the carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub from: E164,
    pub to: E164,
    pub body: String,
    /// Up to 10 images, one MMS (one `MediaUrl` each).
    pub media: Vec<Media>,
    /// Our idempotency key, the same on every attempt for this message.
    pub client_id: String,
}

/// Twilio's message statuses, which the sandbox speaks too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierStatus {
    Accepted,
    Scheduled,
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Receiving,
    Received,
    Read,
    Canceled,
}

/// A message as the carrier reports it (sent by us or received).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierMessage {
    /// The carrier's id (Twilio's `SM…` sid): inbound messages are deduplicated by it.
    pub sid: String,
    pub from: E164,
    pub to: E164,
    pub body: String,
    pub inbound: bool,
    pub status: CarrierStatus,
    /// When the carrier created it, in ms since the epoch.
    pub created_at: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The content URLs of its media, in order, where the carrier has listed them (a listing
    /// gives only their number: see [`Carrier::media_urls`]).
    pub media_urls: Vec<String>,
    /// How many media items it carries (Twilio's `NumMedia`; at least `media_urls.len()`).
    pub num_media: u32,
    /// The Messaging Service it went through (Twilio's `messaging_service_sid`), if any: an
    /// opt-out it carries covers the whole service.
    #[serde(default)]
    pub messaging_service: Option<String>,
}

/// Where the inbound sync left off; opaque to everyone but the carrier that made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor(pub serde_json::Value);

/// What one sync round brought: new or changed messages, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Oldest first; messages of one second in the carrier's order, so that a thread can keep
    /// it where the dates tie.
    pub messages: Vec<CarrierMessage>,
    pub cursor: SyncCursor,
    /// These messages are history a first sync found (a fresh cursor: a new install, another
    /// account), not news: they are recorded quietly, as read, with no notification.
    pub backfill: bool,
}

/// Why a transient failure happened; all of them leave the message queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransientKind {
    /// No connection could be made: the network (or the carrier) is unreachable.
    Offline,
    Timeout,
    /// A 5xx answer.
    Server,
    /// 429 Too Many Requests.
    RateLimited,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// Try again later; `retry_after` is the carrier's own hint (`Retry-After`).
    #[error("{message}")]
    Transient {
        kind: TransientKind,
        retry_after: Option<Duration>,
        message: String,
    },
    /// This message will never go as it is: invalid number, opted-out recipient, bad media…
    #[error("{message}")]
    Permanent {
        code: Option<String>,
        message: String,
    },
    /// The outcome is unknown (the connection broke after the request was sent): reconcile
    /// before any resend.
    #[error("{message}")]
    Unknown { message: String },
}

impl CarrierError {
    pub fn is_transient(&self) -> bool {
        matches!(self, CarrierError::Transient { .. })
    }
}

#[async_trait]
pub trait Carrier: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    /// Checks the credentials: the account they open, which must be usable (not suspended or
    /// closed).
    async fn account(&self) -> Result<CarrierAccount, CarrierError>;

    /// The account's numbers.
    async fn lines(&self) -> Result<Vec<CarrierLine>, CarrierError>;

    /// Writes a line's label back to the carrier (Twilio's FriendlyName), by the line's sid.
    async fn rename_line(&self, sid: &str, label: &str) -> Result<(), CarrierError>;

    /// Hands one message to the carrier.
    async fn send(&self, request: &SendRequest) -> Result<CarrierMessage, CarrierError>;

    /// For exactly-once after a crash or a lost answer: every message the carrier holds that
    /// may be the one an attempt begun at `started_at_ms` (this computer's clock) created, oldest
    /// first (by client id where supported, else by From, To, body and time). The caller rules
    /// out those it already holds under another message.
    async fn find_sent(
        &self,
        request: &SendRequest,
        started_at_ms: i64,
    ) -> Result<Vec<CarrierMessage>, CarrierError>;

    /// Inbound messages and status changes since `cursor`.
    async fn changes(&self, cursor: &SyncCursor) -> Result<Changes, CarrierError>;

    /// How far the carrier's clock, which dates its messages, runs ahead of this computer's
    /// (negative: behind), in ms, as its latest answer told; `None` while unknown. A thread
    /// orders our messages (dated here) and the carrier's (dated there) on one time line.
    fn clock_offset_ms(&self) -> Option<i64> {
        None
    }

    /// The content URLs of a message's media, in order (Twilio: its Media subresource), for a
    /// message reported with `num_media` but without them (a first sync's history, an MMS whose
    /// media the carrier listed late).
    async fn media_urls(&self, message_sid: &str) -> Result<Vec<String>, CarrierError>;

    /// Downloads one media item from a URL the carrier gave (`media_urls`), with the account's
    /// credentials; at most [`switchboard_core::media::MAX_RECEIVED_MEDIA_BYTES`]. A URL that
    /// is not the carrier's own is refused (Permanent), never sent the credentials.
    async fn fetch_media(&self, url: &str) -> Result<FetchedMedia, CarrierError>;
}

pub mod dates;
mod endpoint;
pub mod s3;
pub mod twilio;

pub use endpoint::CarrierEndpoint;
pub use s3::{S3Config, S3ConfigError, S3MediaHost};
pub use twilio::{MediaHost, MessageFilter, SandboxMediaHost, TwilioClient, TwilioOptions};
