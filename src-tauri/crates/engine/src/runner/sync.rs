//! The inbound sync: polls the carrier for what changed since the stored cursor (a desktop has
//! no public webhook), records inbound messages (deduplicated by the carrier's id, which creates
//! the (line, number) thread and bumps its unread count), applies delivery statuses to our sent
//! messages, and saves the cursor after the changes are written. A crash in between only makes
//! the next round fetch the same changes again, which the deduplication absorbs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard_carrier::{CarrierError, CarrierMessage, CarrierStatus, SyncCursor};
use switchboard_core::model::{Direction, Line, MessageStatus, ThreadKey};
use switchboard_core::outbox::Backoff;
use switchboard_store::{MessageError, SettingKey, StoreError};
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
    /// saves the cursor after each page.
    pub(crate) async fn sync_round(&self, state: &mut SyncState) -> Result<SyncTally, SyncError> {
        let store = self.engine.store();
        let mut tally = SyncTally::default();
        for _ in 0..MAX_PAGES {
            let cursor = self.saved_cursor()?;
            let result = self
                .call(self.carrier.changes(&cursor), super::unanswered)
                .await;
            let changes = result.map_err(SyncError::Carrier)?;
            let lines = store.list_lines()?;
            for m in &changes.messages {
                if m.inbound {
                    self.record_inbound(m, &lines, &mut tally)?;
                } else {
                    self.record_status(m, state, &mut tally)?;
                }
            }
            store.set_setting(
                SettingKey::SyncCursor,
                &serde_json::json!({ "account": self.account, "cursor": changes.cursor.0 }),
            )?;
            if changes.messages.is_empty() || changes.cursor == cursor {
                break;
            }
        }
        self.retry_unmatched(state, &mut tally)?;
        Ok(tally)
    }

    fn record_inbound(
        &self,
        m: &CarrierMessage,
        lines: &[Line],
        tally: &mut SyncTally,
    ) -> Result<(), SyncError> {
        let Some(line) = lines.iter().find(|l| l.number == m.to) else {
            tracing::warn!(sid = %m.sid, "skipped an inbound message to a number that is not one of our lines");
            return Ok(());
        };
        if !m.media_urls.is_empty() {
            // The engine does no HTTP of its own; fetching media is the carrier's to add.
            tracing::debug!(sid = %m.sid, media = m.media_urls.len(), "inbound media not fetched");
        }
        let key = ThreadKey {
            line: line.id,
            counterpart: m.from.clone(),
        };
        let got = self
            .engine
            .store()
            .insert_inbound(&key, &m.body, &m.sid, m.created_at, None)?;
        if got.is_new {
            tally.inbound += 1;
            self.emit(EngineEvent::InboundMessage {
                thread_id: got.thread_id,
                message_id: got.message_id,
                from: m.from.clone(),
                line: line.id,
            });
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

    use switchboard_carrier::{CarrierMessage, CarrierStatus};
    use switchboard_core::model::{MessageStatus, ThreadKey};
    use switchboard_store::SettingKey;

    use super::SyncState;
    use crate::runner::testkit::*;
    use crate::EngineEvent;

    const ADA: &str = "+14155550142";

    fn inbound(sid: &str, from: &str, to: &str, body: &str) -> CarrierMessage {
        CarrierMessage {
            sid: sid.into(),
            from: num(from),
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
}
