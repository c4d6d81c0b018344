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
use switchboard_store::{Arrival, MessageError, NewInbound, SettingKey, StoreError};
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
    /// it does not; a nudge (or connectivity returning) polls at once.
    pub(crate) async fn sync_loop(&self, mut stop: watch::Receiver<bool>) {
        let mut state = SyncState::default();
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            if self.sync_nudged.swap(false, Ordering::SeqCst) {
                failures = 0;
            }
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
                        }) => backoff.max(after.min(switchboard_core::outbox::MAX_RETRY_AFTER)),
                        _ => backoff,
                    }
                }
            };
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = self.sync_wake.notified() => {}
                () = tokio::time::sleep(delay) => {}
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
            if !m.media_urls.is_empty() {
                // The engine does no HTTP of its own; fetching media is the carrier's to add.
                tracing::debug!(sid = %m.sid, media = m.media_urls.len(), "inbound media not fetched");
            }
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
                image: None,
            })
            .collect();
        let arrival = if history {
            Arrival::History
        } else {
            Arrival::New
        };
        let recorded = self.engine.store().insert_inbound_batch(&batch, arrival)?;
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
mod tests {
    use std::time::Duration;

    use switchboard_carrier::{CarrierLine, CarrierMessage, CarrierStatus};
    use switchboard_core::model::{MessageStatus, ThreadKey, E164};
    use switchboard_store::SettingKey;
    use tokio::sync::broadcast;

    use super::SyncState;
    use crate::runner::testkit::*;
    use crate::EngineEvent;

    const ADA: &str = "+14155550142";
    const SALES: &str = "+14155550100";

    fn inbound(sid: &str, from: &str, to: &str, body: &str) -> CarrierMessage {
        CarrierMessage {
            sid: sid.into(),
            from: E164::from_sender(from).unwrap(),
            to: num(to),
            body: body.into(),
            inbound: true,
            status: CarrierStatus::Received,
            created_at: 1_700_000_000_000,
            error_code: None,
            error_message: None,
            media_urls: Vec::new(),
        }
    }

    fn status_of(sid: &str, o: &Office, status: CarrierStatus) -> CarrierMessage {
        CarrierMessage {
            inbound: false,
            status,
            ..inbound(sid, o.sales.number.as_str(), ADA, "")
        }
    }

