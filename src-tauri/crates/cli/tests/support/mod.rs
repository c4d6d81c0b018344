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

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
