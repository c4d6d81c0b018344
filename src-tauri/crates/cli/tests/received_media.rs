//! Received media from the command line: a customer's MMS made with `sandbox reply --image`
//! is synced and downloaded by `run --once` (both items ready, recognised by content), and
//! `media retry` refuses, with a sentence, what it cannot ask again for.

use std::process::Output;

use serde_json::Value;

mod support;

use support::SandboxProcess;

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
        // Adopts the lines; the first sync is history.
        world.ok(&["run", "--once"]);
        world
    }

    fn run(&self, args: &[&str]) -> Output {
        support::cli(self.dir.path(), 0)
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// `args` fails with exit code `exit` and says `message`.
    #[track_caller]
    fn refused(&self, args: &[&str], exit: i32, message: &str) {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {out:?}");
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["message"], message, "{answer}");
    }
}

#[test]
fn an_mms_is_downloaded_by_run_and_media_retry_refuses_what_it_cannot_ask_again_for() {
    let w = World::start();
    let photo = w.dir.path().join("parcel");
    let photo_bytes: &[u8] = include_bytes!("../../sandbox/src/demo-photo-2.jpg");
    std::fs::write(&photo, photo_bytes).unwrap();
    let form = w.dir.path().join("form.bin");
    std::fs::write(&form, b"%PDF-1.4\nthe signed form").unwrap();
    w.ok(&[
        "sandbox",
        "reply",
        "+14155550123",
        "+14155550100",
        "",
        "--image",
        photo.to_str().unwrap(),
        "--image",
        form.to_str().unwrap(),
    ]);
    w.ok(&["run", "--once"]);

    let threads = w.ok(&["threads"]);
    let thread = threads
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["counterpart"] == "+14155550123")
        .unwrap_or_else(|| panic!("Ada's thread: {threads}"));
    let id = thread["id"].as_i64().unwrap().to_string();
    let detail = w.ok(&["thread", &id]);
    let message = &detail["messages"][0];
    let items: Vec<(String, String, String)> = message["attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("{message}"))
        .iter()
        .map(|a| {
            (
                a["state"].as_str().unwrap().to_owned(),
                a["kind"].as_str().unwrap_or("?").to_owned(),
                a["mime"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("ready".into(), "image".into(), "image/jpeg".into()),
            ("ready".into(), "pdf".into(), "application/pdf".into()),
        ]
    );
    assert_eq!(message["attachments"][0]["width"], 240);

    let downloaded = message["id"].as_i64().unwrap().to_string();
    w.refused(
        &["media", "retry", &downloaded],
        3,
        "This message has no media waiting to be downloaded.",
    );
    let out = w.run(&["media", "retry", "999999"]);
    assert_eq!(out.status.code(), Some(5), "not found: {out:?}");
}