    #[tokio::test(start_paused = true)]
    async fn inbound_messages_make_threads_bump_unread_and_are_recorded_once() {
        let o = office();
        let carrier = FakeCarrier::new();
        for m in [
            inbound("SMa1", ADA, "+14155550100", "Is it shipped?"),
            inbound("SMa2", ADA, "+14155550100", "Hello?"),
            inbound("SMa3", ADA, "+14155550101", "My printer is broken"),
            inbound("SMa4", ADA, "+14155550199", "Not one of our lines"),
        ] {
            carrier.push_change(m);
        }
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();

        assert_eq!(runner.run_once().await.inbound, 3);

        let store = o.engine.store();
        let thread = |line: &switchboard_core::model::Line| {
            store
                .thread_by_key(&ThreadKey {
                    line: line.id,
                    counterpart: num(ADA),
                })
                .unwrap()
                .unwrap()
        };
        let (sales, support) = (thread(&o.sales), thread(&o.support));
        assert_eq!(
            (sales.unread, support.unread),
            (2, 1),
            "one thread per line"
        );
        let inbound_events: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
            .filter_map(|e| match e {
                EngineEvent::InboundMessage {
                    thread_id,
                    from,
                    line,
                    ..
                } => Some((thread_id, from.as_str().to_owned(), line)),
                _ => None,
            })
            .collect();
        assert_eq!(
            inbound_events,
            [
                (sales.id, ADA.to_owned(), o.sales.id),
                (sales.id, ADA.to_owned(), o.sales.id),
                (support.id, ADA.to_owned(), o.support.id),
            ]
        );
        assert_eq!(
            store.get_setting(SettingKey::SyncCursor).unwrap(),
            Some(serde_json::json!({ "account": "sandbox", "cursor": 4 })),
            "the cursor is saved, with the account it belongs to"
        );

        // The cursor moves on; and were it lost, the carrier ids keep messages from doubling.
        assert_eq!(runner.run_once().await.inbound, 0);
        store.remove_setting(SettingKey::SyncCursor).unwrap();
        assert_eq!(runner.run_once().await.inbound, 0);
        assert_eq!(thread(&o.sales).unread, 2);
        assert!(std::iter::from_fn(|| events.try_recv().ok())
            .all(|e| !matches!(e, EngineEvent::InboundMessage { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn delivery_statuses_reach_our_messages_and_never_go_back() {
        let o = office();
        let ids: Vec<_> = ["one", "two"]
            .iter()
            .map(|b| o.send(&o.sales, &[ADA], b)[0])
            .collect();
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        assert_eq!(runner.run_once().await.sent, 2);
        let sids: Vec<String> = carrier
            .state()
            .accepted
            .iter()
            .map(|(_, m)| m.sid.clone())
            .collect();
        let mut events = runner.subscribe();

        carrier.push_change(status_of(&sids[0], &o, CarrierStatus::Delivered));
        carrier.push_change(status_of(&sids[0], &o, CarrierStatus::Sent));
        carrier.push_change(CarrierMessage {
            error_code: Some("30005".into()),
            error_message: Some("Unknown destination handset".into()),
            ..status_of(&sids[1], &o, CarrierStatus::Undelivered)
        });
        let summary = runner.run_once().await;

        assert_eq!(summary.statuses, 2);
        assert_eq!(
            o.status(ids[0]),
            MessageStatus::Delivered,
            "a late 'sent' changes nothing"
        );
        let undelivered = o.engine.store().get_message(ids[1]).unwrap();
        assert_eq!(undelivered.status, MessageStatus::Undelivered);
        let error = undelivered.error.unwrap();
        assert_eq!(error.code.as_deref(), Some("30005"));
        assert_eq!(
            error.message, "This number doesn't exist, or no longer does.",
            "our sentence, not the carrier's jargon"
        );
        let statuses: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
            .filter_map(|e| match e {
                EngineEvent::MessageStatus {
                    message_id, status, ..
                } => Some((message_id, status)),
                _ => None,
            })
            .collect();
        assert_eq!(
            statuses,
            [
                (ids[0], MessageStatus::Delivered),
                (ids[1], MessageStatus::Undelivered)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_status_that_arrives_before_its_send_is_recorded_is_applied_later() {
        let o = office();
        let m = o.send(&o.sales, &[ADA], "one")[0];
        let store = o.engine.store();
        let job = store.outbox_job_for_message(m).unwrap().unwrap();
        store.mark_sending(job.id, crate::now_ms()).unwrap();
        let carrier = FakeCarrier::new();
        let sid = "SM000000000000000000000000000000aa";
        carrier.push_change(status_of(sid, &o, CarrierStatus::Delivered));
        let runner = o.runner(&carrier);
        let mut state = SyncState::default();

        // The sync sees the status while the send's answer is still on its way.
        runner.inner.sync_round(&mut state).await.unwrap();
        store.mark_sent(job.id, sid, crate::now_ms()).unwrap();
        assert_eq!(o.status(m), MessageStatus::Sent);
        let tally = runner.inner.sync_round(&mut state).await.unwrap();

        assert_eq!(tally.statuses, 1);
        assert_eq!(o.status(m), MessageStatus::Delivered);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sync_polls_steadily_online_and_backs_off_offline() {
        let o = office();
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        run_for(&runner, Duration::from_secs(12)).await;
        assert_eq!(carrier.state().changes_at, [0, 5_000, 10_000]);

        carrier.state().changes_at.clear();
        carrier.set_offline(true);
        run_for(&runner, Duration::from_secs(100)).await;
        let times = carrier.state().changes_at.clone();
        let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // 750 ms doubling (jitter mid-window) up to a minute's window: 45 s.
        assert_eq!(gaps, [750, 1_500, 3_000, 6_000, 12_000, 24_000, 45_000]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_carrier_saves_no_cursor() {
        let o = office();
        let carrier = FakeCarrier::new();
        carrier.push_change(inbound("SMa1", ADA, "+14155550100", "Hi"));
        carrier.set_offline(true);
        let runner = o.runner(&carrier);

        let summary = runner.run_once().await;

        assert!(!summary.synced);
        assert_eq!(summary.inbound, 0);
        assert_eq!(runner.online(), Some(false));
        assert_eq!(
            o.engine
                .store()
                .get_setting(SettingKey::SyncCursor)
                .unwrap(),
            None
        );
    }

    /// Every event published so far; a subscriber that fell behind fails the test, since the
    /// app's would have lost track.
    fn drain(events: &mut broadcast::Receiver<EngineEvent>) -> Vec<EngineEvent> {
        let mut seen = Vec::new();
        loop {
            match events.try_recv() {
                Ok(e) => seen.push(e),
                Err(broadcast::error::TryRecvError::Empty) => return seen,
                Err(e) => panic!(
                    "the event buffer overflowed: {e:?} after {} events",
                    seen.len()
                ),
            }
        }
    }

    fn inbound_events(events: &[EngineEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, EngineEvent::InboundMessage { .. }))
            .count()
    }

    fn at(m: CarrierMessage, created_at: i64) -> CarrierMessage {
        CarrierMessage { created_at, ..m }
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_sync_records_history_as_read_without_a_notification_each() {
        let o = office();
        let carrier = FakeCarrier::new();
        carrier.state().history_on_first_sync = true;
        for i in 0..500 {
            let m = inbound(&format!("SMh{i:03}"), ADA, SALES, "Two days ago");
            carrier.push_change(at(m, 1_700_000_000_000 + i * 1_000));
        }
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();

        assert_eq!(runner.run_once().await.inbound, 500);

        let seen = drain(&mut events);
        assert_eq!(inbound_events(&seen), 0, "history raises no notification");
        assert_eq!(
            seen.iter()
                .filter(|e| matches!(e, EngineEvent::HistoryImported { .. }))
                .collect::<Vec<_>>(),
            [&EngineEvent::HistoryImported { messages: 500 }],
            "one event says it all"
        );
        let key = ThreadKey {
            line: o.sales.id,
            counterpart: num(ADA),
        };
        let store = o.engine.store();
        let thread = store.thread_by_key(&key).unwrap().unwrap();
        assert_eq!((thread.unread, store.total_unread().unwrap()), (0, 0));
        assert_eq!(
            o.engine
                .thread(thread.id, 500, None)
                .unwrap()
                .messages
                .len(),
            500
        );

        // Later rounds are news again.
        carrier.push_change(at(
            inbound("SMnew", ADA, SALES, "Still there?"),
            1_700_001_000_000,
        ));
        assert_eq!(runner.run_once().await.inbound, 1);
        assert_eq!(inbound_events(&drain(&mut events)), 1);
        assert_eq!(store.thread_by_key(&key).unwrap().unwrap().unread, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_to_a_number_bought_while_running_adopts_the_number_as_a_line() {
        let o = office();
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        let billing = num("+14155550102");
        carrier.state().lines.as_mut().unwrap().push(CarrierLine {
            sid: "PN14155550102".into(),
            number: billing.clone(),
            label: "Billing".into(),
            sms: true,
            mms: false,
        });
        carrier.push_change(inbound("SMb1", ADA, "+14155550102", "About my invoice"));
        carrier.push_change(inbound("SMb2", ADA, "+14155550199", "Not the account's"));
        carrier.push_change(inbound("SMb3", ADA, "+14155550198", "Nor this"));
        let mut events = runner.subscribe();

        assert_eq!(runner.run_once().await.inbound, 1);

        let lines = o.engine.lines().unwrap();
        let line = lines.iter().find(|l| l.number == billing).expect("adopted");
        assert_eq!(
            (line.label.as_str(), line.in_account, line.mms),
            ("Billing", true, false)
        );
        assert!(lines.iter().all(|l| l.in_account), "the others stay");
        let thread = o
            .engine
            .store()
            .thread_by_key(&ThreadKey {
                line: line.id,
                counterpart: num(ADA),
            })
            .unwrap()
            .unwrap();
        assert_eq!(thread.unread, 1);
        let seen = drain(&mut events);
        assert_eq!(inbound_events(&seen), 1);
        assert!(seen.contains(&EngineEvent::LinesChanged), "{seen:?}");
        assert_eq!(
            carrier.state().lines_at.len(),
            1,
            "the carrier's numbers are read once a round, however many strangers write"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_carriers_numbers_are_read_again_every_ten_minutes() {
        let o = office();
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        let billing = num("+14155550102");
        carrier.state().lines.as_mut().unwrap().push(CarrierLine {
            sid: "PN14155550102".into(),
            number: billing.clone(),
            label: "Billing".into(),
            sms: true,
            mms: true,
        });

        run_for(&runner, Duration::from_secs(11 * 60)).await;

        let read_at = carrier.state().lines_at.clone();
        assert_eq!(read_at.len(), 1, "not at every poll: {read_at:?}");
        assert!(read_at[0] >= 10 * 60 * 1_000, "{read_at:?}");
        assert!(o
            .engine
            .lines()
            .unwrap()
            .iter()
            .any(|l| l.number == billing));
    }

    #[tokio::test(start_paused = true)]
    async fn two_replies_in_the_same_second_keep_the_carriers_order() {
        let o = office();
        let carrier = FakeCarrier::new();
        // Carrier ids say nothing of order; the carrier's listing does.
        carrier.push_change(inbound("SMzz", ADA, SALES, "Is it shipped?"));
        carrier.push_change(inbound("SMaa", ADA, SALES, "Never mind, it just arrived"));
        let runner = o.runner(&carrier);
        runner.run_once().await;
        carrier.push_change(inbound("SMmm", ADA, SALES, "Thanks!"));
        runner.run_once().await;

        let thread = o
            .engine
            .store()
            .thread_by_key(&ThreadKey {
                line: o.sales.id,
                counterpart: num(ADA),
            })
            .unwrap()
            .unwrap();
        let newest_first: Vec<String> = o
            .engine
            .thread(thread.id, 10, None)
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(
            newest_first,
            ["Thanks!", "Never mind, it just arrived", "Is it shipped?"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_cursor_is_written_only_when_it_moves() {
        let o = office();
        let carrier = FakeCarrier::new();
        carrier.push_change(inbound("SMc1", ADA, SALES, "Hi"));
        let runner = o.runner(&carrier);
        runner.run_once().await;
        let store = o.engine.store();
        // A mark the sync does not write: it stays only while the setting is left alone.
        let marked = serde_json::json!({ "account": "sandbox", "cursor": 1, "mark": true });
        store.set_setting(SettingKey::SyncCursor, &marked).unwrap();

        runner.run_once().await;
        runner.run_once().await;
        assert_eq!(
            store.get_setting(SettingKey::SyncCursor).unwrap(),
            Some(marked),
            "idle rounds write nothing"
        );

        carrier.push_change(inbound("SMc2", ADA, SALES, "Hello?"));
        runner.run_once().await;
        assert_eq!(
            store.get_setting(SettingKey::SyncCursor).unwrap(),
            Some(serde_json::json!({ "account": "sandbox", "cursor": 2 }))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn short_codes_and_alphanumeric_senders_get_threads_of_their_own() {
        let o = office();
        let carrier = FakeCarrier::new();
        for (i, (sid, from, body)) in [
            ("SMs1", "89363", "Your code is 123456"),
            ("SMs2", "GOOGLE", "G-123456 is your code"),
            ("SMs3", "89363", "Your code is 654321"),
        ]
        .into_iter()
        .enumerate()
        {
            let m = inbound(sid, from, SALES, body);
            carrier.push_change(at(m, 1_700_000_000_000 + i as i64 * 1_000));
        }
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();

        assert_eq!(runner.run_once().await.inbound, 3);

        let threads = o.engine.threads(None, 50, None).unwrap();
        let shown: Vec<(&str, &str, i64)> = threads
            .iter()
            .map(|t| (t.counterpart.as_str(), t.display.as_str(), t.unread))
            .collect();
        assert_eq!(shown, [("89363", "89363", 2), ("GOOGLE", "GOOGLE", 1)]);
        assert_eq!(inbound_events(&drain(&mut events)), 3);
    }
}
