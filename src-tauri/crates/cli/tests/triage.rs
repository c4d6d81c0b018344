//! Triage from the command line: `done`, `undone`, `unread`, `snooze` and `threads --done`, on a
//! real store with the sandbox carrier as a process of its own, so that a customer's new message
//! really comes in through the sync (`run --once`) and brings a done conversation back.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod support;

use support::{now_ms, rfc3339, SandboxProcess};

const SALES: &str = "+14155550100";
const SUPPORT: &str = "+14155550101";
const ADA: &str = "+14155550123";
const GRACE: &str = "+14155550124";

struct World {
    dir: tempfile::TempDir,
    _sandbox: SandboxProcess,
}

/// What one run printed and how it ended.
struct Run {
    code: i32,
    json: Value,
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
        world
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::cli(self.dir.path(), 1000);
        // A zone two hours east of UTC all year (a POSIX TZ string), for local times.
        c.env("TZ", "XYZ-2").args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON ({e}): {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Run {
            code: out.status.code().unwrap(),
            json,
        }
    }

    fn ok(&self, args: &[&str]) -> Value {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.json);
        r.json
    }

    fn fails(&self, args: &[&str], code: &str, exit: i32) {
        let r = self.run(args);
        assert_eq!(
            (r.json["code"].as_str(), r.code),
            (Some(code), exit),
            "{args:?}: {}",
            r.json
        );
        assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    /// `from` writes to `line` and the sync records it.
    fn customer_writes(&self, from: &str, line: &str, body: &str) {
        self.ok(&["sandbox", "reply", from, line, body]);
        self.ok(&["run", "--once"]);
    }

    /// The ids of a `threads` listing (`--done`, `--snoozed` or none).
    fn listed(&self, flags: &[&str]) -> Vec<i64> {
        let mut args = vec!["threads"];
        args.extend_from_slice(flags);
        self.ok(&args)
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    }

    /// The id of the conversation with `number` on `line`, from the inbox.
    fn thread_of(&self, number: &str, line_label: &str) -> i64 {
        self.ok(&["threads"])
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["counterpart"] == number && t["line"]["label"] == line_label)
            .unwrap_or_else(|| panic!("no conversation with {number} on {line_label}"))["id"]
            .as_i64()
            .unwrap()
    }
}

#[test]
fn done_leaves_the_inbox_and_a_new_message_brings_it_back() {
    let w = World::start();
    w.customer_writes(ADA, SALES, "Is my order ready?");
    // Grace writes later by more than the carrier's one-second dates: each `run --once` reads
    // the carrier's clock anew from a one-second Date header, so two processes can place two
    // messages of the same second a second apart either way.
    std::thread::sleep(Duration::from_millis(2_100));
    w.customer_writes(GRACE, SALES, "Thanks for yesterday");
    let ada = w.thread_of(ADA, "Sales");
    let grace = w.thread_of(GRACE, "Sales");

    // By number, as a person types it; by id.
    let done = w.ok(&["done", "(415) 555-0123"]);
    assert_eq!(
        (done["id"].as_i64(), done["view"].as_str()),
        (Some(ada), Some("done"))
    );
    assert_eq!(done["unread"], 0, "done is read");
    w.ok(&["done", &grace.to_string()]);
    assert!(!w.listed(&[]).contains(&ada));
    assert_eq!(w.listed(&["--done"]), [grace, ada]);

    w.ok(&["undone", &grace.to_string()]);
    assert_eq!(w.listed(&["--done"]), [ada]);
    assert!(w.listed(&[]).contains(&grace));

    w.customer_writes(ADA, SALES, "Hello? Still waiting");
    assert_eq!(w.listed(&[])[0], ada, "back on top of the inbox");
    assert!(w.listed(&["--done"]).is_empty());
    let back = w.ok(&["thread", &ada.to_string(), "--limit", "1"]);
    assert_eq!(back["thread"]["view"], "inbox");
    assert_eq!(back["thread"]["unread"], 1);
}

