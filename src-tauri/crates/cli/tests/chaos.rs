//! The chaos test: hundreds of messages, identical texts to one person among them, sent by `run`
//! processes that are SIGKILLed at random moments, through a sandbox carrier that behaves as
//! Twilio does on a bad day — late listings, 5xx answers after the message was created, answers
//! that never come, a clock 90 s off, trial-account bodies. Afterwards the carrier must hold every
//! message exactly once, and each conversation's messages in the order they were written.
//!
//! Bounded for CI (about two minutes). `./dev soak` runs the same test for longer
//! (`SWITCHBOARD_SOAK_SECS`, 1200 by default there) and its last line gives the figures that
//! BENCHMARKS.md records.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::SandboxProcess;

/// Twilio trial accounts prefix every body with this.
const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";
/// The text sent again and again to the same person.
const SAME_TEXT: &str = "OK, see you at 3";
const LINES: [&str; 2] = ["+14155550100", "+14155550101"];
const LINE_LABELS: [&str; 2] = ["Sales", "Support"];

/// xorshift64*: reproducible from the seed the test prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct World {
    dir: tempfile::TempDir,
    _sandbox: SandboxProcess,
}

impl World {
    fn command(&self, args: &[&str]) -> Command {
        // Listed within 3 s: the sandbox lags 2 s.
        let mut c = support::cli(self.dir.path(), 3000);
        c.args(args)
            // The sandbox has no per-line rate limit; 1 a second (Twilio's) would make the
            // test last minutes.
            .env("SWITCHBOARD_CARRIER_RATE", "50");
        c
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

    fn spawn_sender(&self) -> Child {
        self.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Every message we sent, as the carrier holds them in the order it created them:
    /// (line, recipient, body without the trial prefix).
    fn carrier_sent(&self) -> Vec<(String, String, String)> {
        let all = self.ok(&["sandbox", "messages"]);
        all["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] != "inbound")
            .map(|m| {
                let body = m["body"].as_str().unwrap_or_default();
                (
                    m["from"].as_str().unwrap_or_default().to_owned(),
                    m["to"].as_str().unwrap_or_default().to_owned(),
                    body.strip_prefix(TRIAL_PREFIX).unwrap_or(body).to_owned(),
                )
            })
            .collect()
    }
}

/// What the test wrote, per conversation, in order.
#[derive(Default)]
struct Written {
    threads: BTreeMap<(String, String), Vec<String>>,
    count: usize,
}

impl Written {
    /// One `send` of `body` from line `line` to every recipient of `to` (a fan-out).
    fn send(&mut self, world: &World, line: usize, to: &[String], body: &str) {
        let mut args = vec!["send", "--line", LINE_LABELS[line], "--body", body];
        for n in to {
            args.extend(["--to", n.as_str()]);
        }
        world.ok(&args);
        for n in to {
            self.threads
                .entry((LINES[line].to_owned(), n.clone()))
                .or_default()
                .push(body.to_owned());
            self.count += 1;
        }
    }
}

/// A fault for the next requests, as Twilio has them on a bad day.
fn inject_fault(world: &World, rng: &mut Rng) {
    let count = (1 + rng.below(3)).to_string();
    let args: Vec<&str> = match rng.below(8) {
        0 => vec!["fail", "500", "--after-create", "--sends-only"],
        1 => vec!["fail", "502", "--after-create", "--sends-only"],
        2 => vec!["fail", "504", "--after-create", "--sends-only"],
        3 => vec!["fail", "500", "--sends-only"],
        4 => vec!["fail", "timeout", "--sends-only"],
        5 => vec!["fail", "429", "--retry-after", "1", "--sends-only"],
        _ => return,
    };
    let mut full = vec!["sandbox"];
    full.extend(args);
    full.extend(["--count", count.as_str()]);
    world.ok(&full);
}

#[test]
fn every_message_reaches_the_carrier_exactly_once_and_in_order_through_chaos() {
    let soak_secs: Option<u64> = std::env::var("SWITCHBOARD_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let seed = std::env::var("SWITCHBOARD_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("chaos seed {seed} (SWITCHBOARD_CHAOS_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let world = World {
        _sandbox: SandboxProcess::serve(&dir.path().join("data")),
        dir,
    };
    world.ok(&["run", "--once"]);
    world.ok(&["sandbox", "list-lag", "2"]);
    world.ok(&["sandbox", "clock-skew", "90"]);
    world.ok(&["sandbox", "trial", "on"]);

    // Customers who are nobody's demo contact (those answer every message).
    let customers: Vec<String> = (0..40)
        .map(|i| format!("+1415555{:04}", 1000 + i))
        .collect();
    let regular = customers[0].clone();
    let chaos_for = Duration::from_secs(soak_secs.unwrap_or(60));
    // In CI, 15 waves of 20 and the repeated text: 300 and more. A soak writes a wave every
    // few seconds for as long as it runs.
    let waves = if soak_secs.is_some() { usize::MAX } else { 15 };
    let mut written = Written::default();
    let mut kills = 0u64;
    let started = Instant::now();
    let mut wave = 0usize;
    while started.elapsed() < chaos_for || (wave < waves && soak_secs.is_none()) {
        // In a soak, a wave every third kill, so the sender keeps up.
        if wave < waves && (soak_secs.is_none() || kills.is_multiple_of(3)) {
            let line = wave % 2;
            let first = rng.below(customers.len() as u64 - 20) as usize;
            let to: Vec<String> = customers[first..first + 20].to_vec();
            written.send(
                &world,
                line,
                &to,
                &format!("Wave {wave}: your order is ready"),
            );
            // The same text to the same person, again and again (and sometimes twice in a
            // row, so both may be created within the same second).
            for _ in 0..1 + rng.below(2) {
                written.send(&world, 0, std::slice::from_ref(&regular), SAME_TEXT);
            }
            wave += 1;
        }
        let mut sender = world.spawn_sender();
        inject_fault(&world, &mut rng);
        std::thread::sleep(Duration::from_millis(200 + rng.below(2_500)));
        sender.kill().unwrap(); // SIGKILL: whatever it was doing is cut off.
        sender.wait().unwrap();
        kills += 1;
    }

    // Calm: one sender runs until the outbox is empty.
    let mut sender = world.spawn_sender();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let outbox = world.ok(&["outbox"]);
        let jobs = outbox.as_array().unwrap();
        if jobs.is_empty() {
            break;
        }
        assert!(
            !jobs.iter().any(|j| j["state"] == "failed"),
            "a message failed: {outbox}"
        );
        assert!(
            Instant::now() < deadline,
            "the outbox never drained: {} left: {outbox}",
            jobs.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    sender.kill().unwrap();
    sender.wait().unwrap();

    let held = world.carrier_sent();
    let mut at_carrier: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (line, to, body) in held {
        at_carrier.entry((line, to)).or_default().push(body);
    }
    let (mut duplicates, mut lost) = (0usize, 0usize);
    for (thread, wrote) in &written.threads {
        let got = at_carrier.get(thread).cloned().unwrap_or_default();
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for b in wrote {
            *counts.entry(b).or_default() += 1;
        }
        for b in &got {
            *counts.entry(b).or_default() -= 1;
        }
        for n in counts.values() {
            if *n > 0 {
                lost += *n as usize;
            } else {
                duplicates += n.unsigned_abs() as usize;
            }
        }
    }
    let strangers = at_carrier
        .keys()
        .filter(|k| !written.threads.contains_key(*k))
        .count();
    println!(
        "chaos: {} messages, {} identical texts to one person, {kills} kills, {:.0} s, \
         duplicates {duplicates}, lost {lost}",
        written.count,
        written.threads[&(LINES[0].to_owned(), regular.clone())]
            .iter()
            .filter(|b| *b == SAME_TEXT)
            .count(),
        started.elapsed().as_secs_f64(),
    );
    assert_eq!((duplicates, lost, strangers), (0, 0, 0), "seed {seed}");
    for (thread, wrote) in &written.threads {
        assert_eq!(
            at_carrier.get(thread),
            Some(wrote),
            "{thread:?} out of order (seed {seed})"
        );
    }
}
