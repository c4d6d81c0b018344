//! Triage, the use cases: mark a conversation done, back to the inbox, unread, or snoozed
//! until a time; unread counts per line for the line filter. The rules are core's `triage`;
//! a snooze's end is the runner's (`runner/snooze`), which publishes
//! [`crate::EngineEvent::SnoozeEnded`].

use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, ThreadId, ThreadKey, E164};
use switchboard_core::triage;

use crate::threads::{view, ThreadView};
use crate::{now_ms, Engine, Result};

/// One line's unread messages, for the line filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct LineUnread {
    pub line: LineId,
    pub unread: i64,
}

impl Engine {
    /// "Done": the conversation leaves the inbox, read, until a new message arrives.
    pub fn mark_done(&self, id: ThreadId) -> Result<ThreadView> {
        self.store.mark_done(id, now_ms())?;
        self.thread_view(id)
    }

    /// Back to the inbox from Done or Snoozed.
    pub fn mark_undone(&self, id: ThreadId) -> Result<ThreadView> {
        self.store.move_to_inbox(id)?;
        self.thread_view(id)
    }

    /// "Mark unread": it shows as unread (at least one) where it is, until it is read again.
    pub fn mark_unread(&self, id: ThreadId) -> Result<ThreadView> {
        self.store.mark_unread(id)?;
        self.thread_view(id)
    }

    /// Out of the inbox until `until` (milliseconds since the Unix epoch: after now, within a
    /// year), or until a new message arrives. A runner brings it back on top at that time.
    pub fn snooze(&self, id: ThreadId, until: i64) -> Result<ThreadView> {
        let now = now_ms();
        triage::check_snooze(until, now)?;
        self.store.snooze(id, until, now)?;
        self.thread_view(id)
    }

    /// Unread messages per line (lines without any are left out).
    pub fn unread_by_line(&self) -> Result<Vec<LineUnread>> {
        Ok(self
            .store
            .unread_by_line()?
            .into_iter()
            .map(|(line, unread)| LineUnread { line, unread })
            .collect())
    }

    /// The conversations with `number`, one per line that has one, in the order of the lines.
    pub fn threads_with(&self, number: &E164) -> Result<Vec<ThreadView>> {
        let lines = self.store.list_lines()?;
        let mut found = Vec::new();
        for line in &lines {
            let key = ThreadKey {
                line: line.id,
                counterpart: number.clone(),
            };
            if let Some(t) = self.store.thread_by_key(&key)? {
                found.push(view(&lines, t)?);
            }
        }
        Ok(found)
    }

    /// Brings back the conversations whose snooze is over by `now`; returns them.
    pub(crate) fn wake_snoozed(&self, now: i64) -> Result<Vec<ThreadId>> {
        Ok(self.store.wake_snoozed(now)?)
    }

    /// When the soonest snooze ends, if any.
    pub(crate) fn next_snooze_end(&self) -> Result<Option<i64>> {
        Ok(self.store.next_snooze_end()?)
    }

    fn thread_view(&self, id: ThreadId) -> Result<ThreadView> {
        let lines = self.store.list_lines()?;
        view(&lines, self.store.get_thread(id)?)
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::triage::View;

    use super::*;
    use crate::testutil::engine;

    const HOUR: i64 = 3_600_000;

    /// An engine with Sales and a conversation with Ada that has one unread message.
    fn with_ada() -> (tempfile::TempDir, Engine, LineId, ThreadId) {
        let (dir, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap().id;
        let ada = E164::from_normalized("+14155550142").unwrap();
        let key = ThreadKey {
            line: sales,
            counterpart: ada,
        };
        let thread = e
            .store()
            .insert_inbound(&key, "Is it ready?", "SM1", now_ms() - 1_000, None)
            .unwrap()
            .thread_id;
        (dir, e, sales, thread)
    }

    fn inbox(e: &Engine) -> Vec<ThreadId> {
        e.threads(None, 50, None)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect()
    }

    #[test]
    fn done_and_undone() {
        let (_d, e, _sales, ada) = with_ada();
        let done = e.mark_done(ada).unwrap();
        assert_eq!((done.view, done.unread), (View::Done, 0));
        assert!(inbox(&e).is_empty());
        let listed = e.view_threads(View::Done, None, 50, None).unwrap();
        assert_eq!(listed[0].id, ada);
        let back = e.mark_undone(ada).unwrap();
        assert_eq!(back.view, View::Inbox);
        assert_eq!(inbox(&e), [ada]);
    }

    #[test]
    fn a_snooze_is_checked_then_ends_back_on_top() {
        let (_d, e, sales, ada) = with_ada();
        let grace = ThreadKey {
            line: sales,
            counterpart: E164::from_normalized("+14155550143").unwrap(),
        };
        let grace = e
            .store()
            .insert_inbound(&grace, "Hello", "SM2", now_ms(), None)
            .unwrap()
            .thread_id;
        let until = now_ms() + HOUR;
        let snoozed = e.snooze(ada, until).unwrap();
        assert_eq!(
            (snoozed.view, snoozed.snoozed_until),
            (View::Snoozed, Some(until))
        );
        assert_eq!(inbox(&e), [grace]);
        assert_eq!(e.next_snooze_end().unwrap(), Some(until));
        assert_eq!(e.wake_snoozed(until).unwrap(), [ada]);
        assert_eq!(inbox(&e), [ada, grace], "back on top");

        let check = |until: i64, code: &str| {
            let err = e.snooze(ada, until).unwrap_err();
            assert_eq!(err.code().as_str(), code, "{err}");
            assert!(!err.to_string().is_empty());
        };
        check(now_ms() - 1, "time_in_the_past");
        check(now_ms() + triage::MAX_SNOOZE_MS + HOUR, "snooze_too_far");
        assert_eq!(
            e.get_view(ada),
            View::Inbox,
            "a refused snooze changes nothing"
        );
    }

    impl Engine {
        fn get_view(&self, id: ThreadId) -> View {
            self.thread_view(id).unwrap().view
        }
    }

    #[test]
    fn mark_unread_and_counts_per_line() {
        let (_d, e, sales, ada) = with_ada();
        assert_eq!(
            e.unread_by_line().unwrap(),
            [LineUnread {
                line: sales,
                unread: 1
            }]
        );
        e.mark_read(ada).unwrap();
        assert!(e.unread_by_line().unwrap().is_empty());
        assert_eq!(e.mark_unread(ada).unwrap().unread, 1);
        assert_eq!(e.total_unread().unwrap(), 1);
    }

    #[test]
    fn an_unknown_conversation_is_not_found() {
        let (_d, e, _sales, _ada) = with_ada();
        let missing = ThreadId(404);
        for err in [
            e.mark_done(missing).unwrap_err(),
            e.mark_undone(missing).unwrap_err(),
            e.mark_unread(missing).unwrap_err(),
            e.snooze(missing, now_ms() + HOUR).unwrap_err(),
        ] {
            assert_eq!(err.code().as_str(), "thread_not_found");
            assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        }
    }

    #[test]
    fn conversations_with_a_number_one_per_line() {
        let (_d, e, _sales, ada) = with_ada();
        let number = E164::from_normalized("+14155550142").unwrap();
        let found: Vec<ThreadId> = e
            .threads_with(&number)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(found, [ada]);
        let nobody = E164::from_normalized("+14155550199").unwrap();
        assert!(e.threads_with(&nobody).unwrap().is_empty());
    }
}
