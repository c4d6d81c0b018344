//! The inbound sync: polls the carrier for what changed since the stored cursor (a desktop has
//! no public webhook), records inbound messages (deduplicated by the carrier's id, which creates
//! the (line, number) thread and bumps its unread count), applies delivery statuses to our sent
//! messages, and saves the cursor after the changes are written — only when it moved, so an
//! idle poll writes nothing. A crash in between only makes the next round fetch the same
//! changes again, which the deduplication absorbs.
//!
//! Messages are recorded in the order the carrier lists them (oldest first, its own order
//! within a second): message ids grow with each insert, and a thread is read by
//! `(created_at, id)`, so two replies of the same second keep their order.
//!
//! A first sync's messages (`Changes::backfill`: a new install, another account) are history:
//! recorded as read, announced by one [`EngineEvent::HistoryImported`], never by a
//! notification each. A message to a number that is none of our lines may be to one bought
//! since the start: the carrier's numbers are read again (once a round) and adopted before the
//! message is given up; they are also read every [`LINES_REFRESH`] so a new number shows up
//! before its first message.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard_carrier::{CarrierError, CarrierMessage, CarrierStatus, SyncCursor};
use switchboard_core::model::{Direction, Line, MessageStatus, ThreadKey, E164};
use switchboard_core::outbox::Backoff;
use switchboard_store::{Arrival, InboundMedia, MessageError, NewInbound, SettingKey, StoreError};
use tokio::sync::watch;

use super::Inner;
use crate::events::EngineEvent;
use crate::EngineError;

/// Offline, the sync backs off from 1 s to a minute: inbound messages matter sooner than the
/// outbox's five-minute cap, and a poll costs little.
pub const SYNC_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// Pages fetched in one round while the carrier keeps returning changes.
const MAX_PAGES: usize = 20;
/// A status for a carrier id we do not know yet (the send's answer is still being recorded) is
/// tried again for this many rounds before it is dropped (it may be another client's message).
const UNMATCHED_ROUNDS: u32 = 10;
const MAX_UNMATCHED: usize = 1_000;
/// How often the carrier's numbers are read again while syncing. Rarely: a message to a number
/// we don't know reads them at once, and this only shows a new number before its first one.
pub(crate) const LINES_REFRESH: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("{0}")]
    Carrier(CarrierError),
    #[error("{0}")]
    Engine(#[from] EngineError),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> SyncError {
        SyncError::Engine(e.into())
    }
}

/// What a sync loop remembers between rounds.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// Statuses whose carrier id matched no message yet, with the rounds they waited.
    unmatched: HashMap<String, (CarrierMessage, u32)>,
    /// When the carrier's numbers were last read; `None` before the first round, whose start
    /// has just adopted them.
    lines_read_at: Option<tokio::time::Instant>,
}

/// The lines a round records inbound messages on.
struct RoundLines {
    lines: Vec<Line>,
    /// Whether the carrier's numbers were read this round: at most once, however many
    /// messages to numbers we don't have the round meets.
    reread: bool,
}

impl RoundLines {
    fn find(&self, number: &E164) -> Option<&Line> {
        self.lines.iter().find(|l| l.number == *number)
    }
}

