//! The download of received media, a loop beside the sync: it takes the store's download queue
//! (newest message first), two messages at once (a photo reply should not wait behind a
//! day of history, nor a day of history hog the connection); for a message whose items
//! the carrier has not listed yet (a first sync's history, an MMS counted late) it asks for
//! their URLs first; each item fetched is recognised by its content (`media::identify`), measured
//! if it is an image (an "image" whose header can't be read is kept as kind `other`, never shown),
//! and stored at once, in a write of its own, with a [`EngineEvent::MessageMedia`] so the window
//! refreshes that message. Transient failures back off ([`MEDIA_BACKOFF`], never before a
//! carrier's `Retry-After`); the network coming back makes everything due now; a permanent
//! refusal (deleted at the carrier, larger than 16 MB, an address not the carrier's) makes the
//! message's media unavailable until the user asks again ([`Engine::retry_media`]).
//!
//! The sync wakes it when it records media to fetch; its own timer does otherwise. A runner
//! whose account is no longer current downloads nothing. Logs name message ids, indexes, kinds
//! and sizes, never URLs or bytes.

use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use image::ImageReader;
use switchboard_carrier::CarrierError;
use switchboard_core::media::{self, MAX_RECEIVED_MEDIA_BYTES};
use switchboard_core::model::{MediaKind, MessageId};
use switchboard_core::outbox::{Backoff, MAX_RETRY_AFTER};
use switchboard_store::{DownloadedMedia, MediaDownload, PendingItem};
use tokio::sync::watch;

use super::{lock, unanswered, Inner};
use crate::events::EngineEvent;
use crate::{Engine, EngineError};

/// Between attempts at a message's media: 5 s, 10 s, 20 s … up to 30 minutes.
pub const MEDIA_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(5),
    max: Duration::from_secs(30 * 60),
};

/// Messages taken from the queue in one round.
const ROUND: usize = 20;
/// The longest the loop sleeps with nothing due: downloads queued by another process (the CLI
/// syncing while the app runs) are noticed this late at worst.
const IDLE: Duration = Duration::from_secs(60);
/// How long the loop waits after its own store failed before it reads the queue again.
const STORE_TROUBLE: Duration = Duration::from_secs(5);

/// Why a message's media were not all stored this time.
enum Stop {
    /// Try again later (offline, a struggling carrier, media not listed yet).
    Later {
        why: String,
        retry_after: Option<Duration>,
    },
    /// The carrier will never give them.
    Never(String),
    /// Our own store failed: logged, tried again at the next round.
    Store(EngineError),
}

impl From<CarrierError> for Stop {
    fn from(e: CarrierError) -> Stop {
        match e {
            CarrierError::Permanent { message, .. } => Stop::Never(message),
            CarrierError::Transient {
                retry_after,
                message,
                ..
            } => Stop::Later {
                why: message,
                retry_after,
            },
            CarrierError::Unknown { message } => Stop::Later {
                why: message,
                retry_after: None,
            },
        }
    }
}

impl From<switchboard_store::StoreError> for Stop {
    fn from(e: switchboard_store::StoreError) -> Stop {
        Stop::Store(e.into())
    }
}

/// What a fetched item is, as it is stored: recognised by its content, and an image measured.
pub(crate) fn recognise<'a>(
    bytes: &'a [u8],
    declared: Option<&str>,
    mime: &'a mut String,
) -> DownloadedMedia<'a> {
    let found = media::identify(bytes, declared);
    *mime = found.mime;
    let (kind, width, height) = match found.kind {
        MediaKind::Image => match measure(bytes) {
            Some((w, h)) => (MediaKind::Image, Some(w), Some(h)),
            // Its signature says image, its header can't be read: never shown.
            None => (MediaKind::Other, None, None),
        },
        other => (other, None, None),
    };
    DownloadedMedia {
        kind,
        mime: mime.as_str(),
        width,
        height,
        bytes,
    }
}

fn measure(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
        .filter(|&(w, h)| w > 0 && h > 0)
}

