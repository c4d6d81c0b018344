//! The end of snoozes: a snoozed conversation comes back on top of the inbox at its time, with
//! an [`EngineEvent::SnoozeEnded`] that the app turns into a notification. The loop sleeps until
//! the soonest snooze ends, or [`SNOOZE_LOOK`] at most (a snooze set by another process, the CLI
//! while the app runs, is noticed that late at worst); a snooze set here wakes it at once
//! (`Runner::wake`). A snooze that ended while nothing ran ends at the next start.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::sleep_until;

use super::Inner;
use crate::events::EngineEvent;

/// The longest the loop sleeps without looking at the store again.
pub(crate) const SNOOZE_LOOK: Duration = Duration::from_secs(30);

impl Inner {
    pub(crate) async fn snooze_loop(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.now();
            self.end_snoozes(now);
            let look = now + SNOOZE_LOOK.as_millis() as i64;
            let next = match self.engine.next_snooze_end() {
                Ok(next) => next.map_or(look, |at| at.min(look)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read when the next snooze ends");
                    look
                }
            };
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = self.snooze_wake.notified() => {}
                () = sleep_until(self.config.clock.instant_at(next)) => {}
            }
        }
    }

    /// Brings back the conversations whose snooze is over by `now`, one event each.
    pub(crate) fn end_snoozes(&self, now: i64) -> usize {
        match self.engine.wake_snoozed(now) {
            Ok(woken) => {
                for thread_id in &woken {
                    tracing::info!(thread = %thread_id, "a snoozed conversation is back");
                    self.emit(EngineEvent::SnoozeEnded {
                        thread_id: *thread_id,
                    });
                }
                woken.len()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot end the snoozes that are due");
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchboard_core::model::ThreadKey;
    use switchboard_core::triage::View;

    use crate::runner::testkit::{num, office, FakeCarrier};
    use crate::EngineEvent;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_snooze_ends_at_its_time_with_one_event() {
        let o = office();
        let key = ThreadKey {
            line: o.sales.id,
            counterpart: num("+14155550142"),
        };
        let thread = o
            .engine
            .store()
            .insert_inbound(&key, "Call me back", "SM1", crate::now_ms(), None)
            .unwrap()
            .thread_id;
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        let mut events = runner.subscribe();
        let view = || o.engine.thread(thread, 1, None).unwrap().thread.view;
        let ended = |events: &mut tokio::sync::broadcast::Receiver<EngineEvent>| {
            std::iter::from_fn(|| events.try_recv().ok())
                .filter(|e| matches!(e, EngineEvent::SnoozeEnded { .. }))
                .collect::<Vec<_>>()
        };
        runner
            .run_until_stopped(async {
                tokio::time::sleep(MINUTE).await;
                // Snoozed for an hour from the app: the runner is told at once.
                let until = crate::now_ms() + 60 * 60_000;
                o.engine.snooze(thread, until).unwrap();
                runner.wake();
                tokio::time::sleep(58 * MINUTE).await;
                assert_eq!(view(), View::Snoozed);
                assert!(ended(&mut events).is_empty());
                tokio::time::sleep(3 * MINUTE).await;
                assert_eq!(view(), View::Inbox);
                tokio::time::sleep(10 * MINUTE).await;
            })
            .await;
        assert_eq!(
            ended(&mut events),
            [EngineEvent::SnoozeEnded { thread_id: thread }]
        );
        let back = o.engine.threads(None, 10, None).unwrap();
        assert_eq!((back[0].id, back[0].unread), (thread, 1), "on top, unread");
    }

    #[tokio::test(start_paused = true)]
    async fn a_snooze_over_while_nothing_ran_ends_at_the_next_run() {
        let o = office();
        let key = ThreadKey {
            line: o.sales.id,
            counterpart: num("+14155550142"),
        };
        let thread = o
            .engine
            .store()
            .insert_inbound(&key, "Call me back", "SM1", crate::now_ms(), None)
            .unwrap()
            .thread_id;
        o.engine
            .store()
            .snooze(thread, crate::now_ms() - 1, crate::now_ms() - 10)
            .unwrap();
        let carrier = FakeCarrier::new();
        let runner = o.runner(&carrier);
        let summary = runner.run_once().await;
        assert_eq!(summary.snoozes_ended, 1);
        assert_eq!(o.engine.threads(None, 10, None).unwrap()[0].id, thread);
        assert_eq!(runner.run_once().await.snoozes_ended, 0);
    }
}