#[test]
fn unread_and_the_names_of_a_conversation() {
    let w = World::start();
    w.customer_writes(ADA, SALES, "Question one");
    w.customer_writes(ADA, SUPPORT, "Question two");
    let on_sales = w.thread_of(ADA, "Sales");

    // Ada has a conversation on each line: her number names neither.
    w.fails(&["unread", ADA], "ambiguous_thread", 3);
    w.fails(&["done", "Nobody At All"], "thread_not_found", 5);
    w.fails(&["done", "99999"], "thread_not_found", 5);
    w.fails(&["done", ""], "thread_not_found", 5);

    let read = w.ok(&["done", &on_sales.to_string()]);
    assert_eq!(read["unread"], 0);
    let unread = w.ok(&["unread", &on_sales.to_string()]);
    assert_eq!(
        (unread["unread"].as_i64(), unread["view"].as_str()),
        (Some(1), Some("done"))
    );
}

#[test]
fn snooze_reads_rfc3339_and_local_times_and_refuses_the_past() {
    let w = World::start();
    w.customer_writes(ADA, SALES, "Call me next week");
    let ada = w.thread_of(ADA, "Sales").to_string();

    w.fails(&["snooze", &ada, "2020-01-01 09:00"], "time_in_the_past", 3);
    w.fails(&["snooze", &ada, "next tuesday"], "time_unreadable", 3);
    w.fails(&["snooze", &ada, "2026-02-30 09:00"], "time_unreadable", 3);
    let far = rfc3339(now_ms() + 400 * 86_400_000);
    w.fails(&["snooze", &ada, &far], "snooze_too_far", 3);
    assert_eq!(w.listed(&[]).len(), 1, "nothing refused moved it");

    let until = (now_ms() / 1000 + 3 * 86_400) * 1000;
    let snoozed = w.ok(&["snooze", &ada, &rfc3339(until)]);
    assert_eq!(snoozed["view"], "snoozed");
    assert_eq!(snoozed["snoozed_until"].as_i64(), Some(until));
    assert!(w.listed(&[]).is_empty());
    assert_eq!(w.listed(&["--snoozed"]).len(), 1);

    // Local: the day after tomorrow at 09:00, two hours east of UTC (TZ=XYZ-2) on Unix.
    let day = chrono::DateTime::from_timestamp_millis(now_ms() + 2 * 86_400_000)
        .unwrap()
        .date_naive();
    let local = format!("{} 09:00", day.format("%Y-%m-%d"));
    let expected = if cfg!(windows) {
        // Windows takes its zone from the system, never from TZ: the CLI's local time is this
        // test's own (under Wine, the host's).
        day.and_hms_opt(9, 0, 0)
            .unwrap()
            .and_local_timezone(chrono::Local)
            .single()
            .unwrap()
            .timestamp_millis()
    } else {
        day.and_hms_opt(7, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let snoozed = w.ok(&["snooze", &ada, &local]);
    assert_eq!(snoozed["snoozed_until"].as_i64(), Some(expected), "{local}");
}

#[test]
fn a_snooze_ends_with_the_next_run_back_on_top() {
    let w = World::start();
    w.customer_writes(ADA, SALES, "Remind me");
    w.customer_writes(GRACE, SALES, "Newer message");
    let ada = w.thread_of(ADA, "Sales");
    // A few seconds on, in whole seconds (RFC 3339 as written here), then waited out.
    let until = (now_ms() / 1000 + 5) * 1000;
    w.ok(&["snooze", &ada.to_string(), &rfc3339(until)]);
    assert!(!w.listed(&[]).contains(&ada));
    while now_ms() <= until + 200 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let summary = w.ok(&["run", "--once"]);
    assert_eq!(summary["snoozes_ended"], 1, "{summary}");
    let inbox = w.listed(&[]);
    assert_eq!(inbox[0], ada, "back on top, above a newer message");
    assert!(w.listed(&["--snoozed"]).is_empty());
}

#[test]
fn text_output_says_what_happened() {
    let w = World::start();
    w.customer_writes(ADA, SALES, "Hi");
    let ada = w.thread_of(ADA, "Sales").to_string();
    let mut c = support::cli(w.dir.path(), 1000);
    // Without --json: the support's command has it first, so build a plain one.
    c = {
        let mut plain = Command::new(support::BIN);
        let args: Vec<_> = c
            .get_args()
            .filter(|a| *a != "--json")
            .map(|a| a.to_owned())
            .collect();
        plain
            .args(args)
            .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))));
        plain
    };
    let out = c.args(["done", &ada]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("Done: [{ada}] Ada Lovelace → Sales (done)")),
        "{text}"
    );
}
