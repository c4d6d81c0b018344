//! The CLI as a person or a script uses it: the real binary on a real encrypted store in a
//! temporary directory, checked through its JSON output and exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

// Only its `keyed` here; the other process tests use the rest.
#[allow(dead_code)]
mod support;
use support::keyed;

struct Cli {
    dir: tempfile::TempDir,
}

/// What one run printed and how it ended.
struct Run {
    code: i32,
    json: Value,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("key")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run_with_key(&self, key: &Path, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard-cli"));
        let out = keyed(&mut command, key)
            .arg("--json")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout}"));
        Run {
            code: out.status.code().unwrap(),
            json,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_key(&self.key_file(), args)
    }

    /// Runs a command that must succeed and returns its JSON.
    fn ok(&self, args: &[&str]) -> Value {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.json);
        r.json
    }

    /// Runs a command that must fail with `code` and `exit`.
    fn fails(&self, args: &[&str], code: &str, exit: i32) -> Value {
        let r = self.run(args);
        assert_eq!(
            (r.json["code"].as_str(), r.code),
            (Some(code), exit),
            "{args:?}: {}",
            r.json
        );
        assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
        r.json
    }

    /// Two lines and contacts with and without defaults.
    fn office() -> Cli {
        let cli = Cli::new();
        cli.ok(&["lines", "add", "+1 415 555 0100", "Sales"]);
        cli.ok(&["lines", "add", "+1 415 555 0101", "Support"]);
        cli.ok(&[
            "contacts",
            "add",
            "Ada Lovelace",
            "--number",
            "+44 7400 123456",
            "--default-line",
            "Sales",
        ]);
        cli.ok(&[
            "contacts",
            "add",
            "Grace Hopper",
            "--number",
            "(415) 555-0143",
        ]);
        cli.ok(&[
            "contacts",
            "add",
            "Alan Turing",
            "--number",
            "415 555 0144",
            "--default-line",
            "support",
        ]);
        cli
    }
}

#[test]
fn a_message_needing_a_pick_sends_nothing_then_sends_from_the_chosen_line() {
    let cli = Cli::office();
    let three = [
        "send",
        "--to",
        "Ada Lovelace",
        "--to",
        "Grace Hopper",
        "--to",
        "Alan Turing",
        "--body",
        "We are open",
    ];
    let err = cli.fails(&three, "line_pick_required", 4);
    assert_eq!(
        err["lines"].as_array().unwrap().len(),
        2,
        "the lines to choose from are listed"
    );
    assert_eq!(cli.ok(&["outbox"]).as_array().unwrap().len(), 0);

    let mut with_line = three.to_vec();
    with_line.extend(["--line", "Support"]);
    let receipt = cli.ok(&with_line);
    assert_eq!(receipt["line"]["label"], "Support");
    assert_eq!(receipt["sent"].as_array().unwrap().len(), 3);
    assert_eq!(cli.ok(&["outbox"]).as_array().unwrap().len(), 3);
    let threads = cli.ok(&["threads", "--line", "Support"]);
    assert_eq!(threads.as_array().unwrap().len(), 3);
}