impl Inner {
    /// Downloads until `stop`: what is due, then sleeps until the next is due, the sync records
    /// new media, the network comes back or the user asks again.
    pub(crate) async fn media_loop(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            let delay = if self.serves_current_account() {
                if self.media_network_back.swap(false, Ordering::SeqCst) {
                    if let Err(e) = self.engine.store().media_downloads_due_now() {
                        tracing::warn!(error = %e, "cannot make the media downloads due");
                    }
                }
                let healthy = tokio::select! {
                    healthy = self.media_round() => healthy,
                    _ = stop.changed() => break,
                };
                if healthy {
                    self.next_media_delay()
                } else {
                    // Our own store failed: what it left due is tried again, not in a spin.
                    STORE_TROUBLE
                }
            } else {
                // About to be replaced: wait for the stop.
                Duration::MAX
            };
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = self.media_wake.notified() => {}
                () = sleep(delay) => {}
            }
        }
    }

    /// How long until the next download is due (at most [`IDLE`]).
    fn next_media_delay(&self) -> Duration {
        match self.engine.store().next_media_download_at() {
            Ok(Some(at)) => {
                Duration::from_millis(u64::try_from(at - self.now()).unwrap_or(0)).min(IDLE)
            }
            Ok(None) => IDLE,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the media download queue");
                IDLE
            }
        }
    }

    /// One pass over the downloads due now, two messages at a time; false when the store
    /// failed along the way.
    pub(crate) async fn media_round(&self) -> bool {
        let due = match self.engine.store().due_media_downloads(self.now(), ROUND) {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the media download queue");
                return false;
            }
        };
        let queue = Mutex::new(VecDeque::from(due));
        let worker = || async {
            let mut healthy = true;
            loop {
                let next = lock(&queue).pop_front();
                let Some(download) = next else { break };
                healthy &= self.download(download).await;
            }
            healthy
        };
        let (a, b) = tokio::join!(worker(), worker());
        a && b
    }

    /// Downloads what `download` still misses and records how it went; false when the store
    /// failed.
    async fn download(&self, download: MediaDownload) -> bool {
        let message = download.message_id;
        let thread = download.thread_id;
        let attempts = download.attempts;
        let store = self.engine.store();
        match self.fetch_items(download).await {
            Ok(()) => tracing::info!(message = message.0, "media downloaded"),
            Err(Stop::Later { why, retry_after }) => {
                let attempts = attempts.saturating_add(1);
                let mut delay = MEDIA_BACKOFF.delay(attempts, (self.config.jitter)());
                if let Some(after) = retry_after {
                    delay = delay.max(after.min(MAX_RETRY_AFTER));
                }
                let next = self.now() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                tracing::info!(
                    message = message.0,
                    attempts,
                    retry_in_ms = delay.as_millis() as u64,
                    "media download failed for now"
                );
                if let Err(e) = store.media_download_failed(message, &why, next) {
                    tracing::warn!(error = %e, message = message.0, "media failure not recorded");
                    return false;
                }
            }
            Err(Stop::Never(why)) => {
                tracing::info!(message = message.0, "media unavailable at the carrier");
                match store.media_unavailable(message, &why) {
                    Ok(()) => self.emit(EngineEvent::MessageMedia {
                        thread_id: thread,
                        message_id: message,
                    }),
                    Err(e) => {
                        tracing::warn!(error = %e, message = message.0, "media failure not recorded");
                        return false;
                    }
                }
            }
            Err(Stop::Store(e)) => {
                tracing::warn!(error = %e, message = message.0, "media not stored");
                return false;
            }
        }
        true
    }

    /// Lists the items' URLs if the carrier has not yet, then fetches and stores each.
    async fn fetch_items(&self, download: MediaDownload) -> Result<(), Stop> {
        let store = self.engine.store();
        let message = download.message_id;
        let mut items = download.items.clone();
        if !download.urls_known() {
            let sid = download.carrier_sid.clone().ok_or_else(|| {
                Stop::Never("The message has no carrier id to list its media by.".into())
            })?;
            let urls = self.call(self.carrier.media_urls(&sid), unanswered).await?;
            if urls.is_empty() {
                // Twilio counts and lists an MMS's media late: not yet, not never.
                return Err(Stop::Later {
                    why: "The carrier lists no media for it yet.".into(),
                    retry_after: None,
                });
            }
            store.set_media_urls(message, &urls)?;
            items = store
                .media_download(message)?
                .map(|d| d.items)
                .unwrap_or_default();
        }
        let mut unlisted = false;
        for PendingItem { index, url } in items {
            let Some(url) = url else {
                unlisted = true;
                continue;
            };
            self.fetch_item(message, download.thread_id, index, &url)
                .await?;
        }
        if unlisted {
            return Err(Stop::Later {
                why: "The carrier has not listed all of its media yet.".into(),
                retry_after: None,
            });
        }
        Ok(())
    }

    async fn fetch_item(
        &self,
        message: MessageId,
        thread: switchboard_core::model::ThreadId,
        index: u8,
        url: &str,
    ) -> Result<(), Stop> {
        let fetched = self.call(self.carrier.fetch_media(url), unanswered).await?;
        if fetched.bytes.len() > MAX_RECEIVED_MEDIA_BYTES {
            return Err(Stop::Never(format!(
                "It is larger than the {} MB a received item may be.",
                MAX_RECEIVED_MEDIA_BYTES / (1024 * 1024)
            )));
        }
        if fetched.bytes.is_empty() {
            return Err(Stop::Later {
                why: "The carrier gave an empty file.".into(),
                retry_after: None,
            });
        }
        let mut mime = String::new();
        let item = recognise(&fetched.bytes, fetched.content_type.as_deref(), &mut mime);
        let (kind, size) = (item.kind, item.bytes.len());
        self.engine
            .store()
            .store_media_item(message, index, &item)?;
        tracing::info!(
            message = message.0,
            index,
            kind = kind.as_str(),
            size,
            "media item stored"
        );
        self.emit(EngineEvent::MessageMedia {
            thread_id: thread,
            message_id: message,
        });
        Ok(())
    }
}

/// `tokio::time::sleep` for a delay that may be "forever".
async fn sleep(delay: Duration) {
    if delay == Duration::MAX {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(delay).await;
    }
}

impl Engine {
    /// The user's "Try again" on a message's media that could not be downloaded: they are due
    /// now, their failures forgotten. Call [`crate::Runner::wake`] afterwards for the runner to
    /// fetch them at once. Refused for a message without media to download.
    pub fn retry_media(&self, message: MessageId) -> crate::Result<()> {
        let store = self.store();
        store.get_message(message)?;
        if store.media_download(message)?.is_none() {
            return Err(EngineError::Invalid {
                what: "This message",
                why: "has no media waiting to be downloaded.".into(),
            });
        }
        store.retry_media(message)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
