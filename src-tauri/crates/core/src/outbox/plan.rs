//! Which jobs may leave now: order within a thread, a per-line rate limit, a global cap.

use std::collections::HashMap;

use crate::model::{LineId, ThreadId};

/// A job still to be sent, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Outbox ids grow with enqueueing, so they order the messages of a thread.
    pub id: i64,
    pub thread: ThreadId,
    pub line: LineId,
    /// In flight, or of unknown outcome: blocks the rest of its thread.
    pub sending: bool,
    pub due_at: i64,
}

/// What may leave now, and when to look again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Job ids to start now, oldest first.
    pub send: Vec<i64>,
    /// The earliest time something that waits could leave (a backoff ending, a line's rate
    /// limit freeing up); `None` when nothing waits on time.
    pub wake_at: Option<i64>,
    /// Jobs due now but held back by their line's rate limit or the global cap: "everything
    /// due now" is not done while this is above zero.
    pub held: usize,
}

/// Chooses the jobs that may leave at `now`:
/// - **order within a thread**: only the oldest pending job of a thread may leave, and none while
///   an older one is in flight or of unknown outcome (failed jobs are not pending: they block
///   nothing);
/// - **per-line rate**: a line sends at most one message per `min_interval_ms`; `line_free_at`
///   says when each line may send again and is updated for the jobs chosen;
/// - **global cap**: at most `slots` jobs.
///
/// `pending` may come in any order.
pub fn plan(
    pending: &[Pending],
    now: i64,
    line_free_at: &mut HashMap<LineId, i64>,
    min_interval_ms: i64,
    slots: usize,
) -> Plan {
    let mut heads: HashMap<ThreadId, &Pending> = HashMap::new();
    for job in pending {
        heads
            .entry(job.thread)
            .and_modify(|head| {
                if job.id < head.id {
                    *head = job;
                }
            })
            .or_insert(job);
    }
    let mut heads: Vec<&Pending> = heads.into_values().filter(|h| !h.sending).collect();
    // Oldest due first, so a long-waiting message is not starved by newer ones on its line.
    heads.sort_by_key(|h| (h.due_at, h.id));

    let mut out = Plan::default();
    let wake = |at: i64, out: &mut Plan| {
        out.wake_at = Some(out.wake_at.map_or(at, |w| w.min(at)));
    };
    for head in heads {
        if head.due_at > now {
            wake(head.due_at, &mut out);
            continue;
        }
        let free_at = line_free_at.get(&head.line).copied().unwrap_or(i64::MIN);
        if free_at > now {
            wake(free_at, &mut out);
            out.held += 1;
            continue;
        }
        if out.send.len() >= slots {
            // A finished job frees a slot and wakes the runner; nothing to time.
            out.held += 1;
            continue;
        }
        out.send.push(head.id);
        line_free_at.insert(head.line, now.saturating_add(min_interval_ms.max(0)));
    }
    out
}

/// The spacing between two sends of a line allowed `rate` messages per second. A carrier that
/// states no usable rate gets Twilio's long-code rate, 1 per second, rather than none.
pub fn min_interval_ms(rate: f64) -> i64 {
    if rate.is_finite() && rate > 0.0 {
        (1000.0 / rate).ceil() as i64
    } else {
        1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn pending(id: i64, thread: i64, line: i64, sending: bool, due_at: i64) -> Pending {
        Pending {
            id,
            thread: ThreadId(thread),
            line: LineId(line),
            sending,
            due_at,
        }
    }

    /// Plans at time 10 s with lines free unless said otherwise, 1 s between sends of a line.
    fn check_plan(
        jobs: &[Pending],
        busy_lines: &[(i64, i64)],
        slots: usize,
        expected_send: &[i64],
        expected_wake: Option<i64>,
        expected_held: usize,
    ) {
        let mut free: HashMap<LineId, i64> =
            busy_lines.iter().map(|&(l, at)| (LineId(l), at)).collect();
        let got = plan(jobs, 10 * S, &mut free, S, slots);
        assert_eq!(
            got,
            Plan {
                send: expected_send.to_vec(),
                wake_at: expected_wake,
                held: expected_held,
            },
            "{jobs:?}"
        );
        for id in &got.send {
            let line = jobs.iter().find(|j| j.id == *id).unwrap().line;
            assert_eq!(free[&line], 11 * S, "line {line} is busy for a second");
        }
    }

    #[test]
    fn planning() {
        // Nothing pending.
        check_plan(&[], &[], 4, &[], None, 0);
        // Two threads on two lines: both go.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 2, false, 0)],
            &[],
            4,
            &[1, 2],
            None,
            0,
        );
        // Within a thread only the oldest goes, whatever the order given.
        check_plan(
            &[pending(3, 1, 1, false, 0), pending(1, 1, 1, false, 0)],
            &[],
            4,
            &[1],
            None,
            0,
        );
        // An older message in flight (or of unknown outcome) holds back the rest of its thread.
        check_plan(
            &[pending(1, 1, 1, true, 0), pending(2, 1, 1, false, 0)],
            &[],
            4,
            &[],
            None,
            0,
        );
        // An older message waiting out a backoff holds back a newer one that is due.
        check_plan(
            &[pending(1, 1, 1, false, 30 * S), pending(2, 1, 1, false, 0)],
            &[],
            4,
            &[],
            Some(30 * S),
            0,
        );
        // Two threads on one line: one now, the other when the line is free again.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 1, false, 0)],
            &[],
            4,
            &[1],
            Some(11 * S),
            1,
        );
        // A line still busy from an earlier send.
        check_plan(
            &[pending(1, 1, 1, false, 0), pending(2, 2, 2, false, 0)],
            &[(1, 10 * S + 400)],
            4,
            &[2],
            Some(10 * S + 400),
            1,
        );
        // The global cap: the oldest due go first.
        check_plan(
            &[
                pending(1, 1, 1, false, 5 * S),
                pending(2, 2, 2, false, 0),
                pending(3, 3, 3, false, 0),
            ],
            &[],
            2,
            &[2, 3],
            None,
            1,
        );
        // Not yet due: only a wake-up time.
        check_plan(
            &[pending(1, 1, 1, false, 12 * S)],
            &[],
            4,
            &[],
            Some(12 * S),
            0,
        );
        // No slot at all: nothing starts.
        check_plan(&[pending(1, 1, 1, false, 0)], &[], 0, &[], None, 1);
    }

    #[test]
    fn rates() {
        let check =
            |rate: f64, expected: i64| assert_eq!(min_interval_ms(rate), expected, "{rate}");
        check(1.0, 1000);
        check(10.0, 100);
        check(3.0, 334);
        check(0.5, 2000);
        check(0.0, 1000);
        check(-1.0, 1000);
        check(f64::NAN, 1000);
        check(f64::INFINITY, 1000);
    }
}
