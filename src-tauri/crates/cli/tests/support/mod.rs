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
