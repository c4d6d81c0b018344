//! Sending for real, as a person or a script does it with the CLI: the sandbox carrier runs as
//! a process of its own (`sandbox serve`), and the sender (`run`) is a separate process that a
//! test can kill. Everything crosses real HTTP on loopback.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::{wait_for, SandboxProcess};

/// A data directory with its sandbox carrier running beside it.
struct World {
    dir: tempfile::TempDir,
    _sandbox: SandboxProcess,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let world = World {
            _sandbox: SandboxProcess::serve(&dir.path().join("data")),
            dir,
        };
        // The first run adopts the sandbox's lines (Sales, Support) and demo contacts.
        world.ok(&["run", "--once"]);
        // The carrier as it really is: a new message is listed a second late, and its clock is
        // 90 s off this computer's.
        world.ok(&["sandbox", "list-lag", "1"]);
        world.ok(&["sandbox", "clock-skew", "90"]);
        world
    }

    fn command(&self, args: &[&str]) -> Command {
        // Listed within 2 s: the sandbox lags 1 s.
        let mut c = support::cli(self.dir.path(), 2000);
        c.args(args);
        c
    }

    /// `run` as a background process, which a test can kill.
    fn spawn_sender(&self) -> Child {
        self.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.command(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// The bodies the carrier received from us, in the order it received them.
    fn carrier_received(&self) -> Vec<String> {
        let messages = self.ok(&["sandbox", "messages"]);
        let list = messages
            .get("messages")
            .and_then(Value::as_array)
            .or_else(|| messages.as_array())
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter(|m| m["inbound"] == Value::Bool(false) || m["direction"] == "outbound-api")
            .filter_map(|m| m["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// `run --once` until the outbox is empty (rate limits may leave some for the next round).
    fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let summary = self.ok(&["run", "--once"]);
            if summary["pending"] == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the outbox never drained: {summary}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn send(world: &World, to: &str, body: &str) {
    world.ok(&["send", "--to", to, "--line", "Sales", "--body", body]);
}

#[test]
fn a_sender_killed_mid_request_sends_every_message_exactly_once_after_restart() {
    let world = World::start();
    let bodies: Vec<String> = (0..5).map(|i| format!("Order {i} is ready")).collect();
    for (i, body) in bodies.iter().enumerate() {
        send(&world, &format!("+1415555{:04}", 300 + i), body);
    }
    // The carrier takes the next request but never answers it: the sender is left not knowing.
    world.ok(&["sandbox", "fail", "timeout", "--sends-only"]);
    let mut sender: Child = world.spawn_sender();
    wait_for("the carrier to receive a message", || {
        world.ok(&["sandbox", "stats"])["received_count"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    });
    sender.kill().unwrap(); // SIGKILL: no chance to record anything.
    sender.wait().unwrap();

    world.drain();

    let mut received = world.carrier_received();
    received.sort();
    assert_eq!(
        received, bodies,
        "each message reached the carrier exactly once"
    );
    let outbox = world.ok(&["outbox"]);
    assert_eq!(outbox.as_array().unwrap().len(), 0);
}

#[test]
fn offline_messages_wait_and_go_once_when_the_network_returns() {
    let world = World::start();
    world.ok(&["sandbox", "offline"]);
    for who in ["Ada Lovelace", "Grace Hopper", "Alan Turing"] {
        send(&world, who, &format!("See you tomorrow, {who}"));
    }
    let summary = world.ok(&["run", "--once"]);
    assert_eq!(summary["sent"], 0);
    assert_eq!(summary["pending"], 3, "{summary}");
    assert!(world
        .ok(&["outbox"])
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "queued"));

    world.ok(&["sandbox", "online"]);
    world.drain();
    assert_eq!(world.carrier_received().len(), 3);
}

#[test]
fn a_demo_contacts_reply_lands_in_the_lines_thread() {
    let world = World::start();
    let receipt = world.ok(&[
        "send",
        "--to",
        "Ada Lovelace",
        "--line",
        "Support",
        "--body",
        "Is the blue one in stock?",
    ]);
    let thread = receipt["sent"][0]["thread_id"]
        .as_i64()
        .unwrap()
        .to_string();
    world.drain();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        world.ok(&["run", "--once"]);
        let shown = world.ok(&["thread", &thread]);
        let messages = shown["messages"].as_array().unwrap().clone();
        let inbound = messages.iter().any(|m| m["direction"] == "inbound");
        let delivered = messages.iter().any(|m| m["status"] == "delivered");
        if inbound && delivered {
            assert_eq!(shown["thread"]["line"]["label"], "Support");
            assert!(shown["thread"]["unread"].as_i64().unwrap() >= 1);
            return;
        }
        assert!(Instant::now() < deadline, "no reply or delivery: {shown}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_permanent_failure_fails_one_recipient_and_the_others_go() {
    let world = World::start();
    world.ok(&["sandbox", "fail-number", "+14155550302", "21610"]);
    let mut args = vec![
        "send",
        "--line",
        "Sales",
        "--body",
        "Spring sale starts today",
    ];
    let numbers: Vec<String> = (0..20).map(|i| format!("+1415555{:04}", 300 + i)).collect();
    for n in &numbers {
        args.extend(["--to", n.as_str()]);
    }
    world.ok(&args);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let summary = world.ok(&["run", "--once"]);
        if summary["pending"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{summary}");
    }
    assert_eq!(world.carrier_received().len(), 19);
    let outbox = world.ok(&["outbox"]);
    let failed: Vec<&Value> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["counterpart"], "+14155550302");
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("STOP"),
        "{}",
        failed[0]
    );
}

#[test]
fn server_errors_after_the_send_and_rate_limits_still_leave_each_message_once_in_order() {
    let world = World::start();
    // Twilio's gateways answer 502 for messages they did create: reconciled, never resent.
    world.ok(&[
        "sandbox",
        "fail",
        "502",
        "--after-create",
        "--count",
        "2",
        "--sends-only",
    ]);
    world.ok(&[
        "sandbox",
        "fail",
        "429",
        "--retry-after",
        "1",
        "--sends-only",
    ]);
    let bodies = ["First, the quote", "Second, the invoice", "Third, thanks!"];
    for body in bodies {
        send(&world, "+14155550377", body);
    }
    let first = world.ok(&["run", "--once"]);
    assert!(first["unknown"].as_u64().unwrap() >= 1, "{first}");
    world.drain();
    // A blind resend after a 502 would show the first body twice.
    assert_eq!(
        world.carrier_received(),
        bodies,
        "each once, in the order written"
    );
}

#[test]
fn a_running_sender_sends_by_itself_when_the_carrier_returns() {
    let world = World::start();
    world.ok(&["sandbox", "offline"]);
    let mut sender: Child = world.spawn_sender();
    send(&world, "+14155550388", "Written while offline");
    wait_for("a failed attempt", || {
        world
            .ok(&["outbox"])
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["attempts"].as_i64() >= Some(1))
    });
    world.ok(&["sandbox", "online"]);
    // Nobody runs `run --once` or nudges: the running sender notices and sends on its own.
    wait_for("the message to reach the carrier", || {
        world.carrier_received().len() == 1
    });
    sender.kill().unwrap();
    sender.wait().unwrap();
    assert_eq!(world.carrier_received(), ["Written while offline"]);
}

/// `body` to `to` from Sales, sent, then reported by the carrier with a delivery error (the
/// sandbox accepts it and reports the error as its status); answers the thread and the message.
fn reported_failed(world: &World, to: &str, code: &str, body: &str) -> (String, String) {
    world.ok(&["sandbox", "fail-number", to, code]);
    let receipt = world.ok(&["send", "--to", to, "--line", "Sales", "--body", body]);
    let thread = receipt["sent"][0]["thread_id"].to_string();
    let message = receipt["sent"][0]["message_id"].to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        world.ok(&["run", "--once"]);
        let shown = world.ok(&["thread", &thread]);
        let status = shown["messages"][0]["status"].clone();
        if status == "undelivered" || status == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "never reported: {shown}");
        std::thread::sleep(Duration::from_millis(500));
    }
    (thread, message)
}

#[test]
fn outbox_retry_sends_a_message_the_carrier_reported_undelivered_once_more_and_delete_removes_one()
{
    let world = World::start();
    let body = "Your table is ready";
    let (thread, failed) = reported_failed(&world, "+14155550402", "30003", body);
    assert!(
        world.ok(&["outbox"]).as_array().unwrap().is_empty(),
        "no job is left"
    );

    // The phone is back on; Retry twice in a row sends one new message. The carrier creates
    // the retry and answers 502 (its words are those of the failed copy, which the listing
    // still holds): reconciled onto the new send, never sent a third time.
    world.ok(&["sandbox", "fail-number", "+14155550402"]);
    world.ok(&["sandbox", "fail", "502", "--after-create", "--sends-only"]);
    let retried = world.ok(&["outbox", "retry", &failed]);
    assert_ne!(retried["message_id"].to_string(), failed, "{retried}");
    let twice = world
        .command(&["outbox", "retry", &failed])
        .output()
        .unwrap();
    assert!(!twice.status.success(), "retried twice");
    world.drain();
    let at_carrier = world.carrier_received();
    assert_eq!(
        at_carrier.iter().filter(|b| b.as_str() == body).count(),
        2,
        "the first send and one retry: {at_carrier:?}"
    );
    let shown = world.ok(&["thread", &thread]);
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "the failed copy went: {shown}");
    assert_eq!(messages[0]["id"], retried["message_id"]);

    let (other, gone) = reported_failed(&world, "+14155550403", "30005", "Wrong number?");
    let deleted = world.ok(&["outbox", "delete", &gone]);
    assert_eq!(deleted["thread_id"].to_string(), other);
    world.ok(&["run", "--once"]);
    world.ok(&["run", "--once"]);
    let threads = world.ok(&["threads"]);
    assert!(
        threads
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != deleted["thread_id"]),
        "the deleted message came back: {threads}"
    );
}