#[test]
fn a_default_line_sends_in_one_go_and_a_reply_keeps_the_threads_line() {
    let cli = Cli::office();
    let receipt = cli.ok(&[
        "send",
        "--to",
        "Ada Lovelace",
        "--body",
        "Your order shipped",
    ]);
    assert_eq!(receipt["line"]["label"], "Sales");
    let thread = receipt["sent"][0]["thread_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let reply = cli.ok(&["reply", &thread, "--body", "Tracking number follows"]);
    assert_eq!(reply["line"]["label"], "Sales");
    assert_eq!(
        reply["sent"][0]["thread_id"].as_i64().unwrap().to_string(),
        thread
    );
    let shown = cli.ok(&["thread", &thread]);
    assert_eq!(shown["messages"].as_array().unwrap().len(), 2);
    let found = cli.ok(&["search", "tracking"]);
    assert_eq!(
        found[0]["thread"]["id"].as_i64().unwrap().to_string(),
        thread
    );
}

/// A 1×1 PNG whose last pixel byte is `shade`, so that each file is a different image.
fn png(shade: u8) -> Vec<u8> {
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    // Trailing bytes after IEND are ignored by decoders; they make the files distinct.
    bytes.extend([
        0, 0, 0, 0x0d, b'I', b'D', b'A', b'T', 0x78, 0x9c, 0x63, 0, 0x01, 0, 0, 0x05, 0, 0x01,
        0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82, shade,
    ]);
    bytes
}

#[test]
fn image_is_repeatable_up_to_ten_in_the_order_given() {
    let cli = Cli::office();
    let files: Vec<String> = (0..11u8)
        .map(|i| {
            let path = cli.dir.path().join(format!("photo-{i}.png"));
            std::fs::write(&path, png(i)).unwrap();
            path.to_str().unwrap().to_owned()
        })
        .collect();
    let send = |images: &[String]| -> Vec<String> {
        let mut args: Vec<String> = ["send", "--to", "Ada Lovelace", "--line", "Sales"]
            .map(String::from)
            .to_vec();
        for image in images {
            args.extend(["--image".to_owned(), image.clone()]);
        }
        args
    };
    let args = send(&files[..3]);
    let receipt = cli.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let thread = receipt["sent"][0]["thread_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let shown = cli.ok(&["thread", &thread]);
    let attachments = shown["messages"][0]["attachments"].as_array().unwrap();
    let indexes: Vec<i64> = attachments
        .iter()
        .map(|a| a["index"].as_i64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2], "{shown}");
    for (i, a) in attachments.iter().enumerate() {
        assert_eq!(a["bytes"].as_u64(), Some(png(i as u8).len() as u64), "{a}");
    }

    let args = send(&files);
    let refused = cli.fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "too_many_images",
        3,
    );
    assert_eq!(refused["message"], "A message can carry up to 10 images.");
    std::fs::write(&files[1], "a text file, not a picture").unwrap();
    let args = send(&files[..3]);
    let refused = cli.fails(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        "not_an_image",
        3,
    );
    assert_eq!(
        refused["message"],
        "The 2nd file is not a JPEG, PNG or GIF image."
    );
    assert_eq!(cli.ok(&["outbox"]).as_array().unwrap().len(), 1);
}

#[test]
fn bad_input_is_refused_with_a_reason_and_nothing_stored_is_lost() {
    let cli = Cli::office();
    cli.ok(&["send", "--to", "Ada Lovelace", "--body", "Kept"]);
    let numbers: Vec<String> = (0..21).map(|i| format!("+1415555{:04}", 300 + i)).collect();
    let mut args = vec!["send", "--line", "Sales", "--body", "Too many"];
    for n in &numbers {
        args.extend(["--to", n.as_str()]);
    }
    cli.fails(&args, "too_many_recipients", 3);
    cli.fails(
        &["contacts", "add", "Bad", "--number", "+1 555"],
        "number_too_short",
        3,
    );
    cli.fails(
        &["send", "--to", "Nobody", "--body", "x"],
        "unknown_recipient",
        5,
    );
    cli.fails(
        &[
            "send",
            "--to",
            "Ada Lovelace",
            "--line",
            "Billing",
            "--body",
            "x",
        ],
        "unknown_line",
        5,
    );
    let fake = cli.dir.path().join("photo.png");
    std::fs::write(&fake, "this is text, not a picture").unwrap();
    cli.fails(
        &[
            "send",
            "--to",
            "Ada Lovelace",
            "--image",
            fake.to_str().unwrap(),
        ],
        "not_an_image",
        3,
    );
    cli.fails(&["thread", "999"], "thread_not_found", 5);
    // The app's limits are the engine's, so a script meets them too.
    cli.fails(&["threads", "--limit", "0"], "invalid_input", 3);
    cli.fails(&["search", &"a".repeat(201)], "invalid_input", 3);
    cli.fails(
        &["settings", "set", "default_country", "Narnia"],
        "unknown_country",
        3,
    );

    assert_eq!(cli.ok(&["outbox"]).as_array().unwrap().len(), 1);
    assert_eq!(cli.ok(&["contacts"]).as_array().unwrap().len(), 3);
}

