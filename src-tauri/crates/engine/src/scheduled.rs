//! Messages waiting to be sent later: listed, edited, cancelled, and sent now when the user
//! confirms one found late (the store keeps them, `Engine::schedule` makes them, the runner
//! releases them when due: `runner/outbox_loop.rs`).

use serde::{Deserialize, Serialize};
use switchboard_core::composer::{self, Draft};
use switchboard_core::model::{ImageKind, ThreadId, ThreadKey, E164};
use switchboard_core::schedule;
use switchboard_core::threads::display_name;
use switchboard_store::{Scheduled, ScheduledId};

use crate::{now_ms, Engine, EngineError, Result};

/// A waiting message as the outbox and the thread show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ScheduledView {
    pub id: ScheduledId,
    pub to: E164,
    /// The contact's name, else the number formatted.
    pub display: String,
    /// The line's label.
    pub line: String,
    pub body: String,
    /// When it goes, in ms since the epoch.
    pub send_at: i64,
    /// Late by more than 15 minutes: waits for the user to send it anyway or cancel it.
    pub held: bool,
    pub images: u32,
}

impl Engine {
    /// Every message waiting to be sent later, soonest first.
    pub fn scheduled(&self) -> Result<Vec<ScheduledView>> {
        let all = self.store.list_scheduled()?;
        self.scheduled_views(all)
    }

    /// The messages waiting to be sent later in one conversation, soonest first.
    pub fn scheduled_in(&self, thread: ThreadId) -> Result<Vec<ScheduledView>> {
        let t = self.store.get_thread(thread)?;
        self.scheduled_for(&t.key())
    }

    pub(crate) fn scheduled_for(&self, key: &ThreadKey) -> Result<Vec<ScheduledView>> {
        let waiting = self.store.scheduled_for(key)?;
        self.scheduled_views(waiting)
    }

    /// Changes a waiting message's text and time, checked as a new one would be.
    pub fn edit_scheduled(&self, id: ScheduledId, body: &str, send_at: i64) -> Result<()> {
        let waiting = self.store.get_scheduled(id)?;
        schedule::check_send_at(send_at, now_ms())?;
        // Its images stay; only their number matters to the rules.
        composer::validate(&Draft {
            recipients: vec![waiting.counterpart.clone()],
            body: body.to_owned(),
            images: vec![ImageKind::Jpeg; waiting.images as usize],
        })?;
        self.store.edit_scheduled(id, body, send_at)?;
        Ok(())
    }

    /// Cancels a waiting message: nothing is sent.
    pub fn cancel_scheduled(&self, id: ScheduledId) -> Result<()> {
        self.store.cancel_scheduled(id)?;
        Ok(())
    }

    /// Sends now what waits: `ids`, or with `None` every message held for being late. Answers
    /// how many were queued; the runner takes them at its next look (`Runner::wake`).
    pub fn send_scheduled_now(&self, ids: Option<&[ScheduledId]>) -> Result<usize> {
        if ids.is_some_and(<[ScheduledId]>::is_empty) {
            return Err(EngineError::Invalid {
                what: "Sending scheduled messages now",
                why: "needs at least one of them.".into(),
            });
        }
        Ok(self.store.release_now(ids, now_ms())?.len())
    }

    /// How many scheduled messages wait for the user's confirmation, late.
    pub fn late_count(&self) -> Result<i64> {
        Ok(self.store.held_count()?)
    }

    fn scheduled_views(&self, waiting: Vec<Scheduled>) -> Result<Vec<ScheduledView>> {
        let lines = self.store.list_lines()?;
        waiting
            .into_iter()
            .map(|s| {
                let contact = self.store.contact_by_number(&s.counterpart)?;
                Ok(ScheduledView {
                    id: s.id,
                    display: display_name(
                        contact.as_ref().map(|c| c.name.as_str()),
                        &s.counterpart,
                    ),
                    to: s.counterpart,
                    line: lines
                        .iter()
                        .find(|l| l.id == s.line_id)
                        .map_or_else(String::new, |l| l.label.clone()),
                    body: s.body,
                    send_at: s.send_at,
                    held: s.held,
                    images: s.images,
                })
            })
            .collect()
    }
}
