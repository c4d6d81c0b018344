//! Two desktops of one team on one carrier account: what one sends shows in the other's thread
//! for that (line, number), once, as sent elsewhere — and the other never sends it. The sandbox
//! runs as a process of its own (`sandbox serve`), as real Twilio would (a new message is
//! listed a second late, its clock is 90 s off this computer's); each desktop is a data
//! directory of its own whose `sandbox/endpoint.json` points at that sandbox, driven by the
//! real binary over real HTTP on loopback.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::SandboxProcess;

/// A real PNG, 32×32.
const PNG: &[u8] = include_bytes!("../../sandbox/src/flood.png");
/// Nobody the sandbox's demo contacts answer for.
const CUSTOMER: &str = "+14155550300";

/// The carrier, and the directory the desktops live in.
struct Office {
    root: tempfile::TempDir,
    _sandbox: SandboxProcess,
}

/// One desktop: a data directory (`DIR/data`, its key `DIR/key`) on the office's sandbox.
struct Desktop {
    dir: PathBuf,
}

impl Office {
    fn start() -> Office {
        let root = tempfile::tempdir().unwrap();
        let sandbox = SandboxProcess::serve(&root.path().join("carrier/data"));
        Office {
            root,
            _sandbox: sandbox,
        }
    }

    /// A new desktop on the account: its first run adopts the lines and makes its first sync.
    fn desktop(&self, name: &str) -> Desktop {
        let dir = self.root.path().join(name);
        let endpoint = dir.join("data/sandbox/endpoint.json");
        std::fs::create_dir_all(endpoint.parent().unwrap()).unwrap();
        std::fs::copy(
            self.root.path().join("carrier/data/sandbox/endpoint.json"),
            &endpoint,
        )
        .unwrap();
        let desktop = Desktop { dir };
        desktop.ok(&["run", "--once"]);
        desktop
    }
}

impl Desktop {
    fn ok(&self, args: &[&str]) -> Value {
        // Listed within 2 s: the sandbox lags 1 s.
        let out = support::cli(&self.dir, 2000).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs a command that must fail: its code and exit status.
    fn fails(&self, args: &[&str]) -> (String, i32) {
        let out = support::cli(&self.dir, 2000).args(args).output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!out.status.success(), "{args:?}: {json}");
        (
            json["code"].as_str().unwrap_or_default().to_owned(),
            out.status.code().unwrap(),
        )
    }

