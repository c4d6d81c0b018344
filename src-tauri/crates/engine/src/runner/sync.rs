//! The inbound sync: polls the carrier for what changed since the stored cursor (a desktop has
//! no public webhook), records inbound messages (deduplicated by the carrier's id, which creates
//! the (line, number) thread and bumps its unread count), applies delivery statuses to our sent
//! messages, and saves the cursor after the changes are written — only when it moved, so an
//! idle poll writes nothing. A crash in between only makes the next round fetch the same
//! changes again, which the deduplication absorbs.
//!
//! Messages are recorded in the order the carrier lists them (oldest first, its own order
//! within a second): message ids grow with each insert, and a thread is read by
//! `(created_at, id)`, so two replies of the same second keep their order. Their dates are
//! moved from the carrier's clock onto this computer's (`Carrier::clock_offset_ms`), which
//! dates the messages we send: one time line per thread, however far either clock is off.
//!
//! A first sync's messages (`Changes::backfill`: a new install, another account) are history:
//! recorded as read, announced by one [`EngineEvent::HistoryImported`], never by a
//! notification each — but for those dated from the runner's start on (less the carrier's
//! one-second dates): a customer who writes while the app starts, before its first sync is
//! answered, is news like any other.
//!
//! A message to a number that is none of our lines may be to one bought since the start: the
//! carrier's numbers are read again (once a round) and adopted before the message is given up;
//! they are also read every [`LINES_REFRESH`] so a new number shows up before its first
//! message.
//!
//! An outbound message whose carrier id is none of ours is either ours with its send's answer
//! not recorded yet (lost, or on its way: the listing can come first) or one the account sent
//! from somewhere else (a colleague's desktop, the console, a server). The carrier's data cannot
//! tell them apart, and recording ours as "sent elsewhere" would make its reconciliation rule
//! the candidate out and send it again. So such a message waits in [`SyncState::unmatched`]:
//! it is recorded as sent elsewhere (in its (line, recipient) thread, quietly, never sent by us)
//! only once it has stayed unmatched through one more round after the one that listed it, and
//! only while no job of its thread is in doubt — the store checks that in the transaction that
//! writes it, so no `mark_sent` can slip in between. While a job is in doubt it waits, however
//! many rounds that takes. The waiting messages are saved with the cursor, so that neither a
//! restart nor a one-off run loses them once the cursor has moved past.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_carrier::{CarrierError, CarrierMessage, CarrierStatus, SyncCursor};
use switchboard_core::model::{Direction, Line, MessageStatus, ThreadKey, E164};
use switchboard_core::outbox::Backoff;
use switchboard_store::{
    Arrival, Elsewhere, InboundMedia, MessageError, NewInbound, NewSentElsewhere, SettingKey,
    StoreError,
};
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

/// The carrier dates messages to the second (truncated): one written in the runner's first
/// second can carry a date up to this much before its start.
const CARRIER_DATE_STEP_MS: i64 = 1_000;

/// An outbound message whose carrier id we do not know and that was sent from a number that is
/// none of our lines is tried again for this many rounds before it is dropped: no thread of
/// ours can show it.
const UNMATCHED_ROUNDS: u32 = 10;
/// The ends of rounds an unknown outbound message must stay unmatched through before it may be
/// recorded as sent elsewhere: the round that listed it, and one more.
const ELSEWHERE_ROUNDS: u32 = 2;
/// Unknown outbound messages remembered at once: a first sync's two days of a busy account's
/// sent messages (a few hundred bytes each). Past it, more are not taken until some are
/// recorded; the carrier's cursor has moved past them, so only a later status of theirs
/// lists them again.
const MAX_UNMATCHED: usize = 20_000;
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
    /// Outbound messages whose carrier id matched no message yet, by carrier id; loaded from
    /// the saved cursor by the first round, saved with it.
    unmatched: BTreeMap<String, Unmatched>,
    /// `unmatched` as last saved (or loaded), so that an unchanged set is not written again.
    saved_unmatched: serde_json::Value,
    loaded: bool,
    /// When the carrier's numbers were last read; `None` before the first round, whose start
    /// has just adopted them.
    lines_read_at: Option<tokio::time::Instant>,
}

