//! The sandbox's quirks and faults as a person or a script switches them: `switchboard-cli
//! sandbox …` against a `sandbox serve` process, with the effect checked where a Twilio client
//! meets it, on the sandbox's Twilio API over loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod support;

use support::{SandboxProcess, BIN};

/// A data directory with its sandbox running.
struct World {
    dir: tempfile::TempDir,
    sandbox: Option<SandboxProcess>,
}

/// A Twilio API answer: status, `Date` header, JSON body.
struct Answer {
    status: u16,
    date: String,
    body: Value,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Some(SandboxProcess::serve(&dir.path().join("data")));
        World { dir, sandbox }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the sandbox process and serves the same data directory again.
    fn restart_sandbox(&mut self) {
        drop(self.sandbox.take());
        // So that the new process is waited for, not found already there.
        std::fs::remove_file(self.data().join("sandbox/endpoint.json")).unwrap();
        self.sandbox = Some(SandboxProcess::serve(&self.data()));
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--json")
            .arg("--data-dir")
            .arg(self.data())
            .args(["sandbox"])
            .args(args)
            .output()
            .unwrap()
    }

    /// `switchboard-cli --json sandbox ARGS`, which must succeed.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// A request to the sandbox's Twilio API, as the endpoint file gives it, below the account.
    fn api(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        api(&self.data(), method, path, form)
    }

    /// The bodies the API lists, newest first.
    fn listed_bodies(&self) -> Vec<String> {
        let page = self.api("GET", "/Messages.json", &[]);
        assert_eq!(page.status, 200, "{}", page.body);
        page.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn api(data: &Path, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
    let endpoint: Value =
        serde_json::from_slice(&std::fs::read(data.join("sandbox/endpoint.json")).unwrap())
            .unwrap();
    let text = |k: &str| endpoint[k].as_str().unwrap().to_owned();
    let url = format!(
        "{}/2010-04-01/Accounts/{}{path}",
        text("api_base_url"),
        text("account_sid")
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut request = http
            .request(method.parse().unwrap(), url)
            .basic_auth(text("account_sid"), Some(text("auth_token")));
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let date = response.headers()["date"].to_str().unwrap().to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, date, body }
    })
}

fn send(world: &World, body: &str) -> Answer {
    world.api(
        "POST",
        "/Messages.json",
        &[
            ("From", "+14155550100"),
            ("To", "+14155550123"),
            ("Body", body),
        ],
    )
}

#[test]
fn quirks_switched_from_the_command_line_are_shown_and_forgotten_by_a_restart() {
    let mut w = World::start();
    w.ok(&["list-lag", "30"]);
    w.ok(&["media-lag", "5"]);
    w.ok(&["trial", "on"]);
    let last = w.ok(&["clock-skew", "-90"]);
    let expected = serde_json::json!({
        "list_lag_secs": 30.0, "media_lag_secs": 5.0, "trial": true, "clock_skew_secs": -90
    });
    assert_eq!(last, expected, "each change answers all the quirks");
    assert_eq!(w.ok(&["quirks"]), expected);

    w.restart_sandbox();
    assert_eq!(
        w.ok(&["quirks"]),
        serde_json::json!({
            "list_lag_secs": 0.0, "media_lag_secs": 0.0, "trial": false, "clock_skew_secs": 0
        })
    );
}

#[test]
fn a_list_lag_hides_new_messages_from_the_api_until_it_is_lifted() {
    let w = World::start();
    w.ok(&["list-lag", "600"]);
    w.ok(&["reply", "+14155550123", "+14155550100", "Are you open?"]);
    assert_eq!(w.listed_bodies(), Vec::<String>::new());
    // The carrier has it all the same.
    let held = w.ok(&["messages"]);
    assert_eq!(held["messages"][0]["body"], "Are you open?");

    w.ok(&["list-lag", "0"]);
    assert_eq!(w.listed_bodies(), ["Are you open?"]);
}