    /// What a person sees (no `--json`).
    fn text(&self, args: &[&str]) -> String {
        let mut command = std::process::Command::new(support::BIN);
        let out = support::keyed(&mut command, &self.dir.join("key"))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `run --once` until the outbox is empty.
    fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.ok(&["run", "--once"])["pending"] != 0 {
            assert!(Instant::now() < deadline, "the outbox never drained");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The messages of the thread with `number` on Sales, oldest first (none without one).
    fn sales_thread(&self, number: &str) -> Vec<Value> {
        let threads = self.ok(&["threads", "--line", "Sales"]);
        let Some(thread) = threads
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["counterpart"] == number)
        else {
            return Vec::new();
        };
        let id = thread["id"].to_string();
        let mut messages = self.ok(&["thread", &id])["messages"]
            .as_array()
            .unwrap()
            .clone();
        messages.reverse();
        messages
    }

    /// `run --once` until the Sales thread with `number` holds `count` messages (the listing
    /// lags): the messages then.
    fn sync_until(&self, number: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.ok(&["run", "--once"]);
            let messages = self.sales_thread(number);
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} messages arrived: {messages:?}",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// (body, direction, sent elsewhere, attachments) of each message.
fn shape(messages: &[Value]) -> Vec<(String, String, bool, usize)> {
    messages
        .iter()
        .map(|m| {
            (
                m["body"].as_str().unwrap().to_owned(),
                m["direction"].as_str().unwrap().to_owned(),
                m["sent_elsewhere"].as_bool().unwrap(),
                m["attachments"].as_array().unwrap().len(),
            )
        })
        .collect()
}

fn row(body: &str, elsewhere: bool, attachments: usize) -> (String, String, bool, usize) {
    (
        body.to_owned(),
        "outbound".to_owned(),
        elsewhere,
        attachments,
    )
}

/// The bodies the carrier received from the account, sorted.
fn carrier_received(desktop: &Desktop) -> Vec<String> {
    let messages = desktop.ok(&["sandbox", "messages"]);
    let list = messages
        .get("messages")
        .and_then(Value::as_array)
        .or_else(|| messages.as_array())
        .cloned()
        .unwrap_or_default();
    let mut bodies: Vec<String> = list
        .iter()
        .filter(|m| m["inbound"] == Value::Bool(false) || m["direction"] == "outbound-api")
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect();
    bodies.sort();
    bodies
}

fn write_png(path: &Path) -> &str {
    std::fs::write(path, PNG).unwrap();
    path.to_str().unwrap()
}

#[test]
fn a_message_sent_from_one_desktop_shows_once_in_the_others_thread_as_sent_elsewhere() {
    let office = Office::start();
    let a = office.desktop("a");
    let b = office.desktop("b");
    a.ok(&["sandbox", "list-lag", "1"]);
    a.ok(&["sandbox", "clock-skew", "90"]);

    // A writes to a customer from Sales: a text, then a photo.
    let png_path = a.path("label.png");
    let png = write_png(&png_path);
    a.ok(&[
        "send",
        "--to",
        CUSTOMER,
        "--line",
        "Sales",
        "--body",
        "Your order has shipped",
    ]);
    a.ok(&[
        "send",
        "--to",
        CUSTOMER,
        "--line",
        "Sales",
        "--body",
        "The label",
        "--image",
        png,
    ]);
    a.drain();

    let seen = b.sync_until(CUSTOMER, 2);
    assert_eq!(
        shape(&seen),
        [
            row("Your order has shipped", true, 0),
            row("The label", true, 1)
        ],
        "in B's thread for (Sales, the customer), as sent elsewhere"
    );
    let photo = &seen[1];
    let item = &photo["attachments"][0];
    let saved = b.path("label-from-a.png");
    let args = [
        "attachment",
        &photo["id"].to_string(),
        "--out",
        saved.to_str().unwrap(),
    ];
    match item["state"].as_str() {
        // With a downloader, B fetches the photo from the carrier: the very bytes A sent.
        Some("ready") => {
            b.ok(&args);
            assert_eq!(std::fs::read(&saved).unwrap(), PNG);
        }
        // Without one (yet), it waits to be downloaded, and says so.
        Some("downloading") => {
            assert_eq!(b.fails(&args), ("attachment_not_downloaded".into(), 7));
        }
        other => panic!("the photo's item is {other:?}: {photo}"),
    }
    let threads = b.ok(&["threads"]);
    assert_eq!(threads[0]["unread"], 0, "ours, not news");
    let words = b.text(&["thread", &threads[0]["id"].to_string()]);
    let label = words
        .lines()
        .find(|l| l.trim_start().starts_with('#') && l.contains("The label"))
        .unwrap_or_else(|| panic!("{words}"));
    assert!(
        label.contains("(sent, sent elsewhere)") || label.contains("(delivered, sent elsewhere)"),
        "{label}"
    );
    assert!(
        label.contains("[Attachment, downloading]") || label.contains("[Photo 32×32, 220 bytes]"),
        "{label}"
    );

    // More rounds on both sides, and B answers in the same thread: nothing doubles, and
    // each desktop's own messages are never "elsewhere" there.
    for _ in 0..3 {
        b.ok(&["run", "--once"]);
    }
    b.ok(&[
        "send",
        "--to",
        CUSTOMER,
        "--line",
        "Sales",
        "--body",
        "Tracking follows",
    ]);
    b.drain();
    let in_a = a.sync_until(CUSTOMER, 3);
    for _ in 0..3 {
        a.ok(&["run", "--once"]);
        b.ok(&["run", "--once"]);
    }
    assert_eq!(
        shape(&a.sales_thread(CUSTOMER)),
        [
            row("Your order has shipped", false, 0),
            row("The label", false, 1),
            row("Tracking follows", true, 0),
        ],
        "A: {in_a:?}"
    );
    assert_eq!(
        shape(&b.sales_thread(CUSTOMER)),
        [
            row("Your order has shipped", true, 0),
            row("The label", true, 1),
            row("Tracking follows", false, 0),
        ]
    );
    for desktop in [&a, &b] {
        assert_eq!(desktop.ok(&["outbox"]), Value::Array(Vec::new()));
    }
    assert_eq!(
        carrier_received(&a),
        ["The label", "Tracking follows", "Your order has shipped"],
        "the carrier received each message exactly once"
    );

    // A desktop set up later sees the whole conversation in its first sync, as history.
    let c = office.desktop("c");
    let history = c.sync_until(CUSTOMER, 3);
    assert_eq!(
        shape(&history),
        [
            row("Your order has shipped", true, 0),
            row("The label", true, 1),
            row("Tracking follows", true, 0),
        ]
    );
    assert_eq!(c.ok(&["outbox"]), Value::Array(Vec::new()));
    assert_eq!(carrier_received(&c).len(), 3, "C sent nothing");
}
