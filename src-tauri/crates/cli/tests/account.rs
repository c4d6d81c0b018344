//! Connecting a Twilio account from the command line, as a customer would, with a sandbox
//! process playing Twilio (`SWITCHBOARD_TWILIO_API_URL` points at it) and the real OS keychain
//! (run inside `dbus-run-session` with an unlocked gnome-keyring, as `./dev test` does).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod support;

use support::{SandboxProcess, BIN};

/// The customer's data directory, and "Twilio": a sandbox serving from a directory of its own.
struct World {
    dir: tempfile::TempDir,
    _twilio: SandboxProcess,
    api: String,
    sid: String,
    token: String,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let twilio_dir = dir.path().join("twilio");
        let twilio = SandboxProcess::serve(&twilio_dir);
        let endpoint = twilio_dir.join("sandbox/endpoint.json");
        std::thread::sleep(Duration::from_millis(100));
        let e: Value = serde_json::from_str(&std::fs::read_to_string(&endpoint).unwrap()).unwrap();
        World {
            api: e["api_base_url"].as_str().unwrap().to_owned(),
            sid: e["account_sid"].as_str().unwrap().to_owned(),
            token: e["auth_token"].as_str().unwrap().to_owned(),
            dir,
            _twilio: twilio,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = Command::new(BIN);
        let mut child = support::keyed(&mut command, &self.dir.path().join("key"))
            .arg("--json")
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("SWITCHBOARD_TWILIO_API_URL", &self.api)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.run(args, stdin);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    fn fails(&self, args: &[&str], stdin: &str, exit: i32) -> Value {
        let out = self.run(args, stdin);
        assert_eq!(out.status.code(), Some(exit), "{args:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn labels(&self) -> Vec<String> {
        self.ok(&["lines"], "")
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["in_account"] == true)
            .map(|l| l["label"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_customer_connects_twilio_sends_renames_and_disconnects() {
    let w = World::start();
    assert_eq!(w.ok(&["account"], "")["carrier"], "sandbox");

    // The token comes on standard input; a wrong one is refused in words, nothing kept.
    let refused = w.fails(
        &["account", "connect-twilio", "--sid", &w.sid],
        "ffffffffffffffffffffffffffffffff\n",
        3,
    );
    assert_eq!(refused["code"], "carrier_credentials_refused");
    assert!(refused["message"].as_str().unwrap().contains("auth token"));
    let malformed = w.fails(&["account", "connect-twilio", "--sid", "AC12"], &w.token, 3);
    assert!(malformed["message"]
        .as_str()
        .unwrap()
        .contains("Account SID"));
    let empty = w.fails(&["account", "connect-twilio", "--sid", &w.sid], "\n", 3);
    assert_eq!(empty["code"], "secret_missing");
    assert_eq!(w.ok(&["account"], "")["carrier"], "sandbox");

    let connected = w.ok(
        &["account", "connect-twilio", "--sid", &w.sid],
        &format!("{}\n", w.token),
    );
    assert_eq!(connected["account_name"], "Switchboard sandbox");
    assert_eq!(w.labels(), ["Sales", "Support"]);
    let status = w.ok(&["account"], "");
    assert_eq!(status["carrier"], "twilio");
    assert_eq!(status["images"], false, "no media host yet");

    // Sending goes to Twilio, with no sandbox of the customer's own running.
    w.ok(
        &[
            "send",
            "--to",
            "+14155550123",
            "--line",
            "Sales",
            "--body",
            "Table for two at 8?",
        ],
        "",
    );
    let summary = w.ok(&["run", "--once"], "");
    assert_eq!(summary["sent"], 1, "{summary}");
    // An image can't go without a media host: said before anything is queued.
    let png = w.dir.path().join("a.png");
    std::fs::write(
        &png,
        [
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
            0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, b'I',
            b'D', b'A', b'T', 0x78, 0x9c, 0x63, 0, 0x01, 0, 0, 0x05, 0, 0x01, 0x0d, 0x0a, 0x2d,
            0xb4, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82,
        ],
    )
    .unwrap();
    let no_host = w.fails(
        &[
            "send",
            "--to",
            "+14155550123",
            "--line",
            "Sales",
            "--image",
            png.to_str().unwrap(),
        ],
        "",
        3,
    );
    assert_eq!(no_host["code"], "no_media_host", "{no_host}");

    // A rename reaches Twilio: the next sync adopts Twilio's labels and keeps it.
    w.ok(&["lines", "rename", "Sales", "Front desk"], "");
    w.ok(&["run", "--once"], "");
    assert_eq!(w.labels(), ["Front desk", "Support"]);

    // The token is in the keychain, in no file of the data directory.
    for file in files_under(&w.data()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(w.token.len())
                .any(|b| b == w.token.as_bytes()),
            "{file:?} holds the token"
        );
    }

    let back = w.ok(&["account", "disconnect"], "");
    assert_eq!(back["carrier"], "sandbox");
}
