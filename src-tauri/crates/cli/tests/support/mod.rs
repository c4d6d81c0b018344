//! What the CLI's process tests share: the binary, and `sandbox serve` as a process of its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard-cli");

/// `switchboard-cli sandbox serve` for a data directory, stopped on drop.
pub struct SandboxProcess(Child);

impl SandboxProcess {
    /// Starts it and waits until it has written its address (`sandbox/endpoint.json`).
    pub fn serve(data_dir: &Path) -> SandboxProcess {
        let child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["sandbox", "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = SandboxProcess(child);
        let endpoint = data_dir.join("sandbox/endpoint.json");
        wait_for("the sandbox to start", || endpoint.exists());
        process
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `switchboard-cli --json` on the store kept in `dir` (`data`, `key`) at the sandbox's pace,
/// which the client must know to reconcile safely: a message in doubt goes again only once it
/// cannot still turn up, which with Twilio's figures (30 s for a request, 30 s to be listed)
/// would make each test last minutes. Requests are abandoned after 2 s; messages are taken to
/// be listed within `listing_lag_ms` (at least the sandbox's list lag).
// Each test file compiles this module on its own; not all of them send.
#[allow(dead_code)]
pub fn cli(dir: &Path, listing_lag_ms: u32) -> Command {
    let mut c = Command::new(BIN);
    keyed(&mut c, &dir.join("key"));
    c.arg("--json")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("SWITCHBOARD_CARRIER_REQUEST_TIMEOUT_MS", "2000")
        .env(
            "SWITCHBOARD_CARRIER_LISTING_LAG_MS",
            listing_lag_ms.to_string(),
        );
    c
}

/// Keys a command's store with `key`: the key file at `key` on Unix; on Windows, which refuses
/// key files (their access cannot be checked there), a passphrase made of that path instead, so
/// each test's store still has a key of its own and another path is another (wrong) key.
#[allow(dead_code)]
pub fn keyed<'c>(c: &'c mut Command, key: &Path) -> &'c mut Command {
    if cfg!(unix) {
        c.arg("--key-file")
            .arg(key)
            .env_remove("SWITCHBOARD_PASSPHRASE")
    } else {
        c.env_remove("SWITCHBOARD_KEY_FILE")
            .env("SWITCHBOARD_PASSPHRASE", key.as_os_str())
    }
}

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A data directory with the sandbox carrier running beside it as a process of its own, as
/// Twilio really is: a new message listed a second late, its clock 90 s off ours. The first
/// `run --once` has adopted its lines (Sales, Support) and demo contacts.
#[allow(dead_code)]
pub struct Office {
    pub dir: tempfile::TempDir,
    _sandbox: SandboxProcess,
}

#[allow(dead_code)]
impl Office {
    pub fn start() -> Office {
        let dir = tempfile::tempdir().unwrap();
        let office = Office {
            _sandbox: SandboxProcess::serve(&dir.path().join("data")),
            dir,
        };
        office.ok(&["run", "--once"]);
        office.ok(&["sandbox", "list-lag", "1"]);
        office.ok(&["sandbox", "clock-skew", "90"]);
        office
    }

    /// `switchboard-cli --json ARGS` on this office's store (listed within 2 s: the lag is 1 s).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = cli(self.dir.path(), 2000);
        c.args(args);
        c
    }

    pub fn output(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed and returns its JSON.
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        let out = self.output(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs a command that must fail with the error `code`, said in words; returns its JSON.
    pub fn fails(&self, args: &[&str], code: &str) -> serde_json::Value {
        let out = self.output(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON: {e}"));
        assert_eq!(json["code"], code, "{args:?}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
        json
    }

    /// `run` as a background process, which a test can kill.
    pub fn spawn_sender(&self) -> Child {
        self.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The bodies the carrier accepted from our lines (not its own answers to keywords).
    pub fn carrier_received(&self) -> Vec<String> {
        let messages = self.ok(&["sandbox", "messages"]);
        let list = messages
            .get("messages")
            .and_then(serde_json::Value::as_array)
            .or_else(|| messages.as_array())
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter(|m| m["direction"] == "outbound-api")
            .filter_map(|m| m["body"].as_str().map(str::to_owned))
            .collect()
    }
}

#[allow(dead_code)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `ms` as RFC 3339 in UTC, to the second.
#[allow(dead_code)]
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