#[test]
fn a_wrong_or_unsafe_key_never_opens_or_replaces_the_store() {
    let cli = Cli::office();
    let db = cli.data_dir().join("switchboard.db");
    let before = std::fs::read(&db).unwrap();

    let wrong = cli.dir.path().join("wrong-key");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    #[cfg(unix)]
    set_mode(&wrong, 0o600);
    let r = cli.run_with_key(&wrong, &["threads"]);
    assert_eq!(
        (r.json["code"].as_str(), r.code),
        (Some("wrong_key_or_not_a_database"), 6)
    );

    // A key file others can read (Unix modes; Windows refuses key files altogether).
    #[cfg(unix)]
    {
        set_mode(&cli.key_file(), 0o644);
        cli.fails(&["threads"], "key_file_insecure", 6);
        set_mode(&cli.key_file(), 0o600);
    }

    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database file is untouched"
    );
    assert_eq!(cli.ok(&["contacts"]).as_array().unwrap().len(), 3);
}

#[test]
fn contacts_import_reports_what_was_skipped() {
    let cli = Cli::office();
    let vcf = cli.dir.path().join("contacts.vcf");
    std::fs::write(
        &vcf,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Katherine Johnson\r\nTEL;TYPE=CELL:+1 415 555 0150\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Phone\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Again\r\nTEL:+44 7400 123456\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let report = cli.ok(&["contacts", "import", vcf.to_str().unwrap()]);
    assert_eq!(report["added"], 1);
    let codes: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["no_number", "number_already_saved"]);
}

#[test]
fn every_answer_is_one_json_document() {
    let cli = Cli::office();
    // A dry run that needs a line choice prints the error alone, with the lines to choose from.
    let err = cli.fails(
        &[
            "send",
            "--dry-run",
            "--to",
            "Ada Lovelace",
            "--to",
            "Grace Hopper",
            "--body",
            "x",
        ],
        "line_pick_required",
        4,
    );
    assert_eq!(err["lines"].as_array().unwrap().len(), 2);
    let preview = cli.ok(&[
        "send",
        "--dry-run",
        "--to",
        "Ada Lovelace",
        "--body",
        "Hi ~ there",
    ]);
    assert_eq!(preview["decision"]["line"]["label"], "Sales");
    assert_eq!(preview["sms"]["units"], 11, "~ counts as two GSM-7 septets");
    // A command line clap refuses is still answered in JSON under --json.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard-cli"))
        .args(["--json", "send", "--body", "no recipient"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["code"], "usage");
}

#[test]
fn settings_round_trip() {
    let cli = Cli::new();
    assert_eq!(cli.ok(&["settings"])["default_country"], "US");
    let s = cli.ok(&["settings", "set", "default_country", "gb"]);
    assert_eq!(s["default_country"], "GB");
    // A UK number typed without its country code now reads as British.
    let line = cli.ok(&["lines", "add", "07400 123456", "London"]);
    assert_eq!(line["number"], "+447400123456");
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard-cli"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["Exit codes", "send", "contacts", "--json", "--data-dir"] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_reader_that_stops_early_ends_the_cli_quietly() {
    // `switchboard-cli --json contacts | head -1`: the reader goes away before the answer is
    // written. The pipe's reading end is closed before the CLI starts, so the write fails for
    // sure.
    let cli = Cli::office();
    for human in [false, true] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard-cli"));
        if !human {
            command.arg("--json");
        }
        let out = keyed(&mut command, &cli.key_file())
            .arg("--data-dir")
            .arg(cli.data_dir())
            .arg("contacts")
            .env("RUST_BACKTRACE", "1")
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "human output {human}: {:?}, stderr: {stderr}",
            out.status
        );
    }
}
