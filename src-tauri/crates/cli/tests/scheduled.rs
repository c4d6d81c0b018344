//! Scheduled messages from the command line: `send --at` keeps a message for its time (listed by
//! `outbox scheduled`, cancelled by `outbox cancel`), and a sender killed (SIGKILL) while the
//! carrier has the scheduled message but has not answered still leaves it at the carrier
//! exactly once. The sandbox runs as a process of its own, listing a second late, its clock
//! 90 s off ours.

mod support;

use support::{now_ms, rfc3339, wait_for, Office};

const ADA: &str = "+14155550123";

/// How far ahead a test schedules its message: far enough that the commands before its time (each
/// a process of its own, which opens the store) all run before it. Under Wine a process takes a
/// second or two to start, and a time passed is refused (`time_in_the_past`).
const AHEAD_MS: i64 = if cfg!(windows) { 20_000 } else { 3_000 };

#[test]
fn a_scheduled_message_crossing_a_sigkill_of_the_sender_reaches_the_carrier_once() {
    let w = Office::start();
    let at = now_ms() + AHEAD_MS + 1_000;
    let receipt = w.ok(&[
        "send",
        "--to",
        ADA,
        "--line",
        "Sales",
        "--body",
        "Your table is ready",
        "--at",
        &rfc3339(at),
    ]);
    assert_eq!(
        receipt["scheduled"].as_array().unwrap().len(),
        1,
        "{receipt}"
    );
    let listed = w.ok(&["outbox", "scheduled"]);
    assert_eq!(listed[0]["body"], "Your table is ready");
    assert_eq!(listed[0]["held"], false);
    assert_eq!(
        w.ok(&["outbox"]),
        serde_json::json!([]),
        "no job before its time"
    );

    // Its send is taken by the carrier and never answered; the sender is killed meanwhile.
    w.ok(&["sandbox", "fail", "timeout", "--sends-only"]);
    let mut sender = w.spawn_sender();
    // Looked for every 50 ms from before its time: the first sight of it is not early.
    wait_for("the carrier to receive the scheduled message", || {
        let received = w.ok(&["sandbox", "stats"])["received_count"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            received == 0 || now_ms() >= at - 1_000,
            "sent before its time"
        );
        received >= 1
    });
    sender.kill().unwrap(); // SIGKILL: no chance to record anything
    sender.wait().unwrap();

    // The next run finds it at the carrier rather than sending it again.
    wait_for("the outbox to settle", || {
        w.ok(&["run", "--once"])["pending"] == 0
    });
    assert_eq!(w.carrier_received(), ["Your table is ready"]);
    assert_eq!(w.ok(&["outbox", "scheduled"]), serde_json::json!([]));
    w.ok(&["run", "--once"]);
    assert_eq!(w.carrier_received().len(), 1, "once");
}

#[test]
fn a_scheduled_message_is_cancelled_and_bad_times_are_refused_in_words() {
    let w = Office::start();
    let receipt = w.ok(&[
        "send",
        "--to",
        ADA,
        "--line",
        "Sales",
        "--body",
        "Reminder",
        "--at",
        &rfc3339(now_ms() + 3_600_000),
    ]);
    let id = receipt["scheduled"][0]["id"].as_i64().unwrap().to_string();
    w.ok(&["outbox", "cancel", &id]);
    assert_eq!(w.ok(&["outbox", "scheduled"]), serde_json::json!([]));
    w.fails(&["outbox", "cancel", &id], "scheduled_not_found");
    w.ok(&["run", "--once"]);
    assert!(w.carrier_received().is_empty());

    let past = [
        "send",
        "--to",
        ADA,
        "--line",
        "Sales",
        "--body",
        "x",
        "--at",
        "2020-01-01 09:00",
    ];
    w.fails(&past, "time_in_the_past");
    let unreadable = [
        "send", "--to", ADA, "--line", "Sales", "--body", "x", "--at", "soon",
    ];
    w.fails(&unreadable, "time_unreadable");
    let far = rfc3339(now_ms() + 400 * 24 * 3_600_000);
    w.fails(
        &[
            "send", "--to", ADA, "--line", "Sales", "--body", "x", "--at", &far,
        ],
        "send_at_invalid",
    );
    // Nothing late: send-late queues none.
    assert_eq!(w.ok(&["outbox", "send-late"])["queued"], 0);
}

#[test]
fn on_a_busy_day_two_identical_scheduled_messages_cross_a_502_after_create_and_a_sigkill_once_each()
{
    let w = Office::start();
    // A busy day at the carrier: the listings the sender reconciles against are full.
    w.ok(&["sandbox", "flood", "400"]);
    let at = rfc3339(now_ms() + AHEAD_MS);
    let body = "Your table is ready";
    for _ in 0..2 {
        w.ok(&[
            "send", "--to", ADA, "--line", "Sales", "--body", body, "--at", &at,
        ]);
    }
    // The first send is created and answered 502; the second is created and never answered.
    w.ok(&["sandbox", "fail", "502", "--after-create", "--sends-only"]);
    let mut sender = w.spawn_sender();
    wait_for("the carrier to create the first", || {
        w.ok(&["sandbox", "stats"])["received_count"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    });
    w.ok(&["sandbox", "fail", "timeout", "--sends-only"]);
    wait_for("the carrier to create the second", || {
        w.ok(&["sandbox", "stats"])["received_count"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    });
    sender.kill().unwrap(); // SIGKILL: no chance to record anything
    sender.wait().unwrap();

    wait_for("the outbox to settle", || {
        w.ok(&["run", "--once"])["pending"] == 0
    });
    w.ok(&["run", "--once"]);
    let ours = w.carrier_received().iter().filter(|b| *b == body).count();
    assert_eq!(
        ours, 2,
        "each identical scheduled message reached the carrier once"
    );
    assert_eq!(w.ok(&["outbox", "scheduled"]), serde_json::json!([]));
}