/// What a round's pages recorded beyond the tally.
#[derive(Default)]
struct Round {
    tally: SyncTally,
    /// Messages recorded quietly as a first sync's history.
    history: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncTally {
    pub inbound: u64,
    pub statuses: u64,
}

enum Applied {
    Changed,
    Unchanged,
    NoMatch,
}

/// Our status for a carrier status of one of our messages; `None` for the carrier's steps
/// before "sent", which tell nothing new once it has accepted the message.
pub(crate) fn delivery_status(status: CarrierStatus) -> Option<MessageStatus> {
    match status {
        CarrierStatus::Sent => Some(MessageStatus::Sent),
        CarrierStatus::Delivered | CarrierStatus::Read => Some(MessageStatus::Delivered),
        CarrierStatus::Undelivered => Some(MessageStatus::Undelivered),
        CarrierStatus::Failed | CarrierStatus::Canceled => Some(MessageStatus::Failed),
        CarrierStatus::Accepted
        | CarrierStatus::Scheduled
        | CarrierStatus::Queued
        | CarrierStatus::Sending
        | CarrierStatus::Receiving
        | CarrierStatus::Received => None,
    }
}

/// The carrier's error for a message that failed or was not delivered: a sentence of ours for
/// the codes a sender meets, else the carrier's own words.
pub(crate) fn carrier_error(m: &CarrierMessage) -> Option<MessageError> {
    if m.error_code.is_none() && m.error_message.is_none() {
        return None;
    }
    let ours = m
        .error_code
        .as_deref()
        .and_then(|c| c.parse().ok())
        .and_then(switchboard_carrier::twilio::human_sentence);
    Some(MessageError {
        code: m.error_code.clone(),
        message: ours.map(str::to_owned).unwrap_or_else(|| {
            m.error_message
                .clone()
                .unwrap_or_else(|| "The carrier could not deliver the message.".into())
        }),
    })
}

impl Inner {
    /// Polls until `stop`: every `sync_interval` while the carrier answers, backing off while
    /// it does not; connectivity returning polls at once and forgets the backoff, but never
    /// polls before the end of a carrier's `Retry-After`.
    pub(crate) async fn sync_loop(&self, mut stop: watch::Receiver<bool>) {
        let mut state = SyncState::default();
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            self.sync_network_back.store(false, Ordering::SeqCst);
            let mut floor = None;
            let delay = match self.sync_round(&mut state).await {
                Ok(_) => {
                    failures = 0;
                    self.config.sync_interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::info!(error = %e, failures, "inbound sync failed");
                    let backoff = SYNC_BACKOFF.delay(failures, (self.config.jitter)());
                    match e {
                        SyncError::Carrier(CarrierError::Transient {
                            retry_after: Some(after),
                            ..
                        }) => {
                            let after = after.min(switchboard_core::outbox::MAX_RETRY_AFTER);
                            floor = Some(tokio::time::Instant::now() + after);
                            backoff.max(after)
                        }
                        _ => backoff,
                    }
                }
            };
            let mut due = tokio::time::Instant::now() + delay;
            loop {
                tokio::select! {
                    changed = stop.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        break;
                    }
                    () = self.sync_wake.notified() => {
                        if self.sync_network_back.swap(false, Ordering::SeqCst) {
                            failures = 0;
                            let now = tokio::time::Instant::now();
                            due = floor.map_or(now, |floor| floor.max(now));
                        }
                    }
                    () = tokio::time::sleep_until(due) => break,
                }
            }
        }
    }

    /// Where this account's sync left off. The cursor is saved with the account it belongs to:
    /// after a switch, the previous runner's last save must not send the new carrier off from
    /// the old one's place (a fresh cursor only lists recent days again, deduplicated by sid).
    fn saved_cursor(&self) -> Result<SyncCursor, SyncError> {
        let saved = self
            .engine
            .store()
            .get_setting(SettingKey::SyncCursor)?
            .unwrap_or_default();
        Ok(SyncCursor(if saved["account"] == self.account.as_str() {
            saved["cursor"].clone()
        } else {
            serde_json::Value::Null
        }))
    }

    /// One round: fetches pages of changes until the carrier has no more, records them, and
    /// saves the cursor after each page that moved it.
    pub(crate) async fn sync_round(&self, state: &mut SyncState) -> Result<SyncTally, SyncError> {
        let mut lines = RoundLines {
            lines: self.engine.store().list_lines()?,
            reread: false,
        };
        if self.lines_due(state) {
            // The round's messages do not wait for the numbers: a failure waits for the next.
            if let Err(e) = self.reread_lines(&mut lines, state).await {
                tracing::info!(error = %e, "the carrier's numbers could not be read again");
            }
        }
        let mut round = Round::default();
        let pages = self.sync_pages(state, &mut lines, &mut round).await;
        // Said even when a later page failed: what was recorded is in the store.
        if round.history > 0 {
            tracing::info!(messages = round.history, "recorded the account's history");
            self.emit(EngineEvent::HistoryImported {
                messages: round.history,
            });
        }
        pages?;
        self.retry_unmatched(state, &mut round.tally)?;
        Ok(round.tally)
    }

    async fn sync_pages(
        &self,
        state: &mut SyncState,
        lines: &mut RoundLines,
        round: &mut Round,
    ) -> Result<(), SyncError> {
        let store = self.engine.store();
        let mut cursor = self.saved_cursor()?;
        for _ in 0..MAX_PAGES {
            let result = self
                .call(self.carrier.changes(&cursor), super::unanswered)
                .await;
            let changes = result.map_err(SyncError::Carrier)?;
            let (inbound, statuses): (Vec<&CarrierMessage>, Vec<&CarrierMessage>) =
                changes.messages.iter().partition(|m| m.inbound);
            self.record_inbound(&inbound, changes.backfill, lines, state, round)
                .await?;
            for m in statuses {
                self.record_status(m, state, &mut round.tally)?;
            }
            let moved = changes.cursor != cursor;
            if moved {
                store.set_setting(
                    SettingKey::SyncCursor,
                    &serde_json::json!({ "account": self.account, "cursor": changes.cursor.0 }),
                )?;
            }
            if changes.messages.is_empty() || !moved {
                break;
            }
            cursor = changes.cursor;
        }
        Ok(())
    }

    /// Whether the carrier's numbers are due to be read again; the first round only starts
    /// the count, the start having just adopted them.
    fn lines_due(&self, state: &mut SyncState) -> bool {
        let now = tokio::time::Instant::now();
        let last = *state.lines_read_at.get_or_insert(now);
        now.duration_since(last) >= LINES_REFRESH
    }

    /// Reads the carrier's numbers and adopts them as the lines (new ones added, labels
    /// updated, released ones out of the account), for the rest of the round too.
    async fn reread_lines(
        &self,
        lines: &mut RoundLines,
        state: &mut SyncState,
    ) -> Result<(), SyncError> {
        lines.reread = true;
        state.lines_read_at = Some(tokio::time::Instant::now());
        let listed = self
            .call(self.carrier.lines(), super::unanswered)
            .await
            .map_err(SyncError::Carrier)?;
        // A runner whose account was just switched away must not make its numbers the lines.
        if self.engine.account_key()? != self.account {
            return Ok(());
        }
        let adopted = self.engine.adopt_account_lines(&listed)?;
        if adopted.added > 0 || adopted.left > 0 {
            tracing::info!(
                added = adopted.added,
                left = adopted.left,
                "the account's numbers changed at the carrier"
            );
            self.emit(EngineEvent::LinesChanged);
        }
        lines.lines = self.engine.store().list_lines()?;
        Ok(())
    }

    /// The line a message was sent to. A number that is none of our lines may have been bought
    /// since they were read: they are read again (once a round) before the message is given up.
    async fn line_for(
        &self,
        number: &E164,
        lines: &mut RoundLines,
        state: &mut SyncState,
    ) -> Result<Option<Line>, SyncError> {
        if let Some(line) = lines.find(number) {
            return Ok(Some(line.clone()));
        }
        if lines.reread {
            return Ok(None);
        }
        match self.reread_lines(lines, state).await {
            Ok(()) => {}
            // Refused for good (the credentials may not list numbers): the message is given up
            // rather than the sync stopped.
            Err(SyncError::Carrier(e @ CarrierError::Permanent { .. })) => {
                tracing::warn!(error = %e, "the carrier's numbers could not be read");
            }
            // Anything else fails the round before its cursor is saved: the message is
            // fetched again next round.
            Err(e) => return Err(e),
        }
        Ok(lines.find(number).cloned())
    }

    /// Records a page's inbound messages in one transaction, in the carrier's order: as news
    /// (unread, an event each) or, for a first sync, as history.
    async fn record_inbound(
        &self,
        messages: &[&CarrierMessage],
        history: bool,
        lines: &mut RoundLines,
        state: &mut SyncState,
        round: &mut Round,
    ) -> Result<(), SyncError> {
        let mut keyed: Vec<(ThreadKey, &CarrierMessage)> = Vec::with_capacity(messages.len());
        for &m in messages {
            let Some(line) = self.line_for(&m.to, lines, state).await? else {
                tracing::warn!(sid = %m.sid, "skipped an inbound message to a number the account does not have");
                continue;
            };
            let key = ThreadKey {
                line: line.id,
                counterpart: m.from.clone(),
            };
            keyed.push((key, m));
        }
        let batch: Vec<NewInbound<'_>> = keyed
            .iter()
            .map(|(key, m)| NewInbound {
                key,
                body: &m.body,
                carrier_sid: &m.sid,
                created_at: m.created_at,
                media: InboundMedia::Pending {
                    count: m.num_media as usize,
                    urls: &m.media_urls,
                },
            })
            .collect();
        let arrival = if history {
            Arrival::History
        } else {
            Arrival::New
        };
        let recorded = self.engine.store().insert_inbound_batch(&batch, arrival)?;
        self.media_wake.notify_one();
        for ((key, m), got) in keyed.iter().zip(recorded) {
            if !got.is_new {
                continue;
            }
            round.tally.inbound += 1;
            if history {
                round.history += 1;
            } else {
                self.emit(EngineEvent::InboundMessage {
                    thread_id: got.thread_id,
                    message_id: got.message_id,
                    from: m.from.clone(),
                    line: key.line,
                });
            }
        }
        Ok(())
    }

    fn record_status(
        &self,
        m: &CarrierMessage,
        state: &mut SyncState,
        tally: &mut SyncTally,
    ) -> Result<(), SyncError> {
        match self.apply_status(m)? {
            Applied::Changed => tally.statuses += 1,
            Applied::Unchanged => {}
            Applied::NoMatch => {
                if state.unmatched.len() < MAX_UNMATCHED {
                    state.unmatched.insert(m.sid.clone(), (m.clone(), 0));
                }
            }
        }
        Ok(())
    }

    fn retry_unmatched(
        &self,
        state: &mut SyncState,
        tally: &mut SyncTally,
    ) -> Result<(), SyncError> {
        let sids: Vec<String> = state.unmatched.keys().cloned().collect();
        for sid in sids {
            let Some((m, rounds)) = state.unmatched.get_mut(&sid) else {
                continue;
            };
            *rounds += 1;
            let (m, rounds) = (m.clone(), *rounds);
            match self.apply_status(&m)? {
                Applied::Changed => {
                    tally.statuses += 1;
                    state.unmatched.remove(&sid);
                }
                Applied::Unchanged => {
                    state.unmatched.remove(&sid);
                }
                Applied::NoMatch if rounds >= UNMATCHED_ROUNDS => {
                    state.unmatched.remove(&sid);
                }
                Applied::NoMatch => {}
            }
        }
        Ok(())
    }

    /// Applies the status of one of our messages; the store never moves a status backwards.
    fn apply_status(&self, m: &CarrierMessage) -> Result<Applied, SyncError> {
        let Some(status) = delivery_status(m.status) else {
            return Ok(Applied::Unchanged);
        };
        let store = self.engine.store();
        let Some(found) = store.message_by_carrier_sid(&m.sid)? else {
            return Ok(Applied::NoMatch);
        };
        if found.direction == Direction::Inbound {
            return Ok(Applied::Unchanged);
        }
        let error = match status {
            MessageStatus::Failed | MessageStatus::Undelivered => carrier_error(m),
            _ => None,
        };
        store.apply_delivery_status(&m.sid, status, error.as_ref(), self.now())?;
        let after = store.get_message(found.message_id)?.status;
        if after == found.status {
            return Ok(Applied::Unchanged);
        }
        self.emit(EngineEvent::MessageStatus {
            message_id: found.message_id,
            thread_id: found.thread_id,
            status: after,
        });
        Ok(Applied::Changed)
    }
}

#[cfg(test)]
mod tests;
