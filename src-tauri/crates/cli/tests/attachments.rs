//! A message's attachments from the command line: `thread` lists them (in JSON and in words)
//! and `attachment` writes one to a file byte for byte, refusing in words what it cannot do.
//! The real binary on a real encrypted store; the image is one sent (stored at once).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

// Only the binary is used here, not the sandbox process.
#[allow(dead_code)]
mod support;

/// A real PNG, 32×32.
const PNG: &[u8] = include_bytes!("../../sandbox/src/flood.png");

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    /// A store with the Sales line.
    fn new() -> Cli {
        let cli = Cli {
            dir: tempfile::tempdir().unwrap(),
        };
        cli.ok(&["lines", "add", "+1 415 555 0100", "Sales"]);
        cli
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, json: bool, args: &[&str]) -> Command {
        let mut c = Command::new(support::BIN);
        if json {
            c.arg("--json");
        }
        support::keyed(&mut c, &self.path("key"))
            .arg("--data-dir")
            .arg(self.path("data"))
            .args(args);
        c
    }

    /// Runs with `--json`: the exit code and the document printed.
    fn run(&self, args: &[&str]) -> (i32, Value) {
        let out = self.command(true, args).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout}"));
        (out.status.code().unwrap(), json)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (code, json) = self.run(args);
        assert_eq!(code, 0, "{args:?}: {json}");
        json
    }

    /// Runs a command that must fail with `code` and `exit`, and returns its sentence.
    fn fails(&self, args: &[&str], code: &str, exit: i32) -> String {
        let (got, json) = self.run(args);
        assert_eq!(
            (json["code"].as_str(), got),
            (Some(code), exit),
            "{args:?}: {json}"
        );
        json["message"].as_str().unwrap().to_owned()
    }

    /// What a person sees.
    fn text(&self, args: &[&str]) -> String {
        let out = self.command(false, args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sends `body` (and the PNG, with `image`) to Ada: the message's and thread's ids.
    fn send(&self, body: &str, image: bool) -> (String, String) {
        let png = self.path("label.png");
        std::fs::write(&png, PNG).unwrap();
        let mut args = vec!["send", "--to", "+14155550123", "--body", body];
        if image {
            args.extend(["--image", png.to_str().unwrap()]);
        }
        let receipt = self.ok(&args);
        let sent = &receipt["sent"][0];
        (
            sent["message_id"].to_string(),
            sent["thread_id"].to_string(),
        )
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_thread_lists_each_messages_attachments_in_json_and_in_words() {
    let cli = Cli::new();
    let (_, thread) = cli.send("The label", true);
    cli.send("And the tracking number", false);

    let shown = cli.ok(&["thread", &thread]);
    let messages = shown["messages"].as_array().unwrap();
    let (text, photo) = (&messages[0], &messages[1]);
    assert_eq!(
        photo["attachments"],
        json!([{
            "index": 0, "state": "ready", "kind": "image", "mime": "image/png",
            "bytes": PNG.len(), "width": 32, "height": 32,
        }])
    );
    assert_eq!(text["attachments"], json!([]));
    for m in messages {
        assert_eq!(m["sent_elsewhere"], false, "ours: {m}");
    }

    let words = cli.text(&["thread", &thread]);
    let id = photo["id"].to_string();
    let photo_line = words
        .lines()
        .find(|l| l.contains("The label"))
        .unwrap_or_else(|| panic!("{words}"));
    assert!(
        photo_line.contains(&format!("#{id} ")) && photo_line.contains("[Photo 32×32, 220 bytes]"),
        "{photo_line}"
    );
    assert!(!words.contains("sent elsewhere"), "{words}");
}

#[test]
fn an_attachment_is_written_byte_for_byte_and_never_over_a_file_without_force() {
    let cli = Cli::new();
    let (photo, _) = cli.send("The label", true);
    let file = cli.path("saved.png");

    let saved = cli.ok(&["attachment", &photo, "--out", path_str(&file)]);
    assert_eq!(std::fs::read(&file).unwrap(), PNG, "exactly as stored");
    assert_eq!(
        (
            &saved["kind"],
            &saved["mime"],
            &saved["bytes"],
            &saved["width"]
        ),
        (
            &json!("image"),
            &json!("image/png"),
            &json!(PNG.len()),
            &json!(32)
        )
    );

    // An existing file is kept unless --force says otherwise.
    std::fs::write(&file, b"keep me").unwrap();
    let args = [
        "attachment",
        &photo,
        "--index",
        "0",
        "--out",
        path_str(&file),
    ];
    let why = cli.fails(&args, "file_exists", 3);
    assert!(why.contains("--force"), "{why}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let mut forced = args.to_vec();
    forced.push("--force");
    cli.ok(&forced);
    assert_eq!(std::fs::read(&file).unwrap(), PNG);
    assert!(
        !cli.path("saved.png.partial").exists(),
        "no scratch file left"
    );

    let words = cli.text(&[
        "attachment",
        &photo,
        "--out",
        path_str(&cli.path("again.png")),
    ]);
    assert!(
        words.starts_with("Wrote Photo 32×32, 220 bytes (image/png) to "),
        "{words}"
    );
}

#[test]
fn what_cannot_be_written_is_refused_in_words() {
    let cli = Cli::new();
    let (photo, _) = cli.send("The label", true);
    let (text, _) = cli.send("No picture", false);
    let out = cli.path("out.png");
    let out = path_str(&out);
    let check = |args: &[&str], code: &str, exit: i32, words: &str| {
        let why = cli.fails(args, code, exit);
        assert!(why.contains(words), "{args:?}: {why}");
    };

    check(
        &["attachment", "999", "--out", out],
        "message_not_found",
        5,
        "no message 999",
    );
    check(
        &["attachment", &photo, "--index", "1", "--out", out],
        "attachment_not_found",
        5,
        "one attachment: its --index is 0",
    );
    check(
        &["attachment", &text, "--out", out],
        "attachment_not_found",
        5,
        "has no attachments",
    );
    let nowhere = cli.path("no/such/folder/out.png");
    check(
        &["attachment", &photo, "--out", path_str(&nowhere)],
        "file_unwritable",
        3,
        "cannot be written",
    );
    let folder = cli.dir.path().to_str().unwrap();
    check(
        &["attachment", &photo, "--out", folder, "--force"],
        "file_unwritable",
        3,
        "is a folder",
    );
    let (code, usage) = cli.run(&["attachment", &photo]);
    assert_eq!(
        (code, usage["code"].as_str()),
        (2, Some("usage")),
        "--out is required"
    );
    assert!(!Path::new(out).exists(), "nothing written by a refusal");
}
