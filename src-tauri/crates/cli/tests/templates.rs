//! Templates from the command line: `templates [add NAME TEXT | remove NAME]` and `send
//! --template NAME`, through the real binary's JSON output and exit codes, on a real encrypted
//! store in a temporary directory.

use std::process::Command;

use serde_json::Value;

#[allow(dead_code)]
mod support;
use support::keyed;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    /// Sales and Support; Ada and Grace default to Sales.
    fn office() -> Cli {
        let cli = Cli {
            dir: tempfile::tempdir().unwrap(),
        };
        cli.ok(&["lines", "add", "+1 415 555 0100", "Sales"]);
        cli.ok(&["lines", "add", "+1 415 555 0101", "Support"]);
        for (name, number) in [
            ("Ada Lovelace", "+1 415 555 0142"),
            ("Grace Hopper", "+1 415 555 0143"),
        ] {
            cli.ok(&[
                "contacts",
                "add",
                name,
                "--number",
                number,
                "--default-line",
                "Sales",
            ]);
        }
        cli
    }

    /// The exit code and the JSON document of one run.
    fn run(&self, args: &[&str]) -> (i32, Value) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard-cli"));
        let out = keyed(&mut command, &self.dir.path().join("key"))
            .arg("--json")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .output()
            .unwrap();
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

    /// Runs a command that must fail with `code` and `exit`; answers its message.
    fn fails(&self, args: &[&str], code: &str, exit: i32) -> String {
        let (got, json) = self.run(args);
        assert_eq!(
            (json["code"].as_str(), got),
            (Some(code), exit),
            "{args:?}: {json}"
        );
        json["message"].as_str().unwrap().to_owned()
    }

    fn names(&self) -> Vec<String> {
        let list = self.ok(&["templates"]);
        let list = list.as_array().unwrap();
        list.iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The newest message of each conversation the receipt names.
    fn bodies(&self, receipt: &Value) -> Vec<String> {
        let sent = receipt["sent"].as_array().unwrap();
        sent.iter()
            .map(|s| {
                let thread = s["thread_id"].as_i64().unwrap().to_string();
                let shown = self.ok(&["thread", &thread]);
                shown["messages"][0]["body"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

const ORDER: &str = "Hi {first_name}, your order is ready at {line}";

#[test]
fn templates_are_added_listed_and_removed_by_name() {
    let cli = Cli::office();
    assert!(cli.names().is_empty());
    let added = cli.ok(&["templates", "add", "Order ready", ORDER]);
    assert_eq!(
        (added["name"].as_str(), added["text"].as_str()),
        (Some("Order ready"), Some(ORDER))
    );
    cli.ok(&["templates", "add", "closed", "We are closed today"]);
    assert_eq!(cli.names(), ["closed", "Order ready"]);

    let taken = cli.fails(
        &["templates", "add", "ORDER READY", "x"],
        "template_exists",
        3,
    );
    assert!(taken.contains("Order ready"), "{taken}");
    let typo = cli.fails(
        &["templates", "add", "Typo", "Hi {frist_name}"],
        "template_invalid",
        3,
    );
    assert!(typo.contains("{frist_name}"), "{typo}");
    cli.fails(
        &["templates", "add", "Open", "Hi {name"],
        "template_invalid",
        3,
    );
    cli.fails(
        &["templates", "add", &"n".repeat(61), "Hi"],
        "template_invalid",
        3,
    );

    let removed = cli.ok(&["templates", "remove", "order ready"]);
    assert_eq!(removed["removed"]["name"], "Order ready");
    assert_eq!(cli.names(), ["closed"]);
    let gone = cli.fails(
        &["templates", "remove", "Order ready"],
        "template_not_found",
        5,
    );
    assert_eq!(
        gone,
        "No template is called \u{201c}Order ready\u{201d}. Your templates: closed."
    );
}

#[test]
fn send_template_fills_it_for_each_recipient() {
    let cli = Cli::office();
    cli.ok(&["templates", "add", "Order ready", ORDER]);
    let two = [
        "send",
        "--to",
        "Ada Lovelace",
        "--to",
        "Grace Hopper",
        "--template",
        "order ready",
    ];

    let mut dry = two.to_vec();
    dry.push("--dry-run");
    let preview = cli.ok(&dry);
    assert_eq!(preview["filled"], "Hi Ada, your order is ready at Sales");
    assert_eq!(
        cli.ok(&["outbox"]).as_array().unwrap().len(),
        0,
        "a dry run sends nothing"
    );

    let receipt = cli.ok(&two);
    assert_eq!(
        cli.bodies(&receipt),
        [
            "Hi Ada, your order is ready at Sales",
            "Hi Grace, your order is ready at Sales"
        ]
    );

    // A reply with a template is filled for the conversation's contact and line.
    let thread = receipt["sent"][1]["thread_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let reply = cli.ok(&["reply", &thread, "--template", "Order ready"]);
    assert_eq!(
        cli.bodies(&reply),
        ["Hi Grace, your order is ready at Sales"]
    );
}

#[test]
fn a_recipient_without_a_first_name_sends_nothing_to_anyone() {
    let cli = Cli::office();
    cli.ok(&["templates", "add", "Order ready", ORDER]);
    let args = [
        "send",
        "--to",
        "Ada Lovelace",
        "--to",
        "+1 415 555 0199",
        "--line",
        "Sales",
        "--template",
        "Order ready",
    ];
    let message = cli.fails(&args, "template_missing_value", 3);
    assert_eq!(
        message,
        "+1 415-555-0199 has no first name for {first_name}. Add a name to the contact, or take \
         the variable out of the text."
    );
    assert_eq!(cli.ok(&["outbox"]).as_array().unwrap().len(), 0);

    cli.fails(
        &[
            "send",
            "--to",
            "Ada Lovelace",
            "--template",
            "Opening hours",
        ],
        "template_not_found",
        5,
    );
    let (code, _) = cli.run(&[
        "send",
        "--to",
        "Ada Lovelace",
        "--template",
        "Order ready",
        "--body",
        "Hi",
    ]);
    assert_eq!(code, 2, "--body and --template are one or the other");
}
