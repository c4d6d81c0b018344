//! Opt-outs as a person or a script meets them with the CLI: a customer texts STOP (played by
//! `sandbox reply`), `run --once` learns it, `optouts` lists it, `send` to them alone is refused
//! with `opted_out` before anything is queued and a fan-out names them and sends to the others;
//! START lifts it. The sandbox runs as a process of its own, listing a second late, its clock
//! 90 s off ours.

use serde_json::Value;

mod support;

use support::Office;

const SALES: &str = "+14155550100";
const ADA: &str = "+14155550123";
const GRACE: &str = "+14155550124";

/// Runs the sender until `optouts` lists `count` entries (the carrier lists a second late).
fn sync_until(w: &Office, count: usize) -> Value {
    let mut listed = Value::Null;
    support::wait_for("the opt-outs to be synced", || {
        w.ok(&["run", "--once"]);
        listed = w.ok(&["optouts"]);
        listed.as_array().map(Vec::len) == Some(count)
    });
    listed
}
#[test]
fn a_customer_who_replied_stop_is_listed_left_out_and_back_after_start() {
    let w = Office::start();
    assert_eq!(w.ok(&["optouts"]), serde_json::json!([]));
    w.ok(&["sandbox", "reply", ADA, SALES, "STOP"]);
    let listed = sync_until(&w, 1);
    assert_eq!(listed[0]["number"], ADA);
    assert_eq!(listed[0]["display"], "Ada Lovelace");
    assert_eq!(listed[0]["lines"], serde_json::json!(["Sales"]));
    assert_eq!(listed[0]["source"], "keyword");
    assert_eq!(
        w.ok(&["optouts", "--line", "Support"]),
        serde_json::json!([])
    );
    assert_eq!(
        w.ok(&["optouts", "--line", "Sales"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Alone: refused in words, nothing queued.
    let alone = [
        "send",
        "--to",
        ADA,
        "--line",
        "Sales",
        "--body",
        "Sale today",
    ];
    let refused = w.fails(&alone, "opted_out");
    assert!(
        refused["message"].as_str().unwrap().contains("text START"),
        "{refused}"
    );
    assert_eq!(w.ok(&["outbox"]), serde_json::json!([]));

    // In a fan-out: Grace gets it, Ada is named.
    let receipt = w.ok(&[
        "send",
        "--to",
        ADA,
        "--to",
        GRACE,
        "--line",
        "Sales",
        "--body",
        "Sale today",
    ]);
    assert_eq!(receipt["sent"].as_array().unwrap().len(), 1);
    assert_eq!(receipt["sent"][0]["recipient"]["number"], GRACE);
    assert_eq!(receipt["left_out"][0]["display"], "Ada Lovelace");
    assert_eq!(receipt["left_out"][0]["line"], "Sales");

    // START: the list empties and a message to her is queued again.
    w.ok(&["sandbox", "reply", ADA, SALES, "start"]);
    sync_until(&w, 0);
    let receipt = w.ok(&[
        "send",
        "--to",
        ADA,
        "--line",
        "Sales",
        "--body",
        "Welcome back",
    ]);
    assert_eq!(receipt["sent"].as_array().unwrap().len(), 1);
    assert_eq!(receipt["left_out"], serde_json::json!([]));
}

#[test]
fn an_unknown_line_for_optouts_is_refused_in_words() {
    let w = Office::start();
    w.fails(&["optouts", "--line", "Marketing"], "unknown_line");
}