/// The bytes at `url` on the sandbox's API, with the account's credentials.
fn api_bytes(data: &Path, url: &str) -> (String, Vec<u8>) {
    let endpoint: Value =
        serde_json::from_slice(&std::fs::read(data.join("sandbox/endpoint.json")).unwrap())
            .unwrap();
    let text = |k: &str| endpoint[k].as_str().unwrap().to_owned();
    let url = format!("{}{url}", text("api_base_url"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = http
            .get(url)
            .basic_auth(text("account_sid"), Some(text("auth_token")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (content_type, response.bytes().await.unwrap().to_vec())
    })
}

#[test]
fn a_reply_with_images_attaches_each_file_labelled_by_its_content() {
    let w = World::start();
    let png = w.dir.path().join("meter.jpg");
    let mut png_bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    png_bytes.extend((0..500u32).map(|i| (i * 7) as u8));
    std::fs::write(&png, &png_bytes).unwrap();
    let pdf = w.dir.path().join("form");
    let pdf_bytes = b"%PDF-1.4\nsigned form".to_vec();
    std::fs::write(&pdf, &pdf_bytes).unwrap();
    let sent = w.ok(&[
        "reply",
        "+14155550123",
        "+14155550100",
        "",
        "--image",
        png.to_str().unwrap(),
        "--image",
        pdf.to_str().unwrap(),
    ]);
    let sid = sent["sid"].as_str().unwrap();
    assert!(sid.starts_with("MM"), "{sent}");
    assert_eq!(sent["num_media"], "2");

    let list = w.api("GET", &format!("/Messages/{sid}/Media.json"), &[]);
    let items = list.body["media_list"].as_array().unwrap();
    let types: Vec<&str> = items
        .iter()
        .map(|m| m["content_type"].as_str().unwrap())
        .collect();
    // Labelled by content, not by the file's name.
    assert_eq!(types, ["image/png", "application/pdf"]);
    for (item, expected) in items.iter().zip([&png_bytes, &pdf_bytes]) {
        let uri = item["uri"].as_str().unwrap().trim_end_matches(".json");
        let (_, bytes) = api_bytes(&w.data(), uri);
        assert_eq!(&bytes, expected, "{uri}");
    }
}

#[test]
fn a_reply_takes_at_most_ten_images_and_only_files_it_can_read() {
    let w = World::start();
    let file = w.dir.path().join("photo.png");
    std::fs::write(&file, b"\x89PNG\r\n\x1a\nxx").unwrap();
    let mut args = vec!["reply", "+14155550123", "+14155550100", "hi"];
    for _ in 0..11 {
        args.extend(["--image", file.to_str().unwrap()]);
    }
    let out = w.cli(&args);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["message"], "A message carries at most 10 media items, not 11.",
        "{answer}"
    );
    let missing = w.cli(&[
        "reply",
        "+14155550123",
        "+14155550100",
        "hi",
        "--image",
        "/nonexistent",
    ]);
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");
    assert_eq!(w.ok(&["messages"])["messages"], serde_json::json!([]));
}

#[test]
fn a_502_after_create_is_an_error_for_a_message_the_carrier_sends() {
    let w = World::start();
    w.ok(&["fail", "502", "--after-create", "--sends-only"]);
    // Reads pass: the fault waits for a send.
    assert_eq!(w.api("GET", "/Messages.json", &[]).status, 200);
    let answer = send(&w, "Your table is ready");
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(answer.body["status"], 502);
    assert_eq!(w.listed_bodies(), ["Your table is ready"]);
    let stats = w.ok(&["stats"]);
    assert_eq!(stats["received_count"], 1);
    assert_eq!(
        stats["api_requests"], 3,
        "the read, the send, the listing: {stats}"
    );

    // Without --after-create nothing is done.
    w.ok(&["fail", "504", "--sends-only"]);
    assert_eq!(send(&w, "Not this one").status, 504);
    assert_eq!(w.ok(&["stats"])["received_count"], 1);

    let refused = w.cli(&["fail", "timeout", "--after-create"]);
    assert_eq!(refused.status.code(), Some(3), "invalid input");
}

#[test]
fn a_trial_account_and_a_skewed_clock_show_in_the_apis_answers() {
    let w = World::start();
    w.ok(&["trial", "on"]);
    w.ok(&["clock-skew", "-86400"]);
    let sent = send(&w, "See you at 3");
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(
        sent.body["body"],
        "Sent from your Twilio trial account - See you at 3"
    );
    let day_ago = switchboard_carrier::dates::now_ms() - 86_400_000;
    for date in [
        sent.date.as_str(),
        sent.body["date_created"].as_str().unwrap(),
    ] {
        let at = switchboard_carrier::dates::parse_rfc2822(date).unwrap();
        assert!((at - day_ago).abs() < 60_000, "{date} is not a day behind");
    }
}

#[test]
fn a_flood_makes_a_busy_day_the_api_lists() {
    let w = World::start();
    let flooded = w.ok(&["flood", "2000"]);
    assert_eq!(flooded["created"], 2000);
    assert_eq!(flooded["mms"], 200);
    assert_eq!(w.ok(&["stats"])["messages"], 2000);
    let page = w.api("GET", "/Messages.json?PageSize=50", &[]);
    assert_eq!(page.body["messages"].as_array().unwrap().len(), 50);
    assert!(page.body["next_page_uri"].is_string());

    let too_many = w.cli(&["flood", "100001"]);
    assert_eq!(too_many.status.code(), Some(2), "refused by the grammar");
}

#[test]
fn every_quirk_and_fault_is_explained_in_the_help() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let sandbox = help(&["sandbox"]);
    for command in [
        "list-lag",
        "media-lag",
        "trial",
        "clock-skew",
        "flood",
        "quirks",
    ] {
        assert!(sandbox.contains(command), "{command} is not listed");
    }
    assert!(sandbox.contains("memory only"), "{sandbox}");
    let check = |args: &[&str], words: &[&str]| {
        let text = help(args);
        for word in words {
            assert!(
                text.contains(word),
                "{args:?} --help does not say {word:?}:\n{text}"
            );
        }
    };
    check(&["sandbox", "list-lag"], &["SECONDS", "lookups"]);
    check(&["sandbox", "media-lag"], &["num_media"]);
    check(
        &["sandbox", "trial"],
        &["Sent from your Twilio trial account - "],
    );
    check(&["sandbox", "clock-skew"], &["negative", "Date header"]);
    check(&["sandbox", "flood"], &["24 hours", "100000"]);
    check(&["sandbox", "fail"], &["--after-create", "502", "504"]);
    check(&["sandbox", "stats"], &["api_requests"]);
    check(&["sandbox", "quirks"], &["restarted"]);
    check(
        &["sandbox", "reply"],
        &["--image <FILE>", "up to 10", "PDF"],
    );
}