impl SyncState {
    /// Whether a message waits only for its next round to be recorded as sent elsewhere (a
    /// one-off run then runs that round at once).
    pub(crate) fn awaits_another_round(&self) -> bool {
        self.unmatched.values().any(|u| u.rounds < ELSEWHERE_ROUNDS)
    }

    fn unmatched_json(&self) -> serde_json::Value {
        if self.unmatched.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::to_value(self.unmatched.values().collect::<Vec<_>>()).unwrap_or_default()
    }
}

/// An outbound message the carrier listed whose carrier id is none of ours (yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Unmatched {
    message: CarrierMessage,
    /// The ends of rounds it stayed unmatched through, counted up to [`UNMATCHED_ROUNDS`].
    rounds: u32,
    /// Listed by a first sync: history, recorded quietly.
    history: bool,
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
    /// Messages the account sent elsewhere, recorded in their threads.
    pub elsewhere: u64,
}

impl std::ops::AddAssign for SyncTally {
    fn add_assign(&mut self, other: SyncTally) {
        self.inbound += other.inbound;
        self.statuses += other.statuses;
        self.elsewhere += other.elsewhere;
    }
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
        Ok(SyncCursor(self.saved_sync()?["cursor"].clone()))
    }

    /// The saved cursor's setting if it is this account's, else `null`.
    fn saved_sync(&self) -> Result<serde_json::Value, SyncError> {
        let saved = self
            .engine
            .store()
            .get_setting(SettingKey::SyncCursor)?
            .unwrap_or_default();
        Ok(if saved["account"] == self.account.as_str() {
            saved
        } else {
            serde_json::Value::Null
        })
    }

    /// Takes up the unknown outbound messages saved with the cursor, once per sync loop. One
    /// that cannot be read (damaged, or saved by another version) is forgotten, the others kept;
    /// a later status of it lists it again.
    fn load_unmatched(&self, state: &mut SyncState) -> Result<(), SyncError> {
        if state.loaded {
            return Ok(());
        }
        // Marked loaded only once read: a failed read must not let the next save write an
        // empty list over the saved one.
        let saved = self.saved_sync()?["unmatched"].clone();
        state.loaded = true;
        let list = saved.as_array().map(Vec::as_slice).unwrap_or_default();
        for value in list {
            match serde_json::from_value::<Unmatched>(value.clone()) {
                Ok(u) => {
                    state.unmatched.entry(u.message.sid.clone()).or_insert(u);
                }
                Err(e) => {
                    // The error's category only: serde's message may quote a body.
                    tracing::warn!(
                        category = ?e.classify(),
                        "forgot an unreadable unknown outbound message"
                    )
                }
            }
        }
        state.saved_unmatched = saved;
        Ok(())
    }

    /// Saves where the sync left off, with the unknown outbound messages still waiting.
    fn save_sync(&self, cursor: &SyncCursor, state: &mut SyncState) -> Result<(), SyncError> {
        let unmatched = state.unmatched_json();
        let mut saved = serde_json::json!({ "account": self.account, "cursor": cursor.0 });
        if !unmatched.is_null() {
            saved["unmatched"] = unmatched.clone();
        }
        self.engine
            .store()
            .set_setting(SettingKey::SyncCursor, &saved)?;
        state.saved_unmatched = unmatched;
        Ok(())
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
        self.load_unmatched(state)?;
        let mut round = Round::default();
        let mut result = self.sync_pages(state, &mut lines, &mut round).await;
        if result.is_ok() {
            result = self.retry_unmatched(state, &mut lines, &mut round).await;
        }
        // Said even when a later step failed: what was recorded is in the store.
        if round.history > 0 {
            tracing::info!(messages = round.history, "recorded the account's history");
            self.emit(EngineEvent::HistoryImported {
                messages: round.history,
            });
        }
        result?;
        if state.unmatched_json() != state.saved_unmatched {
            self.save_sync(&self.saved_cursor()?, state)?;
        }
        Ok(round.tally)
    }

    async fn sync_pages(
        &self,
        state: &mut SyncState,
        lines: &mut RoundLines,
        round: &mut Round,
    ) -> Result<(), SyncError> {
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
                self.record_status(m, changes.backfill, state, &mut round.tally)?;
            }
            let moved = changes.cursor != cursor;
            if moved {
                self.save_sync(&changes.cursor, state)?;
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

    /// Records a page's inbound messages in the carrier's order: as news (unread, an event
    /// each) or, for a first sync, those dated before the runner's start as history — one
    /// transaction for each kind (a crash between them only fetches the page again, which the
    /// deduplication absorbs).
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
                created_at: self.local_date(m.created_at),
                media: InboundMedia::Pending {
                    count: m.num_media as usize,
                    urls: &m.media_urls,
                },
                messaging_service: m.messaging_service.as_deref(),
            })
            .collect();
        // The carrier lists oldest first: the history, then what came since the start.
        let news_from = if history {
            batch
                .iter()
                .position(|m| m.created_at >= self.started_ms - CARRIER_DATE_STEP_MS)
                .unwrap_or(batch.len())
        } else {
            0
        };
        let store = self.engine.store();
        let mut recorded = store.insert_inbound_batch(&batch[..news_from], Arrival::History)?;
        recorded.extend(store.insert_inbound_batch(&batch[news_from..], Arrival::New)?);
        self.media_wake.notify_one();
        for (i, ((key, m), got)) in keyed.iter().zip(recorded).enumerate() {
            if !got.is_new {
                continue;
            }
            round.tally.inbound += 1;
            if i < news_from {
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

    /// Applies a status to our message with its carrier id; an id matching none of ours
    /// waits among the unmatched (the newest report of it kept, its rounds too).
    fn record_status(
        &self,
        m: &CarrierMessage,
        history: bool,
        state: &mut SyncState,
        tally: &mut SyncTally,
    ) -> Result<(), SyncError> {
        let room = state.unmatched.len() < MAX_UNMATCHED;
        match self.apply_status(m)? {
            Applied::Changed => tally.statuses += 1,
            Applied::Unchanged => {}
            Applied::NoMatch => match state.unmatched.get_mut(&m.sid) {
                Some(waiting) => {
                    waiting.message = m.clone();
                    waiting.history |= history;
                }
                None if room => {
                    state.unmatched.insert(
                        m.sid.clone(),
                        Unmatched {
                            message: m.clone(),
                            rounds: 0,
                            history,
                        },
                    );
                }
                None => {
                    tracing::warn!(sid = %m.sid, "too many unknown outbound messages: one left for later");
                }
            },
        }
        Ok(())
    }

    /// At the end of a round: applies the statuses that now match one of our messages, and
    /// records as sent elsewhere those that stayed unmatched long enough, in one transaction
    /// (which leaves those a job in doubt could be, to wait). A message from a number that is
    /// none of our lines is dropped after [`UNMATCHED_ROUNDS`].
    async fn retry_unmatched(
        &self,
        state: &mut SyncState,
        lines: &mut RoundLines,
        round: &mut Round,
    ) -> Result<(), SyncError> {
        let mut due: Vec<(ThreadKey, Unmatched)> = Vec::new();
        let sids: Vec<String> = state.unmatched.keys().cloned().collect();
        for sid in sids {
            let Some(waiting) = state.unmatched.get_mut(&sid) else {
                continue;
            };
            waiting.rounds = (waiting.rounds + 1).min(UNMATCHED_ROUNDS);
            let waiting = waiting.clone();
            match self.apply_status(&waiting.message)? {
                Applied::Changed => {
                    round.tally.statuses += 1;
                    state.unmatched.remove(&sid);
                    continue;
                }
                Applied::Unchanged => {
                    state.unmatched.remove(&sid);
                    continue;
                }
                Applied::NoMatch => {}
            }
            let Some(line) = self.line_for(&waiting.message.from, lines, state).await? else {
                if waiting.rounds >= UNMATCHED_ROUNDS {
                    tracing::warn!(sid = %sid, "dropped an outbound message from a number the account does not have");
                    state.unmatched.remove(&sid);
                }
                continue;
            };
            if waiting.rounds >= ELSEWHERE_ROUNDS {
                let key = ThreadKey {
                    line: line.id,
                    counterpart: waiting.message.to.clone(),
                };
                due.push((key, waiting));
            }
        }
        if due.is_empty() {
            return Ok(());
        }
        // In the carrier's order, so that a thread's ids follow its dates.
        due.sort_by_key(|(_, w)| w.message.created_at);
        self.record_elsewhere(&due, state, round)
    }

    /// Records messages sent elsewhere (see [`Self::retry_unmatched`]): each leaves the
    /// unmatched once recorded, or once its carrier id turned out ours (its status applied).
    fn record_elsewhere(
        &self,
        due: &[(ThreadKey, Unmatched)],
        state: &mut SyncState,
        round: &mut Round,
    ) -> Result<(), SyncError> {
        let errors: Vec<Option<MessageError>> =
            due.iter().map(|(_, w)| carrier_error(&w.message)).collect();
        let batch: Vec<NewSentElsewhere<'_>> = due
            .iter()
            .zip(&errors)
            .map(|((key, w), error)| {
                let m = &w.message;
                let status = delivery_status(m.status).unwrap_or(MessageStatus::Sending);
                NewSentElsewhere {
                    key,
                    body: &m.body,
                    carrier_sid: &m.sid,
                    created_at: self.local_date(m.created_at),
                    status,
                    error: match status {
                        MessageStatus::Failed | MessageStatus::Undelivered => error.as_ref(),
                        _ => None,
                    },
                    media: InboundMedia::Pending {
                        count: m.num_media as usize,
                        urls: &m.media_urls,
                    },
                }
            })
            .collect();
        let recorded = self.engine.store().insert_sent_elsewhere_batch(&batch)?;
        let mut news = 0;
        for ((_, w), (new, got)) in due.iter().zip(batch.iter().zip(recorded)) {
            let sid = &w.message.sid;
            match got {
                Elsewhere::Recorded {
                    thread_id,
                    message_id,
                } => {
                    state.unmatched.remove(sid);
                    round.tally.elsewhere += 1;
                    if w.history {
                        round.history += 1;
                    } else {
                        news += 1;
                        // The thread shows it: reload it, as for a status.
                        self.emit(EngineEvent::MessageStatus {
                            message_id,
                            thread_id,
                            status: new.status,
                        });
                    }
                }
                // Ours after all: its send's answer was recorded meanwhile.
                Elsewhere::Known => {
                    state.unmatched.remove(sid);
                    if let Applied::Changed = self.apply_status(&w.message)? {
                        round.tally.statuses += 1;
                    }
                }
                Elsewhere::JobInDoubt => {}
            }
        }
        if news > 0 {
            tracing::info!(messages = news, "recorded messages sent from elsewhere");
        }
        Ok(())
    }

    /// A date of the carrier's on this computer's clock, which dates our own messages: one time
    /// line for a thread, however far the carrier's clock is off.
    fn local_date(&self, carrier_ms: i64) -> i64 {
        carrier_ms.saturating_sub(self.carrier.clock_offset_ms().unwrap_or(0))
    }

    /// Applies the status of one of our messages; the store never moves a status backwards.
    /// An unknown carrier id is `NoMatch` whatever its status: a message sent elsewhere is
    /// first listed as queued or sending.
    fn apply_status(&self, m: &CarrierMessage) -> Result<Applied, SyncError> {
        let store = self.engine.store();
        let Some(found) = store.message_by_carrier_sid(&m.sid)? else {
            return Ok(Applied::NoMatch);
        };
        let Some(status) = delivery_status(m.status) else {
            return Ok(Applied::Unchanged);
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
